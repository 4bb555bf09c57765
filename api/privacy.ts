/**
 * What a caller without the face grant sees of a person: the best shot with its head blurred. The top of a
 * person's best shot is where the head is (the detector's box is the whole body), so the upper HEAD_SHARE of the
 * thumbnail is blurred whatever a face detector would say: a miss cannot leak a face. Vehicles are left as they
 * are (a plate is not a face).
 */
import sharp from 'sharp';

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
