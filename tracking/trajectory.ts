/**
 * A track's trajectory as the console draws it over the recorded clip: one measured box about every
 * `intervalMs` of wall clock, the first and the last always kept, never more than `maxPoints`. Bounded while the
 * track lives, not only at its end: when the kept boxes fill up, every other one goes (the first stays) and the
 * spacing doubles, so a track that stays for hours costs the same memory as one that stays for five minutes and
 * its boxes stay evenly spread over its life.
 */
import type { Box, TrajectoryPoint } from '../common/messages.js';

/** Wall-clock spacing of the kept boxes (ms): enough for an overlay at walking speed, a few hundred bytes a track. */
export const TRAJECTORY_INTERVAL_MS = 500;
/** Most boxes a trajectory holds (5 minutes at the base spacing); longer tracks are thinned evenly. */
export const TRAJECTORY_MAX_POINTS = 600;

export class TrajectorySampler {
  readonly #max: number;
  #interval: number;
  #kept: TrajectoryPoint[] = [];
  /** The latest box seen, kept or not: it ends the trajectory. */
  #last: TrajectoryPoint | null = null;

  constructor(intervalMs = TRAJECTORY_INTERVAL_MS, maxPoints = TRAJECTORY_MAX_POINTS) {
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) throw new RangeError('intervalMs must be a positive number of milliseconds');
    if (!Number.isInteger(maxPoints) || maxPoints < 3) throw new RangeError('maxPoints must be an integer of at least 3');
    this.#interval = intervalMs;
    this.#max = maxPoints;
  }

  /** A measured box at wall time `t` (ms); boxes must come in time order (a tracker's do). */
  add(t: number, box: Box): void {
    const p: TrajectoryPoint = { t, x: box.x, y: box.y, w: box.w, h: box.h };
    this.#last = p;
    const prev = this.#kept[this.#kept.length - 1];
    if (prev !== undefined && t - prev.t < this.#interval) return;
    // One place stays free for the last box.
    if (this.#kept.length >= this.#max - 1) {
      this.#kept = this.#kept.filter((_, i) => i % 2 === 0);
      this.#interval *= 2;
      const head = this.#kept[this.#kept.length - 1]!;
      if (t - head.t < this.#interval) return;
    }
    this.#kept.push(p);
  }

  /** The trajectory so far: the kept boxes and the latest one. */
  points(): TrajectoryPoint[] {
    const out = this.#kept.slice();
    const last = this.#last;
    if (last !== null && out[out.length - 1] !== last) out.push(last);
    return out;
  }
}
