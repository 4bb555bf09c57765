/**
 * Checks an uploaded image before any model sees it (face search, watch-list photos): raster formats only, by
 * magic bytes (no SVG, no PDF), a header that decodes, and a bounded pixel count.
 */
import sharp, { type Metadata } from 'sharp';
import { ApiError } from '../common/errors.js';

/** Upload formats accepted, by magic bytes. */
const IMAGE_MAGIC: ReadonlyArray<{ format: string; test: (b: Uint8Array) => boolean }> = [
  { format: 'jpeg', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { format: 'png', test: (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a },
  { format: 'webp', test: (b) => Buffer.from(b.subarray(0, 4)).toString('latin1') === 'RIFF' && Buffer.from(b.subarray(8, 12)).toString('latin1') === 'WEBP' },
];
/** A small file can still decode to a huge bitmap; this bounds what the embedder is asked to decode. */
export const MAX_UPLOAD_PIXELS = 40_000_000;

/**
 * The upload's format and size; 415 API_UNSUPPORTED_MEDIA when it is not a JPEG, PNG or WebP that decodes, 413
 * API_PAYLOAD_TOO_LARGE over MAX_UPLOAD_PIXELS. `what` names the upload in messages ("the upload", "photo 2 of 3").
 */
export async function checkImageUpload(bytes: Uint8Array, what = 'the upload'): Promise<{ format: string; width: number; height: number }> {
  const format = IMAGE_MAGIC.find((m) => m.test(bytes))?.format;
  if (!format) throw new ApiError(415, 'API_UNSUPPORTED_MEDIA', `${what} is not a JPEG, PNG or WebP image`);
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (cause) {
    throw new ApiError(415, 'API_UNSUPPORTED_MEDIA', `${what} looks like ${format} but does not decode`, { cause });
  }
  if (!meta.width || !meta.height) throw new ApiError(415, 'API_UNSUPPORTED_MEDIA', `${what} looks like ${format} but has no size`);
  if (meta.width * meta.height > MAX_UPLOAD_PIXELS) {
    throw new ApiError(413, 'API_PAYLOAD_TOO_LARGE', `${what === 'the upload' ? 'the image' : what} is ${meta.width}x${meta.height}; at most ${MAX_UPLOAD_PIXELS} pixels are accepted`);
  }
  return { format, width: meta.width, height: meta.height };
}
