/** Best-shot thumbnails: the object's box cut from the RGB24 frame, with some context, as a small JPEG. */
import sharp from 'sharp';
import type { Box } from '../common/messages.js';

export const THUMBNAIL = {
  maxSide: 160,
  /** Extra context around the box, as a fraction of its size on each side. */
  margin: 0.1,
  quality: 80,
} as const;

export async function encodeThumbnail(rgb: Uint8Array, width: number, height: number, box: Box, maxSide: number = THUMBNAIL.maxSide): Promise<Uint8Array> {
  if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0) throw new RangeError('width and height must be positive integers');
  if (rgb.length !== width * height * 3) throw new RangeError(`rgb must hold width * height * 3 = ${width * height * 3} bytes, got ${rgb.length}`);
  if (!Number.isInteger(maxSide) || maxSide < 8) throw new RangeError('maxSide must be an integer >= 8');
  const mx = box.w * THUMBNAIL.margin;
  const my = box.h * THUMBNAIL.margin;
  const left = clamp(Math.floor(box.x - mx), 0, width - 1);
  const top = clamp(Math.floor(box.y - my), 0, height - 1);
  const right = clamp(Math.ceil(box.x + box.w + mx), left + 1, width);
  const bottom = clamp(Math.ceil(box.y + box.h + my), top + 1, height);
  const out = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .extract({ left, top, width: right - left, height: bottom - top })
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: THUMBNAIL.quality })
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}
