import test from 'ava';
import { KalmanBoxFilter } from '../tracking/kalman.js';

const close = (a: number, b: number, eps = 1e-9) => Math.abs(a - b) < eps;

test('tracking - kalman predict and update match the matrix form for one step', (t) => {
  const kf = new KalmanBoxFilter({ x: 90, y: 50, w: 20, h: 100 });
  t.deepEqual([...kf.pos], [100, 100, 0.2, 100]);
  // Initial std: 2 * h / 20 = 10 for position, 10 * h / 160 = 6.25 for velocity.
  t.true(close(kf.pp[0]!, 100));
  t.true(close(kf.vv[0]!, 39.0625));
  kf.predict();
  // P' = F P F^T + Q with F = [[1, 1], [0, 1]], Q = diag((h/20)^2, (h/160)^2).
  t.true(close(kf.pp[0]!, 100 + 39.0625 + 25));
  t.true(close(kf.pv[0]!, 39.0625));
  t.true(close(kf.vv[0]!, 39.0625 + 0.390625));
  const pp = kf.pp[0]!;
  const pv = kf.pv[0]!;
  kf.update({ x: 100, y: 50, w: 20, h: 100 }); // centre x measured at 110, 10 px right of the prediction
  const s = pp + 25; // R = (h/20)^2
  t.true(close(kf.pos[0]!, 100 + (pp / s) * 10));
  t.true(close(kf.vel[0]!, (pv / s) * 10));
  t.true(close(kf.pp[0]!, pp - (pp * pp) / s));
});

test('tracking - kalman learns a constant velocity', (t) => {
  const kf = new KalmanBoxFilter({ x: 0, y: 0, w: 40, h: 100 });
  for (let k = 1; k <= 30; k++) {
    kf.predict();
    kf.update({ x: 5 * k, y: -2 * k, w: 40, h: 100 });
  }
  t.true(Math.abs(kf.vel[0]! - 5) < 0.2, `vx ${kf.vel[0]}`);
  t.true(Math.abs(kf.vel[1]! + 2) < 0.2, `vy ${kf.vel[1]}`);
  kf.predict();
  const b = kf.box();
  t.true(Math.abs(b.x - 155) < 1 && Math.abs(b.y + 62) < 1, `predicted ${b.x},${b.y}`);
});
