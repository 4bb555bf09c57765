import test from 'ava';
import { parseCamera } from '../config/index.js';
import type { Frame } from '../common/messages.js';
import { MotionGate, shouldAnalyse } from '../ingest/index.js';

const W = 320;
const H = 240;
let seq = 0;
/** A mid-grey frame with optional white rectangles, in RGB24. */
const frame = (rects: readonly [number, number, number, number][] = [], noise = 0): Frame => {
  const data = new Uint8Array(W * H * 3).fill(100);
  if (noise) for (let i = 0; i < data.length; i++) data[i] = 100 + Math.round((Math.random() - 0.5) * 2 * noise);
  for (const [x0, y0, w, h] of rects) {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) data.fill(250, (y * W + x) * 3, (y * W + x) * 3 + 3);
  }
  return { cameraId: 'c', seq: seq++, pts: 0, capturedAt: Date.now(), width: W, height: H, data };
};
const motion = (extra: Record<string, unknown> = {}) => parseCamera({ id: 'c', url: 'rtsp://cam.example/x', width: W, height: H, motion: { forceEvery: 0, ...extra } }).motion;

test('ingest - motion gate skips still frames and finds a moving object where it is', (t) => {
  const gate = new MotionGate(motion(), W, H);
  t.true(gate.check(frame()).analyse, 'the first frame teaches the background and is analysed');
  for (let i = 0; i < 5; i++) t.false(gate.check(frame([], 4)).analyse, 'sensor noise is not motion');
  const v = gate.check(frame([[100, 80, 40, 60]]));
  t.true(v.analyse);
  t.false(v.forced);
  t.is(v.regions.length, 1);
  const r = v.regions[0]!;
  // The box covers the object, give or take a cleanup block (4 model pixels = 8 frame pixels here).
  t.true(Math.abs(r.x - 100) <= 8 && Math.abs(r.y - 80) <= 8, JSON.stringify(r));
  t.true(Math.abs(r.w - 40) <= 16 && Math.abs(r.h - 60) <= 16, JSON.stringify(r));
  t.is(gate.skipped, 5);
});

test('ingest - motion gate forces a detection every K frames and ignores masks and small blobs', (t) => {
  const forced = new MotionGate(motion({ forceEvery: 3 }), W, H);
  forced.check(frame());
  const seen = Array.from({ length: 6 }, () => forced.check(frame()));
  t.deepEqual(seen.map((v) => v.analyse), [false, false, true, false, false, true]);
  t.true(seen[2]!.forced);

  const masked = new MotionGate(motion({ masks: [[[80, 60], [200, 60], [200, 180], [80, 180]]] }), W, H);
  masked.check(frame());
  t.false(masked.check(frame([[100, 80, 40, 60]])).analyse, 'motion inside a mask is ignored');
  t.true(masked.check(frame([[250, 20, 40, 40]])).analyse, 'motion outside it is not');

  const coarse = new MotionGate(motion({ minArea: 0.05 }), W, H);
  coarse.check(frame());
  t.false(coarse.check(frame([[10, 10, 20, 20]])).analyse, 'a blob under minArea is not motion');
});

test('ingest - frames that never met a gate are always analysed', (t) => {
  t.true(shouldAnalyse(frame()));
  t.throws(() => new MotionGate(motion(), 0, H), { instanceOf: RangeError, message: /frameWidth/ });
});
