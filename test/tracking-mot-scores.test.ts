import test from 'ava';
import { evaluateMot, trackMot } from '../tracking/index.js';
import { loadMot } from './mot-data.js';

// What the default parameters reach (one set for all sequences), less a small margin so a regression fails,
// and SORT's scores on the same detections (shared/data/mot/README.md) which they must beat.
const MARGIN = 0.005;
const CASES = [
  { seq: 'TUD-Campus', fps: 25, mota: 0.630, idf1: 0.739, sort: { mota: 0.627, idf1: 0.606 } },
  { seq: 'TUD-Stadtmitte', fps: 25, mota: 0.729, idf1: 0.809, sort: null },
  { seq: 'KITTI-17', fps: 10, mota: 0.611, idf1: 0.739, sort: { mota: 0.602, idf1: 0.711 } },
] as const;

for (const c of CASES) {
  test(`tracking - default tracker scores on ${c.seq}`, (t) => {
    // SORT's margin on TUD-Campus is 3 boxes of 359: the floor below may not drop under SORT's own score.
    const m = evaluateMot(loadMot(c.seq, 'gt.txt'), trackMot(loadMot(c.seq, 'det.txt'), { fps: c.fps }));
    t.log(`${c.seq}: MOTA ${m.mota.toFixed(3)} IDF1 ${m.idf1.toFixed(3)}`);
    t.true(m.mota >= c.mota - MARGIN, `MOTA ${m.mota}`);
    t.true(m.idf1 >= c.idf1 - MARGIN, `IDF1 ${m.idf1}`);
    if (c.sort) {
      t.true(m.mota > c.sort.mota, `MOTA ${m.mota} not above SORT ${c.sort.mota}`);
      t.true(m.idf1 > c.sort.idf1, `IDF1 ${m.idf1} not above SORT ${c.sort.idf1}`);
    }
  });
}
