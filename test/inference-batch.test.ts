/**
 * A real batch (batched centernet backbone, per-frame batch-1 head) gives exactly the detections of running
 * the same frames one by one, and those detections are people on vtest.avi, in the frame's pixels.
 */
import test from 'ava';
import { DetectorRunner } from '../inference/index.js';
import { OBJECT_CLASSES } from '../common/messages.js';
import { vtestFrames } from './support/media.js';

test('inference - a batch equals the same frames one by one', async (t) => {
  const frames = vtestFrames(4);
  const r = await DetectorRunner.create('wasm', 'centernet', { minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES });
  try {
    const one = [];
    for (const f of frames) one.push(await r.detect(f));
    const batch = await r.detectBatch(frames);
    t.deepEqual(batch, one);
    for (const dets of one) {
      const people = dets.filter((d) => d.cls === 'person');
      // vtest's pedestrian scene has several people in every sampled frame.
      t.true(people.length >= 3, `people: ${people.length}`);
      for (const d of people) t.true(d.box.x >= 0 && d.box.y >= 0 && d.box.x + d.box.w <= 768 && d.box.y + d.box.h <= 576);
      // Walking people are taller than wide; a few boxes are partly occluded, so most, not all.
      const upright = people.filter((d) => d.box.h > 1.3 * d.box.w).length;
      t.true(upright >= 0.7 * people.length, `${upright} of ${people.length} upright`);
    }
  } finally {
    r.dispose();
  }
});
