/**
 * Where the characters of each mainland plate layout sit, in millimetres on the plate (GA 36 proportions):
 *  - single row, 440x140 (blue, yellow, white, black): 7 characters 45x90, 12 mm apart, a 34 mm gap with the
 *    separator dot after the second;
 *  - new-energy, 480x140 (green): 8 characters 43x90, 9 mm apart, a 49 mm gap after the second;
 *  - two rows, 440x220 (yellow, large vehicles): province and letter 80x60 on top, 5 characters 65x110 below.
 * `spacing` stretches or squeezes the gaps (a plate maker's tolerance, and what OCR must cope with).
 */
import type { PlateColour } from '../common/plates.js';

export type PlateRows = 1 | 2;
export interface CharBox { readonly x: number; readonly y: number; readonly w: number; readonly h: number }
export interface PlateLayout {
  readonly widthMm: number;
  readonly heightMm: number;
  readonly boxes: readonly CharBox[];
  /** Centre of the separator dot, or null (two-row plates have none). */
  readonly dot: { readonly x: number; readonly y: number } | null;
}

function row(n: number, w: number, gap: number, sepGap: number, y: number, h: number, widthMm: number, spacing: number): { boxes: CharBox[]; dot: { x: number; y: number } } {
  const g = gap * spacing;
  const sg = sepGap * (0.5 + 0.5 * spacing);
  const total = n * w + (n - 2) * g + sg;
  // Centred: at spacing 1 this gives the standard margins (15.5 mm single row, 16.5 mm new-energy).
  let x = (widthMm - total) / 2;
  const boxes: CharBox[] = [];
  let dot = { x: 0, y: y + h / 2 };
  for (let i = 0; i < n; i++) {
    boxes.push({ x, y, w, h });
    x += w;
    if (i === 1) { dot = { x: x + sg / 2, y: y + h / 2 }; x += sg; } else x += g;
  }
  return { boxes, dot };
}

/** The layout for a plate of `chars` characters; `spacing` in [0.8, 1.2] (1 = the standard). */
export function plateLayout(colour: PlateColour, rows: PlateRows, chars: number, spacing = 1): PlateLayout {
  if (rows === 2) {
    if (chars !== 7) throw new RangeError('a two-row plate holds 7 characters');
    const top: CharBox[] = [{ x: 110, y: 15, w: 80, h: 60 }, { x: 250, y: 15, w: 80, h: 60 }];
    const w = 65;
    const gap = 15 * spacing;
    const start = (440 - (5 * w + 4 * gap)) / 2;
    const bottom = Array.from({ length: 5 }, (_, i) => ({ x: start + i * (w + gap), y: 92, w, h: 110 }));
    return { widthMm: 440, heightMm: 220, boxes: [...top, ...bottom], dot: null };
  }
  if (colour === 'green' || chars === 8) {
    const { boxes, dot } = row(8, 43, 9, 49, 25, 90, 480, spacing);
    return { widthMm: 480, heightMm: 140, boxes, dot };
  }
  const { boxes, dot } = row(7, 45, 12, 34, 25, 90, 440, spacing);
  return { widthMm: 440, heightMm: 140, boxes, dot };
}
