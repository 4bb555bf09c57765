/**
 * The arithmetic behind the clip player's box overlay, kept apart from the DOM: video time <-> wall clock through a
 * clip's spans (a clip skips the gaps in its recording, so video time is not wall-clock time minus a constant),
 * the track's box at a wall-clock time (linear between the two nearest trajectory points, none outside the track),
 * and where an object-fit: contain video really draws inside its element.
 */
import type { Box, ClipSpan, TrajectoryPoint } from './types';

/** Wall-clock ms shown at video time `videoMs`: the last span that starts at or before it. */
export function wallAt(spans: readonly ClipSpan[], videoMs: number): number | null {
  let span: ClipSpan | undefined;
  for (const s of spans) if (s.offsetMs <= videoMs) span = s; else break;
  span ??= spans[0];
  if (!span) return null;
  // Past a span's end (rounding at a seam) the frame on screen is still that span's last.
  return Math.max(span.start, Math.min(span.end, span.start + (videoMs - span.offsetMs)));
}

/** Video time (ms) at which wall-clock `wall` is shown; a time in a gap maps to the next span's first frame. */
export function videoAt(spans: readonly ClipSpan[], wall: number): number | null {
  const first = spans[0];
  if (!first) return null;
  for (const s of spans) {
    if (wall < s.start) return s.offsetMs;
    if (wall < s.end) return s.offsetMs + (wall - s.start);
  }
  const last = spans[spans.length - 1]!;
  return last.offsetMs + (last.end - last.start);
}

/**
 * The track's box at wall-clock `wall`: linear between the trajectory points either side, the nearest point's box
 * within the track's span before its first or after its last point, and none outside [start, end] (widened to the
 * trajectory's own ends, which may fall a frame outside the record's span).
 */
export function boxAt(traj: readonly TrajectoryPoint[], wall: number, start: number, end: number): Box | null {
  const first = traj[0];
  const last = traj[traj.length - 1];
  if (!first || !last) return null;
  if (wall < Math.min(start, first.t) || wall > Math.max(end, last.t)) return null;
  if (wall <= first.t) return pick(first);
  if (wall >= last.t) return pick(last);
  let lo = 0;
  let hi = traj.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (traj[mid]!.t <= wall) lo = mid; else hi = mid;
  }
  const a = traj[lo]!;
  const b = traj[hi]!;
  const k = b.t === a.t ? 0 : (wall - a.t) / (b.t - a.t);
  const mix = (p: number, q: number): number => p + (q - p) * k;
  return { x: mix(a.x, b.x), y: mix(a.y, b.y), w: mix(a.w, b.w), h: mix(a.h, b.h) };
}

function pick(p: TrajectoryPoint): Box { return { x: p.x, y: p.y, w: p.w, h: p.h }; }

/** The rectangle an object-fit: contain picture of vw x vh fills inside an element of cw x ch (letterboxed). */
export function containRect(cw: number, ch: number, vw: number, vh: number): Box {
  if (vw <= 0 || vh <= 0 || cw <= 0 || ch <= 0) return { x: 0, y: 0, w: 0, h: 0 };
  const scale = Math.min(cw / vw, ch / vh);
  const w = vw * scale;
  const h = vh * scale;
  return { x: (cw - w) / 2, y: (ch - h) / 2, w, h };
}

/**
 * A box in analysis-frame pixels drawn on the displayed picture: the analysis frame is the whole camera picture
 * scaled to `frame`, so each axis scales on its own from frame to the picture's displayed rectangle.
 */
export function toDisplay(box: Box, frame: { width: number; height: number }, picture: Box): Box {
  const sx = picture.w / frame.width;
  const sy = picture.h / frame.height;
  return { x: picture.x + box.x * sx, y: picture.y + box.y * sy, w: box.w * sx, h: box.h * sy };
}
