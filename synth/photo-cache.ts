/** Decoded photos from .cache/media, kept once per process (the set and the footage reuse a few photos many times). */
import sharp from 'sharp';
import { mediaPath } from '../common/paths.js';
import type { RgbImage } from './warp.js';

const photos = new Map<string, Promise<RgbImage>>();

export function loadPhoto(file: string): Promise<RgbImage> {
  let p = photos.get(file);
  if (!p) {
    p = (async () => {
      const { data, info } = await sharp(mediaPath(file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
    })();
    photos.set(file, p);
    p.catch(() => photos.delete(file));
  }
  return p;
}

/** `box` of `img` scaled by `scale` (Lanczos through sharp), as RGB24. */
export function cropScaled(img: RgbImage, box: { x: number; y: number; w: number; h: number }, scale: number, mirror = false): Promise<RgbImage> {
  const { width, height } = clampBox(img, box);
  return cropTo(img, box, Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)), mirror);
}

function clampBox(img: RgbImage, box: { x: number; y: number; w: number; h: number }): { left: number; top: number; width: number; height: number } {
  const left = Math.max(0, Math.floor(box.x));
  const top = Math.max(0, Math.floor(box.y));
  return { left, top, width: Math.min(img.width - left, Math.ceil(box.w)), height: Math.min(img.height - top, Math.ceil(box.h)) };
}

/** `box` of `img` resized to exactly w x h (flipped left to right when `mirror`). */
export async function cropTo(img: RgbImage, box: { x: number; y: number; w: number; h: number }, w: number, h: number, mirror = false): Promise<RgbImage> {
  const { left, top, width, height } = clampBox(img, box);
  let pipe = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extract({ left, top, width, height }).resize(w, h, { fit: 'fill', kernel: 'lanczos3' });
  if (mirror) pipe = pipe.flop();
  const { data, info } = await pipe.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}
