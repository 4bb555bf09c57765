/**
 * Structuring on real images through the worker pool: the astronaut's face (one, female, adult), the red
 * motorcycle, and face embeddings that stay close under a small crop or a mirror image but not across people.
 */
import test from 'ava';
import { closeFaceEmbedder, embedFaceFromImage, InferenceEngine } from '../inference/index.js';
import { InferenceError } from '../common/errors.js';
import { OBJECT_CLASSES } from '../common/messages.js';
import { encodePng, flip, loadImage, type RgbFrame } from './support/media.js';

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

function crop(f: RgbFrame, x0: number, y0: number, w: number, h: number): RgbFrame {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) out.set(f.data.subarray(((y0 + y) * f.width + x0) * 3, ((y0 + y) * f.width + x0 + w) * 3), y * w * 3);
  return { data: out, width: w, height: h };
}

test.after.always(() => closeFaceEmbedder());

test('inference - structuring the best shot of a person and of a vehicle', async (t) => {
  const engine = await InferenceEngine.start({ backend: 'wasm', model: 'centernet', workers: 1, minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES });
  try {
    const astronaut = await loadImage('astronaut.png');
    const [people] = (await engine.run([astronaut])).detections;
    const person = people!.filter((d) => d.cls === 'person');
    t.is(person.length, 1);
    const p = await engine.structure({ ...astronaut, box: person[0]!.box, cls: 'person' });
    t.is(p.attributes.gender, 'female');
    t.true(p.attributes.age! >= 20 && p.attributes.age! <= 55, `age ${p.attributes.age}`);
    t.is(p.attributes.ageBand, '30-44');
    t.true(p.attributes.faceQuality! > 0.5, `quality ${p.attributes.faceQuality}`);
    t.is(p.embedding?.length, 1024);
    t.true(Math.abs(dot(p.embedding!, p.embedding!) - 1) < 1e-4);

    const moto = await loadImage('motorcycle_left.png');
    const [vehicles] = (await engine.run([moto])).detections;
    const m = vehicles!.find((d) => d.cls === 'motorcycle');
    t.truthy(m, JSON.stringify(vehicles));
    const v = await engine.structure({ ...moto, box: m!.box, cls: 'motorcycle' });
    t.deepEqual(v.attributes, { vehicleType: 'motorcycle', colour: 'red' });
    t.is(v.embedding, null);

    const bad = await t.throwsAsync(engine.structure({ ...moto, box: { x: 5000, y: 0, w: 10, h: 10 }, cls: 'car' }), { instanceOf: InferenceError });
    t.is((bad as InferenceError).code, 'INFERENCE_BAD_INPUT');
  } finally {
    await engine.stop();
  }
});

test('inference - embedFaceFromImage finds one face and its embedding is stable across crop and flip', async (t) => {
  const astronaut = await loadImage('astronaut.png');
  const a = await embedFaceFromImage(await encodePng(astronaut));
  t.truthy(a);
  t.is(a!.gender, 'female');
  t.true(a!.age >= 20 && a!.age <= 55, `age ${a!.age}`);
  // The face is in the upper left-centre of the 512x512 picture.
  t.true(a!.box.x > 100 && a!.box.x + a!.box.w < 320 && a!.box.y > 30 && a!.box.y + a!.box.h < 250, JSON.stringify(a!.box));
  const cropped = await embedFaceFromImage(await encodePng(crop(astronaut, 20, 10, 470, 460)));
  const mirrored = await embedFaceFromImage(await encodePng(flip(astronaut)));
  const messi = await embedFaceFromImage(await encodePng(await loadImage('messi5.jpg')));
  t.truthy(cropped && mirrored && messi);
  const sameCrop = dot(a!.embedding, cropped!.embedding);
  const sameFlip = dot(a!.embedding, mirrored!.embedding);
  const other = dot(a!.embedding, messi!.embedding);
  t.log({ sameCrop, sameFlip, other });
  t.true(sameCrop > other && sameFlip > other);
  t.true(sameCrop > 0.8, `crop ${sameCrop}`);

  const notImage = await t.throwsAsync(embedFaceFromImage(new TextEncoder().encode('not an image')), { instanceOf: InferenceError });
  t.is((notImage as InferenceError).code, 'INFERENCE_BAD_IMAGE');
});
