/** Real sample images and vtest.avi frames as RGB24 in SharedArrayBuffers, the way ingest hands frames over. */
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { mediaPath } from '../../common/paths.js';

export interface RgbFrame { readonly data: Uint8Array; readonly width: number; readonly height: number }

const shared = (bytes: Uint8Array): Uint8Array => {
  const out = new Uint8Array(new SharedArrayBuffer(bytes.length));
  out.set(bytes);
  return out;
};

export async function loadImage(name: string): Promise<RgbFrame> {
  const { data, info } = await sharp(mediaPath(name)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: shared(data), width: info.width, height: info.height };
}

/** `count` frames of vtest.avi (768x576), every `every`-th from the start. */
export function vtestFrames(count: number, every = 50): RgbFrame[] {
  const W = 768;
  const H = 576;
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', mediaPath('vtest.avi'), '-vf', `select=not(mod(n\\,${every}))`, '-vsync', '0',
    '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: W * H * 3 * count + 1024 });
  return Array.from({ length: count }, (_, i) => ({ data: shared(raw.subarray(i * W * H * 3, (i + 1) * W * H * 3)), width: W, height: H }));
}

/** A horizontally mirrored copy. */
export function flip(f: RgbFrame): RgbFrame {
  const out = new Uint8Array(new SharedArrayBuffer(f.data.length));
  for (let y = 0; y < f.height; y++) {
    for (let x = 0; x < f.width; x++) {
      const s = (y * f.width + x) * 3;
      const d = (y * f.width + (f.width - 1 - x)) * 3;
      out[d] = f.data[s]!; out[d + 1] = f.data[s + 1]!; out[d + 2] = f.data[s + 2]!;
    }
  }
  return { data: out, width: f.width, height: f.height };
}

export async function encodePng(f: RgbFrame): Promise<Uint8Array> {
  return sharp(Buffer.from(f.data.buffer, f.data.byteOffset, f.data.length), { raw: { width: f.width, height: f.height, channels: 3 } }).png().toBuffer();
}
