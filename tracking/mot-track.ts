import { ByteTracker } from './bytetrack.js';
import type { MotRow } from './mot-io.js';
import type { TrackerOptions } from './options.js';
import type { Detection } from '../common/messages.js';

/** MOTChallenge files carry frame numbers but no times; 25 fps is the rate of most MOT15 sequences (TUD, PETS). */
export const DEFAULT_MOT_FPS = 25;

export interface MotTrackOptions {
  /** Tracker parameters over the defaults (the same defaults the live pipeline runs). */
  readonly tracker?: Partial<TrackerOptions>;
  /** The sequence's own frame rate: frame numbers become times (ms) with it, and the tracker works in time. */
  readonly fps?: number;
  /** Analyse every k-th frame only (frames 1, 1 + k, 1 + 2k...), as a live camera at fps / k. */
  readonly every?: number;
}

function positiveInteger(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer`);
}

/** MOTChallenge frames are 1-based: every k-th frame means frames 1, 1 + k, 1 + 2k... in every file. */
export const MOT_FIRST_FRAME = 1;

/** Whether `frame` is one a camera analysing every k-th frame sees (one grid for detections and ground truth). */
export function keepsFrame(frame: number, every: number): boolean {
  return (frame - MOT_FIRST_FRAME) % every === 0;
}

/**
 * The rows of the frames a camera analysing every k-th frame would see. Ground truth and tracks go through the
 * same grid, so `evaluateMot` scores the frames that were analysed and only those.
 */
export function subsampleMot(rows: readonly MotRow[], every: number): MotRow[] {
  positiveInteger(every, 'every');
  return every === 1 ? [...rows] : rows.filter((r) => keepsFrame(r.frame, every));
}

/**
 * Run the tracker over MOTChallenge detections (all taken as people) and return MOTChallenge tracks: per
 * analysed frame, every confirmed track that took a detection. Frames without detections still step the
 * tracker so that lost-track timing is right. With `every` > 1 only every k-th frame is analysed, and the output
 * keeps the sequence's own frame numbers (score it against ground truth subsampled the same way).
 */
export function trackMot(dets: readonly MotRow[], options: MotTrackOptions = {}): MotRow[] {
  const fps = options.fps ?? DEFAULT_MOT_FPS;
  if (typeof fps !== 'number' || !(fps > 0) || !Number.isFinite(fps)) throw new RangeError('fps must be a positive number');
  const every = options.every ?? 1;
  positiveInteger(every, 'every');
  const frames = new Map<number, Detection[]>();
  let first = Infinity;
  let last = -Infinity;
  for (const r of dets) {
    const list = frames.get(r.frame) ?? [];
    list.push({ box: { x: r.x, y: r.y, w: r.w, h: r.h }, score: r.conf, cls: 'person' });
    frames.set(r.frame, list);
    first = Math.min(first, r.frame);
    last = Math.max(last, r.frame);
  }
  const tracker = new ByteTracker('mot', options.tracker);
  const out: MotRow[] = [];
  // The first analysed frame is the first frame of the grid at or after the first detection.
  const start = first + ((every - ((first - MOT_FIRST_FRAME) % every)) % every);
  for (let frame = start; frame <= last; frame += every) {
    tracker.update(frame, (frame * 1000) / fps, frames.get(frame) ?? []);
    for (const t of tracker.reported()) {
      out.push({ frame: t.seq, id: t.id, x: t.box.x, y: t.box.y, w: t.box.w, h: t.box.h, conf: t.score });
    }
  }
  // Back-filled boxes belong to earlier frames: keep the file in frame order.
  return out.sort((a, b) => a.frame - b.frame || a.id - b.id);
}
