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

/** One box of a confirmed track as offline output (MOTChallenge rows) wants it. */
export interface ReportedBox {
  readonly id: number;
  /** The frame the box was measured in: earlier than the current one for a track's back-filled first boxes. */
  readonly seq: number;
  readonly box: Box;
  readonly score: number;
}

export interface Tracker {
  /** One analysed frame's detections (all classes; a track keeps its class; associate within the same class). at = wall ms, seq = frame number */
  update(seq: number, at: number, detections: readonly Detection[]): TrackerStep;
  /** A frame the motion gate skipped: predict only, age tracks (lost/removed timing still progresses). */
  skip(seq: number, at: number): TrackerStep;
  /** End every live track (camera stopped); returns their TrackEnd events. */
  finish(at: number): TrackEnd[];
  /**
   * Confirmed tracks that took a detection in the last step, with the measured box, plus the boxes a track took
   * while it was tentative when the last step confirmed it. For offline output (MOTChallenge rows): a live
   * consumer cannot go back in time, a file can.
   */
  reported(): ReportedBox[];
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
    for (const [ti, di] of this.#match(pool, high, 1 - o.highIou, o.fuseScore, at)) {
      const det = high[di]!;
      pool[ti]!.associate(det, seq, at, o);
      matched.add(pool[ti]!);
      usedHigh[di] = 1;
    }

    // Stage 2: doubtful detections only extend tracks that were being followed up to now; a lost track is not
    // revived by a box the detector itself barely believes.
    const following = pool.filter((t) => !matched.has(t) && t.state === TRACK_STATES.confirmed);
    for (const [ti, di] of this.#match(following, low, 1 - o.lowIou, false, at)) {
      following[ti]!.associate(low[di]!, seq, at, o);
      matched.add(following[ti]!);
    }
    for (const t of following) if (!matched.has(t)) t.state = TRACK_STATES.lost;

    // Stage 3: tentative tracks take left-over confident detections; one miss and they are gone.
    const rest = high.filter((_, k) => !usedHigh[k]);
    const usedRest = new Uint8Array(rest.length);
    for (const [ti, di] of this.#match(tentative, rest, 1 - o.tentativeIou, o.fuseScore, at)) {
      tentative[ti]!.associate(rest[di]!, seq, at, o);
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
      if (at - t.lastSeen > this.options.maxLostMs) t.state = TRACK_STATES.removed;
    }
  }

  /** How far to widen a track's and a detection's boxes (fraction of size per side): grows with the gap. */
  #buffer(t: Track, at: number): number {
    const o = this.options;
    return Math.min(o.maxBuffer, (o.bufferPerSecond * Math.max(0, at - t.lastSeen - o.lowRateMs)) / 1000);
  }

  #match(tracks: readonly Track[], dets: readonly Detection[], limit: number, fuse: boolean, at: number) {
    if (tracks.length === 0 || dets.length === 0) return [];
    // Sweep over detections sorted by left edge: only boxes whose widened x-ranges overlap can have IoU, which
    // turns the all-pairs loop into roughly linear work at a thousand boxes a frame.
    const order = dets.map((_, k) => k).sort((a, b) => dets[a]!.box.x - dets[b]!.box.x);
    const lefts = order.map((k) => dets[k]!.box.x);
    let widest = 0;
    for (const d of dets) widest = Math.max(widest, d.box.w);
    const edges: Edge[] = [];
    for (let ti = 0; ti < tracks.length; ti++) {
      const b = this.#buffer(tracks[ti]!, at);
      const tb = widen(tracks[ti]!.kf.box(), b);
      const cls = tracks[ti]!.cls;
      let lo = 0;
      let hi = order.length;
      // A detection widened by b reaches b * its width further left and right.
      const from = tb.x - widest * (1 + b);
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (lefts[mid]! < from) lo = mid + 1;
        else hi = mid;
      }
      const to = tb.x + tb.w + widest * b;
      for (let k = lo; k < order.length && lefts[k]! < to; k++) {
        const di = order[k]!;
        const d = dets[di]!;
        if (d.cls !== cls) continue;
        const overlap = iou(tb, b > 0 ? widen(d.box, b) : d.box);
        if (overlap <= 0) continue;
        const cost = 1 - (fuse ? overlap * fuseWeight(d.score, this.options.highScore) : overlap);
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
        lastSeen: t.lastSeen,
        bestShot: t.newBest && t.missed === 0,
      });
    }
    this.#tracks = live;
    return { updates, ended };
  }

  reported(): ReportedBox[] {
    const out: ReportedBox[] = [];
    for (const t of this.#tracks) {
      if (t.state !== TRACK_STATES.confirmed || t.missed !== 0) continue;
      for (const p of t.pending) out.push({ id: t.id, seq: p.seq, box: p.box, score: p.score });
      out.push({ id: t.id, seq: t.lastSeq, box: t.lastBox, score: t.score });
    }
    return out;
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
      trajectory: t.trajectory.points(),
    };
  }
}

/** A box grown by `b` of its width and height on every side (the same centre). */
function widen(box: Box, b: number): Box {
  if (b === 0) return box;
  return { x: box.x - b * box.w, y: box.y - b * box.h, w: box.w * (1 + 2 * b), h: box.h * (1 + 2 * b) };
}

export function createTracker(cameraId: string, options?: Partial<TrackerOptions>): Tracker {
  return new ByteTracker(cameraId, options);
}

/** The score ByteTrack's fused cost was designed around: its high threshold for YOLOX, whose confident boxes score 0.9. */
export const FUSE_REFERENCE_SCORE = 0.7;

/**
 * How much a detection's score weighs its overlap in the fused cost. ByteTrack multiplies IoU by the raw score,
 * which suits a detector whose `highScore` sits near 0.7. centernet's confident people score 0.35 to 0.6: a raw
 * product keeps nearly all of them under the tentative stage's 0.5, so new tracks seldom confirm, and at a low
 * detection rate people vanish from the counts. Scores are rescaled so the detector's own `highScore` lands on
 * 0.7 (for the MOT tools' calibration, 0.7, nothing changes).
 */
function fuseWeight(score: number, highScore: number): number {
  return highScore > 0 ? Math.min(1, (score * FUSE_REFERENCE_SCORE) / highScore) : 1;
}
