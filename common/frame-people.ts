/**
 * The people in an alarm frame, carried inside its JPEG: a comment segment (COM, 0xFFFE) right after the start
 * marker holds `cvcore-people:v1 ` and the person boxes of that frame (detections and live tracks, in the
 * frame's pixels) as JSON `[[x, y, w, h], ...]`. The frame then keeps its boxes wherever it is kept (the search
 * index, the cluster's snapshot bucket, the alarm log) without a field in any of them, and the API blurs their
 * heads for a caller without the face grant. Image viewers ignore comment segments; a frame without one (kept
 * before this, or whose people are not known) is blurred whole.
 */
import type { Box } from './messages.js';

const MARKER = 'cvcore-people:v1 ';
/** A comment segment holds at most 65533 bytes: far more boxes than any frame has people. */
export const MAX_FRAME_PEOPLE = 1000;

/** The JPEG with a comment segment holding `text` (latin1), inserted after SOI. */
export function withJpegComment(jpeg: Uint8Array, text: string): Buffer {
  const src = Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
  if (src.length < 2 || src[0] !== 0xff || src[1] !== 0xd8) throw new TypeError('not a JPEG (no SOI marker)');
  const body = Buffer.from(text, 'latin1');
  const seg = Buffer.alloc(4);
  seg[0] = 0xff; seg[1] = 0xfe;
  seg.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([src.subarray(0, 2), seg, body, src.subarray(2)]);
}

/**
 * The rest of the first comment segment that starts with `prefix`, or null. Reads the segments before the first
 * scan only, and never throws on a malformed file.
 */
export function jpegComment(jpeg: Uint8Array, prefix: string): string | null {
  const b = Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const type = b[i + 1]!;
    if (type === 0xda || type === 0xd9) break;
    const len = b.readUInt16BE(i + 2);
    if (len < 2 || i + 2 + len > b.length) break;
    if (type === 0xfe) {
      const text = b.subarray(i + 4, i + 2 + len).toString('latin1');
      if (text.startsWith(prefix)) return text.slice(prefix.length);
    }
    i += 2 + len;
  }
  return null;
}

/** The JPEG with a comment segment naming its person boxes (whole pixels), inserted after SOI. */
export function withPeople(jpeg: Uint8Array, people: readonly Box[]): Buffer {
  const boxes = people.slice(0, MAX_FRAME_PEOPLE).map((b) => [Math.floor(b.x), Math.floor(b.y), Math.ceil(b.w), Math.ceil(b.h)]);
  try {
    return withJpegComment(jpeg, MARKER + JSON.stringify(boxes));
  } catch {
    throw new TypeError('withPeople: not a JPEG (no SOI marker)');
  }
}

/** The person boxes a frame carries; null when it carries none (not known: treat every pixel as a face). */
export function peopleOf(jpeg: Uint8Array): Box[] | null {
  const text = jpegComment(jpeg, MARKER);
  if (text === null) return null;
  try {
    const raw = JSON.parse(text) as unknown;
    if (!Array.isArray(raw)) return null;
    const out: Box[] = [];
    for (const r of raw) {
      if (!Array.isArray(r) || r.length !== 4 || !r.every((n) => typeof n === 'number' && Number.isFinite(n))) return null;
      out.push({ x: r[0] as number, y: r[1] as number, w: r[2] as number, h: r[3] as number });
    }
    return out;
  } catch {
    return null;
  }
}
