/**
 * The live face task and the face camera's footage, with the real detector and face models: the astronaut's face
 * from her person box (the same face the upload path finds), and faces.mp4 showing a person with a large face for
 * the seconds its truth says and nothing on the empty backdrop.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { closeFaceEmbedder, embedFaceFromImage, InferenceEngine, mayHoldFace } from '../inference/index.js';
import { InferenceError } from '../common/errors.js';
import { OBJECT_CLASSES } from '../common/messages.js';
import { mediaPath } from '../common/paths.js';
import type { FaceFootageTruth } from '../synth/index.js';
import { encodePng, loadImage, type RgbFrame } from './support/media.js';

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

/** Frames of faces.mp4 at the given seconds, as RGB24 on SharedArrayBuffers. */
function footageFrames(seconds: readonly number[], truth: FaceFootageTruth): RgbFrame[] {
  const { width: W, height: H } = truth;
  return seconds.map((s) => {
    const raw = execFileSync('ffmpeg', ['-v', 'error', '-ss', String(s), '-i', mediaPath('faces.mp4'), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: W * H * 3 + 1024 });
    const data = new Uint8Array(new SharedArrayBuffer(W * H * 3));
    data.set(raw.subarray(0, W * H * 3));
    return { data, width: W, height: H };
  });
}

let engine: InferenceEngine;
test.before(async () => {
  engine = await InferenceEngine.start({ backend: 'wasm', model: 'centernet', workers: 1, minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES, warmFaces: true });
});
test.after.always(async () => { await engine?.stop(); await closeFaceEmbedder(); });

test.serial('alarms - the live face task finds the astronaut\'s face in her person box, the same face an upload gives', async (t) => {
  const astronaut = await loadImage('astronaut.png');
  const person = (await engine.run([astronaut])).detections[0]!.filter((d) => d.cls === 'person');
  t.is(person.length, 1);
  const live = await engine.face({ ...astronaut, box: person[0]!.box });
  t.truthy(live);
  t.is(live!.embedding.length, 1024);
  t.true(live!.quality > 0.5, `quality ${live!.quality}`);
  const b = person[0]!.box;
  // Inside the head region: the top 40 % of the person box.
  t.true(live!.box.y >= b.y - 0.05 * b.h && live!.box.y + live!.box.h <= b.y + 0.45 * b.h, JSON.stringify({ face: live!.box, person: b }));
  const upload = await embedFaceFromImage(await encodePng(astronaut));
  t.true(dot(live!.embedding, upload!.embedding) > 0.9, `similarity ${dot(live!.embedding, upload!.embedding)}`);

  // A box too narrow for a 20 px face runs no model; a box outside the frame is bad input.
  t.false(mayHoldFace({ x: 10, y: 10, w: 30, h: 90 }));
  t.is(await engine.face({ ...astronaut, box: { x: 10, y: 10, w: 30, h: 90 } }), null);
  const bad = await t.throwsAsync(engine.face({ ...astronaut, box: { x: 5000, y: 0, w: 10, h: 10 } }), { instanceOf: InferenceError });
  t.is((bad as InferenceError).code, 'INFERENCE_BAD_INPUT');
});

test.serial('alarms - faces.mp4: a person with a large face while the truth says so, nothing on the empty backdrop', async (t) => {
  const truth = JSON.parse(readFileSync(mediaPath('faces.json'), 'utf8')) as FaceFootageTruth;
  t.is(truth.width, 640);
  t.is(truth.fps, 10);
  const a = truth.appearances[0]!;
  const onAt = [a.from + 0.5, (a.from + a.to) / 2, a.to - 0.5];
  const offAt = [0.5, a.to + 1, truth.seconds - 1];
  const frames = footageFrames([...onAt, ...offAt], truth);
  const { detections } = await engine.run(frames);
  const astronaut = await embedFaceFromImage(await encodePng(await loadImage('astronaut.png')));
  for (const [i, s] of onAt.entries()) {
    // Above the tracker's highScore (0.4), so the track is kept on every frame.
    const people = detections[i]!.filter((d) => d.cls === 'person' && d.score >= 0.4);
    t.is(people.length, 1, `${s} s: ${JSON.stringify(detections[i])}`);
    const live = await engine.face({ ...frames[i]!, box: people[0]!.box });
    t.truthy(live, `${s} s: no face`);
    t.true(live!.box.w > 60, `${s} s: face ${JSON.stringify(live!.box)}`);
    t.true(dot(live!.embedding, astronaut!.embedding) > 0.8, `${s} s: similarity ${dot(live!.embedding, astronaut!.embedding)}`);
  }
  for (const [k, s] of offAt.entries()) {
    const d = detections[onAt.length + k]!;
    t.deepEqual(d.filter((x) => x.cls === 'person'), [], `${s} s: ${JSON.stringify(d)}`);
  }
});
