import type { BestShot, Box, Detection, ObjectClass, TrackState } from '../common/messages.js';
import { TRACK_STATES } from '../common/messages.js';
import { KalmanBoxFilter, type KalmanNoise } from './kalman.js';
import type { TrackerOptions } from './options.js';
import { TrajectorySampler } from './trajectory.js';

/** Best-shot quality: confident and large wins; sqrt so a huge blurry box does not beat a sharp medium one. */
export function shotQuality(score: number, box: Box): number {
  return score * Math.sqrt(Math.max(0, box.w * box.h));
}

/** One object's life inside a tracker. Internal to the stage. */
export class Track {
  readonly id: number;
  readonly cls: ObjectClass;
  readonly kf: KalmanBoxFilter;
  state: TrackState;
  score: number;
  /** Frames since birth. */
  age = 0;
  hits = 1;
  /** Frames since the last associated detection. */
  missed = 0;
  readonly firstSeen: number;
  lastSeen: number;
  /** Whether the track was ever confirmed: only those are reported and end with a TrackEnd. */
  confirmedOnce: boolean;
  bestShot: BestShot;
  /** The last associated detection's box, as measured (no filter lag). */
  lastBox: Box;
  /** The frame of the last associated detection. */
  lastSeq: number;
  /** Set when the detection of the current step became the best shot. */
  newBest = true;
  /** The boxes a tentative track took before it was confirmed (at most minHits - 1), for offline back-filling. */
  pending: { seq: number; box: Box; score: number }[] = [];
  /** Measured boxes about every 0.5 s (the record's trajectory, drawn over the clip). */
  readonly trajectory = new TrajectorySampler();
  /** The first detection's box and the step count since: the second detection seeds the velocity from them. */
  readonly #firstBox: Box;

  constructor(id: number, det: Detection, seq: number, at: number, confirmed: boolean, noise: KalmanNoise) {
    this.id = id;
    this.cls = det.cls;
    this.kf = new KalmanBoxFilter(det.box, noise);
    this.state = confirmed ? TRACK_STATES.confirmed : TRACK_STATES.tentative;
    this.confirmedOnce = confirmed;
    this.score = det.score;
    this.firstSeen = at;
    this.lastSeen = at;
    this.lastBox = det.box;
    this.lastSeq = seq;
    this.#firstBox = det.box;
    this.bestShot = { seq, at, box: det.box, score: det.score, quality: shotQuality(det.score, det.box) };
    this.trajectory.add(at, det.box);
    if (!confirmed) this.pending.push({ seq, box: det.box, score: det.score });
  }

  predict(): void {
    // A confirmed track's tentative boxes were reported in the step that confirmed it.
    if (this.state === TRACK_STATES.confirmed && this.pending.length > 0) this.pending = [];
    this.kf.predict(this.state !== TRACK_STATES.confirmed);
    this.age++;
    this.missed++;
    this.newBest = false;
  }

  /** Associate a detection. `minHits` decides when a tentative track turns confirmed. */
  associate(det: Detection, seq: number, at: number, o: Pick<TrackerOptions, 'minHits' | 'lowRateMs'>): void {
    const minHits = o.minHits;
    this.kf.update(det.box);
    if (this.hits === 1 && at - this.lastSeen > o.lowRateMs) this.kf.seedVelocity(this.#firstBox, det.box, this.age);
    this.score = det.score;
    this.hits++;
    this.missed = 0;
    this.lastSeen = at;
    this.lastBox = det.box;
    this.lastSeq = seq;
    this.trajectory.add(at, det.box);
    if (this.state === TRACK_STATES.lost) this.state = TRACK_STATES.confirmed;
    else if (this.state === TRACK_STATES.tentative) {
      if (this.hits >= minHits) {
        this.state = TRACK_STATES.confirmed;
        this.confirmedOnce = true;
      } else {
        this.pending.push({ seq, box: det.box, score: det.score });
      }
    }
    const quality = shotQuality(det.score, det.box);
    if (quality > this.bestShot.quality) {
      this.bestShot = { seq, at, box: det.box, score: det.score, quality };
      this.newBest = true;
    }
  }
}
