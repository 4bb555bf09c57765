/**
 * What a caller without the face grant sees of a person: the best shot with its head blurred. The top of a
 * person's best shot is where the head is (the detector's box is the whole body), so the upper HEAD_SHARE of the
 * thumbnail is blurred whatever a face detector would say: a miss cannot leak a face. Vehicles are left as they
 * are (a plate is not a face).
 */
import sharp from 'sharp';
import { peopleOf } from '../common/frame-people.js';
import { ApiError } from '../common/errors.js';

/** The share of a person thumbnail's height that is blurred (head and shoulders of an upright person). */
export const HEAD_SHARE = 0.3;

export async function blurHead(jpeg: Uint8Array): Promise<Buffer> {
  const img = sharp(jpeg);
  const { width = 0, height = 0 } = await img.metadata();
  if (width < 2 || height < 2) return Buffer.from(jpeg);
  const h = Math.max(1, Math.ceil(height * HEAD_SHARE));
  // Pixelate, then blur: coarse enough that no face detail survives at any thumbnail size.
  const block = Math.max(2, Math.round(width / 6));
  const head = await sharp(jpeg).extract({ left: 0, top: 0, width, height: h })
    .resize(Math.max(1, Math.round(width / block)), Math.max(1, Math.round(h / block)), { kernel: 'nearest' })
    .resize(width, h, { kernel: 'nearest' }).blur(Math.max(1, block / 2)).toBuffer();
  return sharp(jpeg).composite([{ input: head, left: 0, top: 0 }]).jpeg({ quality: 90 }).toBuffer();
}

/** How far a frame's head band reaches beside and above a person's box (share of the box width / height): a box a little off still covers the head. */
export const HEAD_MARGIN = 0.15;

/** Pixelates and blurs one region of a raw RGB image in place of itself (the same recipe as blurHead). */
async function obscure(src: Buffer, width: number, height: number, r: { left: number; top: number; width: number; height: number }): Promise<Buffer> {
  // Blocks a quarter of the band's width (about a face's width): no face detail survives, however small the band.
  const block = Math.max(4, Math.round(r.width / 4));
  return sharp(src, { raw: { width, height, channels: 3 } }).extract(r)
    .resize(Math.max(1, Math.round(r.width / block)), Math.max(1, Math.round(r.height / block)), { kernel: 'nearest' })
    .resize(r.width, r.height, { kernel: 'nearest' }).blur(Math.max(1, block / 2)).png().toBuffer();
}

/**
 * A crowd or alarm frame for a caller without the face grant. When the frame carries its person boxes
 * (common/frame-people.ts), the head band of each (its upper HEAD_SHARE, at least 0.8 x its width, widened by HEAD_MARGIN) is pixelated
 * and blurred and the rest of the scene stays as it is; a frame that carries none is pixelated whole (coarse
 * blocks, 1/48 of its width), since nothing says where its faces are.
 */
export async function blurFrame(jpeg: Uint8Array): Promise<Buffer> {
  const people = peopleOf(jpeg);
  const decoded = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true }).catch(() => null);
  // A stored frame that does not decode cannot be blurred, so it is not shown at all.
  if (!decoded) throw new ApiError(403, 'API_FACE_GRANT_REQUIRED', 'this frame cannot be blurred for a token without the face grant');
  const { data, info } = decoded;
  const { width, height } = info;
  if (people === null) {
    const block = Math.max(4, Math.round(width / 48));
    return sharp(data, { raw: { width, height, channels: 3 } })
      .resize(Math.max(1, Math.round(width / block)), Math.max(1, Math.round(height / block)), { kernel: 'cubic' })
      .resize(width, height, { kernel: 'nearest' }).blur(block / 3).jpeg({ quality: 80 }).toBuffer();
  }
  const overlays: Array<{ input: Buffer; left: number; top: number }> = [];
  for (const b of people) {
    const left = Math.max(0, Math.floor(b.x - b.w * HEAD_MARGIN));
    const top = Math.max(0, Math.floor(b.y - b.h * HEAD_MARGIN * 0.5));
    const right = Math.min(width, Math.ceil(b.x + b.w * (1 + HEAD_MARGIN)));
    // A short box (a person cut by the frame or hidden behind someone) still has a whole head: at least 0.8 x its width.
    const bottom = Math.min(height, Math.ceil(b.y + Math.min(b.h, Math.max(b.h * HEAD_SHARE, b.w * 0.8))));
    if (right - left < 1 || bottom - top < 1) continue;
    const r = { left, top, width: right - left, height: bottom - top };
    overlays.push({ input: await obscure(data, width, height, r), left, top });
  }
  // Re-encoded either way: the output carries no comment segment and no trace of the original bytes.
  return sharp(data, { raw: { width, height, channels: 3 } }).composite(overlays).jpeg({ quality: 80 }).toBuffer();
}
