import { ByteTracker } from './bytetrack.js';
import type { MotRow } from './mot-io.js';
import type { TrackerOptions } from './options.js';
import type { Detection } from '../common/messages.js';

/** Nominal frame interval for MOT files, which carry frame numbers but no times. */
const MOT_FRAME_MS = 40;

/**
 * Run the tracker over MOTChallenge detections (all taken as people) and return MOTChallenge tracks: per frame,
 * every confirmed track that took a detection, with its filtered box. Frames without detections still step the
 * tracker so that lost-track timing is right.
 */
export function trackMot(dets: readonly MotRow[], options: Partial<TrackerOptions> = {}): MotRow[] {
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
  const tracker = new ByteTracker('mot', options);
  const out: MotRow[] = [];
  for (let frame = first; frame <= last; frame++) {
    tracker.update(frame, frame * MOT_FRAME_MS, frames.get(frame) ?? []);
    for (const t of tracker.reported()) {
      out.push({ frame, id: t.id, x: t.box.x, y: t.box.y, w: t.box.w, h: t.box.h, conf: t.score });
    }
  }
  return out;
}
