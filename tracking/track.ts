import type { BestShot, Box, Detection, ObjectClass, TrackState } from '../common/messages.js';
import { TRACK_STATES } from '../common/messages.js';
import { KalmanBoxFilter, type KalmanNoise } from './kalman.js';

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
  /** Set when the detection of the current step became the best shot. */
  newBest = true;

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
    this.bestShot = { seq, at, box: det.box, score: det.score, quality: shotQuality(det.score, det.box) };
  }

  predict(): void {
    this.kf.predict(this.state !== TRACK_STATES.confirmed);
    this.age++;
    this.missed++;
    this.newBest = false;
  }

  /** Associate a detection. `minHits` decides when a tentative track turns confirmed. */
  associate(det: Detection, seq: number, at: number, minHits: number): void {
    this.kf.update(det.box);
    this.score = det.score;
    this.hits++;
    this.missed = 0;
    this.lastSeen = at;
    this.lastBox = det.box;
    if (this.state === TRACK_STATES.lost) this.state = TRACK_STATES.confirmed;
    else if (this.state === TRACK_STATES.tentative && this.hits >= minHits) {
      this.state = TRACK_STATES.confirmed;
      this.confirmedOnce = true;
    }
    const quality = shotQuality(det.score, det.box);
    if (quality > this.bestShot.quality) {
      this.bestShot = { seq, at, box: det.box, score: det.score, quality };
      this.newBest = true;
    }
  }
}
