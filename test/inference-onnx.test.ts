/**
 * The onnx backend against the tfjs one: the backbone translated at set-up (models/onnx-convert.ts) runs in
 * onnxruntime, resizing and the head in JS; on real vtest.avi frames the detections must be tfjs's (same
 * classes and count, boxes and scores equal to float rounding) at the model's size and at a smaller one, and a
 * batch must give what single frames give.
 */
import test from 'ava';
import { ModelError } from '../common/errors.js';
import { OBJECT_CLASSES } from '../common/messages.js';
import { DetectorRunner, OnnxDetectorRunner, iou } from '../inference/index.js';
import { vtestFrames } from './support/media.js';

const opts = { minScore: 0.2, iouThreshold: 0.5, classes: OBJECT_CLASSES };
const frames = vtestFrames(4, 60);

for (const size of [512, 320]) {
  test(`inference - onnx gives tfjs's detections at ${size}x${size}`, async (t) => {
    const tf = await DetectorRunner.create('wasm', 'centernet', opts, size);
    const ox = await OnnxDetectorRunner.create('centernet', opts, size);
    try {
      let compared = 0;
      for (const f of frames) {
        const a = await tf.detect(f);
        const b = await ox.detect(f);
        t.is(b.length, a.length);
        a.forEach((d, i) => {
          const e = b[i]!;
          t.is(e.cls, d.cls);
          t.true(Math.abs(e.score - d.score) < 1e-3, `score ${e.score} vs ${d.score}`);
          for (const k of ['x', 'y', 'w', 'h'] as const) t.true(Math.abs(e.box[k] - d.box[k]) < 0.05, `${k} ${e.box[k]} vs ${d.box[k]}`);
          compared++;
        });
      }
      t.true(compared > 20, `${compared} detections compared`);
      const batch = await ox.detectBatch(frames);
      for (let i = 0; i < frames.length; i++) t.deepEqual(batch[i], await ox.detect(frames[i]!));
    } finally {
      tf.dispose();
      ox.dispose();
    }
  });
}

test('inference - onnx detects inside a crop at a smaller input and maps boxes back to the frame', async (t) => {
  const ox = await OnnxDetectorRunner.create('centernet', opts, 512);
  try {
    const f = frames[1]!;
    const whole = (await ox.detect(f)).filter((d) => d.cls === 'person' && d.score > 0.5);
    t.true(whole.length > 0);
    const p = whole[0]!.box;
    const crop = { x: Math.max(0, Math.round(p.x - p.w)), y: Math.max(0, Math.round(p.y - p.h / 2)), w: Math.round(3 * p.w), h: Math.round(2 * p.h) };
    const inCrop = await ox.detectBatch([{ ...f, crop }, f]);
    const dets = inCrop[0]!;
    t.deepEqual(inCrop[1], await ox.detect(f), 'frames without a crop in the same batch are unaffected');
    for (const d of dets) {
      t.true(d.box.x >= crop.x - 1 && d.box.y >= crop.y - 1 && d.box.x + d.box.w <= crop.x + crop.w + 1 && d.box.y + d.box.h <= crop.y + crop.h + 1, `box ${JSON.stringify(d.box)} outside the crop`);
    }
    const same = dets.find((d) => d.cls === 'person' && iou(d.box, p) > 0.6);
    t.truthy(same, `the person at ${JSON.stringify(p)} is found in its crop: ${JSON.stringify(dets.map((d) => d.box))}`);
  } finally {
    ox.dispose();
  }
});

test('inference - onnx refuses a translated model file that does not match the manifest', async (t) => {
  const err = await t.throwsAsync(OnnxDetectorRunner.create('centernet', opts, 512, '/nonexistent-models-dir'), { instanceOf: ModelError });
  t.is((err as ModelError).code, 'MODEL_FILE_MISSING');
});
