/**
 * The ink box of one character in one font, measured by rendering it once through sharp (librsvg + pango, the
 * same path the plates take) and scanning the alpha channel. Fonts disagree on where a glyph sits and how wide
 * it is; with its ink box known, the renderer fits each character exactly into the plate's character box.
 */
import sharp from 'sharp';
import type { PlateFont } from './fonts.js';

/** Ink box in font units at font-size MEASURE_SIZE, relative to the text origin (baseline, left). */
export interface GlyphBox { readonly x: number; readonly y: number; readonly w: number; readonly h: number }

export const MEASURE_SIZE = 100;
const CANVAS = 320;
const ORIGIN_X = 100;
const ORIGIN_Y = 220;

const cache = new Map<string, Promise<GlyphBox>>();

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

async function measure(ch: string, font: PlateFont, weight: number): Promise<GlyphBox> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${CANVAS}" height="${CANVAS}">`
    + `<text x="${ORIGIN_X}" y="${ORIGIN_Y}" font-family="${font}" font-weight="${weight}" font-size="${MEASURE_SIZE}" fill="#000">${escapeXml(ch)}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  let x0 = CANVAS, y0 = CANVAS, x1 = -1, y1 = -1;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      if (data[(y * info.width + x) * 4 + 3]! > 40) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) throw new RangeError(`font ${font} draws nothing for ${JSON.stringify(ch)}`);
  return { x: x0 - ORIGIN_X, y: y0 - ORIGIN_Y, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

export function glyphBox(ch: string, font: PlateFont, weight = 400): Promise<GlyphBox> {
  const key = `${font}\u0000${weight}\u0000${ch}`;
  let p = cache.get(key);
  if (!p) { p = measure(ch, font, weight); cache.set(key, p); }
  return p;
}
