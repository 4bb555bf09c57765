import type { Box, Detection, TrackEnd, TrackUpdate } from '../common/messages.js';
import { TRACK_STATES } from '../common/messages.js';
import { solveWithLimit, type Edge } from './assignment.js';
import { iou } from './iou.js';
import { resolveTrackerOptions, type TrackerOptions } from './options.js';
import { Track } from './track.js';

export interface TrackerStep {
  readonly updates: readonly TrackUpdate[];
  readonly ended: readonly TrackEnd[];
}

export interface Tracker {
  /** One analysed frame's detections (all classes; a track keeps its class; associate within the same class). at = wall ms, seq = frame number */
  update(seq: number, at: number, detections: readonly Detection[]): TrackerStep;
  /** A frame the motion gate skipped: predict only, age tracks (lost/removed timing still progresses). */
  skip(seq: number, at: number): TrackerStep;
  /** End every live track (camera stopped); returns their TrackEnd events. */
  finish(at: number): TrackEnd[];
  /** Live tracks (tentative, confirmed and lost). */
  readonly size: number;
}

// Frame-interval smoothing for the px/s velocity: steady against jitter, quick enough to follow a fps change.
const INTERVAL_SMOOTHING = 0.1;

/**
 * ByteTrack-style tracker for one camera: Kalman prediction, then high-score detections are matched against
 * confirmed and lost tracks, low-score detections rescue still unmatched confirmed tracks (occlusion lowers
 * scores, and dropping those boxes is what breaks identities), tentative tracks take what is left, and only
 * confident leftovers start new tracks.
 */
export class ByteTracker implements Tracker {
  readonly cameraId: string;
  readonly options: TrackerOptions;
  #tracks: Track[] = [];
  #nextId = 1;
  #frames = 0;
  #lastAt: number | null = null;
  #intervalMs = 0;

  constructor(cameraId: string, options: Partial<TrackerOptions> = {}) {
    this.cameraId = cameraId;
    this.options = resolveTrackerOptions(options);
  }

  get size(): number {
    return this.#tracks.length;
  }

  update(seq: number, at: number, detections: readonly Detection[]): TrackerStep {
    const o = this.options;
    const first = this.#frames === 0;
    this.#advance(at);
    const high: Detection[] = [];
    const low: Detection[] = [];
    for (const d of detections) {
      if (d.score >= o.highScore) high.push(d);
      else if (d.score >= o.lowScore) low.push(d);
    }

    // Tracks #advance just removed for missing too long must not take a detection back.
    const pool = this.#tracks.filter((t) => t.state === TRACK_STATES.confirmed || t.state === TRACK_STATES.lost);
    const tentative = this.#tracks.filter((t) => t.state === TRACK_STATES.tentative);

    // Stage 1: confident detections against every track that has been real (confirmed or lost).
    const usedHigh = new Uint8Array(high.length);
    const matched = new Set<Track>();
    for (const [ti, di] of this.#match(pool, high, 1 - o.highIou, o.fuseScore)) {
      const det = high[di]!;
      pool[ti]!.associate(det, seq, at, o.minHits);
      matched.add(pool[ti]!);
      usedHigh[di] = 1;
    }

    // Stage 2: doubtful detections only extend tracks that were being followed up to now; a lost track is not
    // revived by a box the detector itself barely believes.
    const following = pool.filter((t) => !matched.has(t) && t.state === TRACK_STATES.confirmed);
    for (const [ti, di] of this.#match(following, low, 1 - o.lowIou, false)) {
      following[ti]!.associate(low[di]!, seq, at, o.minHits);
      matched.add(following[ti]!);
    }
    for (const t of following) if (!matched.has(t)) t.state = TRACK_STATES.lost;

    // Stage 3: tentative tracks take left-over confident detections; one miss and they are gone.
    const rest = high.filter((_, k) => !usedHigh[k]);
    const usedRest = new Uint8Array(rest.length);
    for (const [ti, di] of this.#match(tentative, rest, 1 - o.tentativeIou, o.fuseScore)) {
      tentative[ti]!.associate(rest[di]!, seq, at, o.minHits);
      matched.add(tentative[ti]!);
      usedRest[di] = 1;
    }
    for (const t of tentative) if (!matched.has(t)) t.state = TRACK_STATES.removed;

    rest.forEach((det, k) => {
      if (usedRest[k] || det.score < o.newTrackScore) return;
      const confirmed = (first && o.confirmFirstFrame) || o.minHits <= 1;
      this.#tracks.push(
        new Track(this.#nextId++, det, seq, at, confirmed, { positionWeight: o.positionNoise, velocityWeight: o.velocityNoise }),
      );
    });
    return this.#collect(at);
  }

  skip(_seq: number, at: number): TrackerStep {
    this.#advance(at);
    return this.#collect(at);
  }

  finish(_at: number): TrackEnd[] {
    const ended: TrackEnd[] = [];
    for (const t of this.#tracks) {
      if (t.confirmedOnce) ended.push(this.#end(t));
      t.state = TRACK_STATES.removed;
    }
    this.#tracks = [];
    return ended;
  }

  /** Predict every track one frame ahead and remove those lost for too long. */
  #advance(at: number): void {
    this.#frames++;
    if (this.#lastAt !== null && at > this.#lastAt) {
      const dt = at - this.#lastAt;
      this.#intervalMs = this.#intervalMs === 0 ? dt : this.#intervalMs + INTERVAL_SMOOTHING * (dt - this.#intervalMs);
    }
    this.#lastAt = at;
    for (const t of this.#tracks) {
      t.predict();
      if (t.missed > this.options.maxLostFrames) t.state = TRACK_STATES.removed;
    }
  }

  #match(tracks: readonly Track[], dets: readonly Detection[], limit: number, fuse: boolean) {
    if (tracks.length === 0 || dets.length === 0) return [];
    // Sweep over detections sorted by left edge: only boxes whose x-ranges overlap can have IoU, which turns the
    // all-pairs loop into roughly linear work at a thousand boxes a frame.
    const order = dets.map((_, k) => k).sort((a, b) => dets[a]!.box.x - dets[b]!.box.x);
    const lefts = order.map((k) => dets[k]!.box.x);
    let widest = 0;
    for (const d of dets) widest = Math.max(widest, d.box.w);
    const edges: Edge[] = [];
    for (let ti = 0; ti < tracks.length; ti++) {
      const tb = tracks[ti]!.kf.box();
      const cls = tracks[ti]!.cls;
      let lo = 0;
      let hi = order.length;
      const from = tb.x - widest;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (lefts[mid]! < from) lo = mid + 1;
        else hi = mid;
      }
      for (let k = lo; k < order.length && lefts[k]! < tb.x + tb.w; k++) {
        const di = order[k]!;
        const d = dets[di]!;
        if (d.cls !== cls) continue;
        const overlap = iou(tb, d.box);
        if (overlap <= 0) continue;
        const cost = 1 - (fuse ? overlap * d.score : overlap);
        if (cost < limit) edges.push({ row: ti, col: di, cost });
      }
    }
    return solveWithLimit(tracks.length, dets.length, edges, limit);
  }

  #collect(at: number): TrackerStep {
    const updates: TrackUpdate[] = [];
    const ended: TrackEnd[] = [];
    const perSecond = this.#intervalMs > 0 ? 1000 / this.#intervalMs : 0;
    const live: Track[] = [];
    for (const t of this.#tracks) {
      if (t.state === TRACK_STATES.removed) {
        // A tentative track that never confirmed was clutter: no update, no end event.
        if (!t.confirmedOnce) continue;
        ended.push(this.#end(t));
      } else {
        live.push(t);
      }
      updates.push({
        cameraId: this.cameraId,
        trackId: t.id,
        cls: t.cls,
        box: t.kf.box(),
        velocity: { vx: t.kf.vel[0]! * perSecond, vy: t.kf.vel[1]! * perSecond },
        score: t.score,
        age: t.age,
        state: t.state,
        at,
        bestShot: t.newBest && t.missed === 0,
      });
    }
    this.#tracks = live;
    return { updates, ended };
  }

  /**
   * Confirmed tracks that took a detection in the last step, as MOTChallenge output wants them (a track that
   * is only coasting on its prediction is not reported), with the measured box: the filtered one lags behind
   * when the camera itself moves. Not part of the Tracker interface.
   */
  reported(): { id: number; box: Box; score: number }[] {
    return this.#tracks
      .filter((t) => t.state === TRACK_STATES.confirmed && t.missed === 0)
      .map((t) => ({ id: t.id, box: t.lastBox, score: t.score }));
  }

  #end(t: Track): TrackEnd {
    return {
      cameraId: this.cameraId,
      trackId: t.id,
      cls: t.cls,
      firstSeen: t.firstSeen,
      lastSeen: t.lastSeen,
      hits: t.hits,
      bestShot: t.bestShot,
    };
  }
}

export function createTracker(cameraId: string, options?: Partial<TrackerOptions>): Tracker {
  return new ByteTracker(cameraId, options);
}
