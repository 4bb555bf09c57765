import test from 'ava';
import type { Detection } from '../common/messages.js';
import { combineMot, createTracker, evaluateMot, subsampleMot, trackMot, type MotMetrics } from '../tracking/index.js';
import { loadMot } from './mot-data.js';

// A live camera is analysed at 3 to 5 fps; the MOT sequences are 25 fps (TUD) and 10 fps (KITTI). Keeping every
// k-th frame of the detections and of the ground truth is what such a camera sees. One parameter set (the
// defaults) for every sequence and rate.
const SEQUENCES = [
  { seq: 'TUD-Campus', fps: 25 },
  { seq: 'TUD-Stadtmitte', fps: 25 },
  { seq: 'KITTI-17', fps: 10 },
] as const;

function score(seq: string, fps: number, every: number): MotMetrics {
  return evaluateMot(subsampleMot(loadMot(seq, 'gt.txt'), every), trackMot(loadMot(seq, 'det.txt'), { fps, every }));
}

for (const target of [5, 3] as const) {
  test(`tracking - at ${target} fps the tracker stays close to its full-rate scores`, (t) => {
    const full: MotMetrics[] = [];
    const low: MotMetrics[] = [];
    for (const s of SEQUENCES) {
      const every = Math.round(s.fps / target);
      const f = score(s.seq, s.fps, 1);
      const l = score(s.seq, s.fps, every);
      t.log(`${s.seq} every ${every}: MOTA ${f.mota.toFixed(3)} -> ${l.mota.toFixed(3)}, recall ${f.recall.toFixed(3)} -> ${l.recall.toFixed(3)}`);
      // TUD-Campus keeps 9 frames at 3 fps, and 15 at 5 fps: each sequence gets a wide bound, the pool a tight one.
      t.true(l.mota >= f.mota - 0.17, `${s.seq}: MOTA ${l.mota} at every ${every} vs ${f.mota}`);
      t.true(l.recall >= f.recall - 0.07, `${s.seq}: recall ${l.recall} at every ${every} vs ${f.recall}`);
      full.push(f);
      low.push(l);
    }
    const F = combineMot(full);
    const L = combineMot(low);
    t.log(`overall: MOTA ${F.mota.toFixed(3)} -> ${L.mota.toFixed(3)}, IDF1 ${F.idf1.toFixed(3)} -> ${L.idf1.toFixed(3)}`);
    t.true(L.mota >= F.mota - (target === 5 ? 0.05 : 0.08), `overall MOTA ${L.mota} vs ${F.mota}`);
    t.true(L.idf1 >= F.idf1 - 0.06, `overall IDF1 ${L.idf1} vs ${F.idf1}`);
  });
}

test('tracking - a walker whose boxes no longer overlap between frames keeps one id at 3 fps', (t) => {
  const tracker = createTracker('cam');
  const ids = new Set<number>();
  // 40 px wide, 30 px further right every 333 ms: consecutive boxes overlap by a quarter (IoU 0.14).
  for (let k = 0; k < 12; k++) {
    const d: Detection = { box: { x: 50 + 30 * k, y: 100, w: 40, h: 100 }, score: 0.9, cls: 'person' };
    for (const u of tracker.update(k, k * 333, [d]).updates) if (u.state === 'confirmed') ids.add(u.trackId);
  }
  t.deepEqual([...ids], [1]);
});

test('tracking - reported() back-fills the boxes a track took before it was confirmed', (t) => {
  const tracker = createTracker('cam');
  tracker.update(0, 0, []);
  tracker.update(1, 200, [{ box: { x: 10, y: 10, w: 40, h: 100 }, score: 0.9, cls: 'person' }]);
  t.deepEqual(tracker.reported(), [], 'a tentative track is not reported yet');
  tracker.update(2, 400, [{ box: { x: 20, y: 10, w: 40, h: 100 }, score: 0.9, cls: 'person' }]);
  t.deepEqual(tracker.reported().map((r) => r.seq), [1, 2]);
  tracker.update(3, 600, [{ box: { x: 30, y: 10, w: 40, h: 100 }, score: 0.9, cls: 'person' }]);
  t.deepEqual(tracker.reported().map((r) => r.seq), [3], 'back-filled once');
});

test('tracking - a detector whose confident people score 0.4 still confirms new tracks (scores fused relative to highScore)', (t) => {
  // centernet's calibration: highScore 0.35. A raw score x IoU product would stay under the tentative stage's 0.5.
  const tracker = createTracker('cam', { highScore: 0.35, lowScore: 0.2, newTrackScore: 0.35 });
  let confirmed = 0;
  for (let k = 0; k < 6; k++) {
    const d: Detection = { box: { x: 100 + 12 * k, y: 100, w: 40, h: 100 }, score: 0.4, cls: 'person' };
    confirmed = tracker.update(k, k * 200, [d]).updates.filter((u) => u.state === 'confirmed').length;
  }
  t.is(confirmed, 1);
});
