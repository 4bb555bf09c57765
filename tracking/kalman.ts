import type { Box } from '../common/messages.js';

/**
 * Constant-velocity Kalman filter over (centre x, centre y, aspect w/h, height) and their per-frame velocities.
 * Process and measurement noise are diagonal and each position only drives its own velocity, so the 8x8
 * covariance stays block-diagonal: four independent 2x2 filters give the exact same result as the full matrix
 * form without a matrix library, and without the allocations that would dominate at 1000 objects a frame.
 * Noise scales with the box height so that big (near) and small (far) objects get comparable gating.
 */
export interface KalmanNoise {
  /** Position noise as a fraction of box height per frame. */
  readonly positionWeight: number;
  /** Velocity noise as a fraction of box height per frame. */
  readonly velocityWeight: number;
}

export const DEFAULT_KALMAN_NOISE: KalmanNoise = Object.freeze({ positionWeight: 1 / 20, velocityWeight: 1 / 160 });

// The aspect ratio changes slowly and is not proportional to height: fixed small noise for it.
const ASPECT_POS_STD = 1e-2;
const ASPECT_VEL_STD = 1e-5;
const ASPECT_MEAS_STD = 1e-1;

export class KalmanBoxFilter {
  /** State: [cx, cy, a, h] positions then [vcx, vcy, va, vh] per-frame velocities. */
  readonly pos = new Float64Array(4);
  readonly vel = new Float64Array(4);
  /** Per-dimension covariance blocks [[pp, pv], [pv, vv]]. */
  readonly pp = new Float64Array(4);
  readonly pv = new Float64Array(4);
  readonly vv = new Float64Array(4);
  readonly #noise: KalmanNoise;

  constructor(box: Box, noise: KalmanNoise = DEFAULT_KALMAN_NOISE) {
    this.#noise = noise;
    const h = Math.max(box.h, 1e-6);
    this.pos[0] = box.x + box.w / 2;
    this.pos[1] = box.y + box.h / 2;
    this.pos[2] = box.w / h;
    this.pos[3] = h;
    const sp = 2 * noise.positionWeight * h;
    const sv = 10 * noise.velocityWeight * h;
    for (const k of [0, 1, 3]) {
      this.pp[k] = sp * sp;
      this.vv[k] = sv * sv;
    }
    this.pp[2] = (2 * ASPECT_POS_STD) ** 2;
    this.vv[2] = (10 * ASPECT_VEL_STD) ** 2;
  }

  /** Advance one frame. `freezeHeightVelocity` stops a lost track from shrinking or growing without evidence. */
  predict(freezeHeightVelocity = false): void {
    if (freezeHeightVelocity) this.vel[3] = 0;
    const h = this.pos[3]!;
    const qp = (this.#noise.positionWeight * h) ** 2;
    const qv = (this.#noise.velocityWeight * h) ** 2;
    for (let k = 0; k < 4; k++) {
      const a = this.pp[k]!;
      const b = this.pv[k]!;
      const c = this.vv[k]!;
      this.pos[k]! += this.vel[k]!;
      this.pp[k] = a + 2 * b + c + (k === 2 ? ASPECT_POS_STD ** 2 : qp);
      this.pv[k] = b + c;
      this.vv[k] = c + (k === 2 ? ASPECT_VEL_STD ** 2 : qv);
    }
  }

  /** Correct with a measured box. */
  update(box: Box): void {
    const h = this.pos[3]!;
    const r = (this.#noise.positionWeight * h) ** 2;
    const bh = Math.max(box.h, 1e-6);
    const z0 = box.x + box.w / 2;
    const z1 = box.y + box.h / 2;
    const z2 = box.w / bh;
    const z3 = bh;
    for (let k = 0; k < 4; k++) {
      const z = k === 0 ? z0 : k === 1 ? z1 : k === 2 ? z2 : z3;
      const a = this.pp[k]!;
      const b = this.pv[k]!;
      const s = a + (k === 2 ? ASPECT_MEAS_STD ** 2 : r);
      const kp = a / s;
      const kv = b / s;
      const y = z - this.pos[k]!;
      this.pos[k]! += kp * y;
      this.vel[k]! += kv * y;
      this.pp[k] = a - (a * a) / s;
      this.pv[k] = b - (a * b) / s;
      this.vv[k] = this.vv[k]! - (b * b) / s;
    }
  }

  /**
   * Seed the velocity from two measurements `steps` predictions apart. A track born from one box has no
   * velocity, and the filter's gain would take several frames to learn it: at a low frame rate those are the
   * frames in which the person walks out of the predicted box. The first displacement is the best estimate.
   */
  seedVelocity(from: Box, to: Box, steps: number): void {
    if (!(steps >= 1)) return;
    this.vel[0] = (to.x + to.w / 2 - (from.x + from.w / 2)) / steps;
    this.vel[1] = (to.y + to.h / 2 - (from.y + from.h / 2)) / steps;
  }

  /** Current box estimate. */
  box(): Box {
    const h = this.pos[3]!;
    const w = this.pos[2]! * h;
    return { x: this.pos[0]! - w / 2, y: this.pos[1]! - h / 2, w, h };
  }
}
