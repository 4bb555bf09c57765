import test from 'ava';
import { MIN_CROP_SIDE, motionCrop, type MotionVerdict } from '../ingest/index.js';

const verdict = (regions: MotionVerdict['regions'], forced = false): MotionVerdict => ({ analyse: true, forced, regions });

test('ingest - the motion crop is the union of the regions grown by the margin, clamped to the frame', (t) => {
  const crop = motionCrop(verdict([{ x: 100, y: 100, w: 40, h: 100 }, { x: 180, y: 120, w: 40, h: 100 }]), 640, 480, 0.25, 0.5);
  // Union 100..220 x 100..220 (120 x 120), grown by a quarter of its size on each side: 180 x 180 around its centre.
  t.deepEqual(crop, { x: 70, y: 70, w: 180, h: 180 });
  const edge = motionCrop(verdict([{ x: 0, y: 440, w: 20, h: 40 }]), 640, 480, 0.25, 0.5);
  t.deepEqual(edge, { x: 0, y: 480 - MIN_CROP_SIDE, w: MIN_CROP_SIDE, h: MIN_CROP_SIDE }, 'small motion gets the smallest crop, inside the frame');
});

test('ingest - no crop for still, forced or widespread motion', (t) => {
  t.is(motionCrop(verdict([]), 640, 480, 0.25, 0.5), null);
  t.is(motionCrop(verdict([{ x: 100, y: 100, w: 40, h: 100 }], true), 640, 480, 0.25, 0.5), null, 'forced frames re-detect the whole frame');
  t.is(motionCrop({ analyse: false, forced: false, regions: [{ x: 1, y: 1, w: 5, h: 5 }] }, 640, 480, 0.25, 0.5), null);
  t.is(motionCrop(verdict([{ x: 0, y: 0, w: 100, h: 100 }, { x: 500, y: 380, w: 100, h: 100 }]), 640, 480, 0.25, 0.5), null, 'motion at both ends covers most of the frame');
});
