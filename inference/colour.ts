/**
 * Vehicle colour: the dominant named colour of a crop, from an HSV histogram over the crop's central region
 * (the borders are mostly road, sky and neighbours). Chromatic names only count well-saturated, not-too-dark
 * pixels, because paint in shadow or glare reads as grey at low saturation; when too few such pixels exist
 * the colour is achromatic (white, black or grey by brightness). Pure CPU code, so it runs in any thread.
 */
import type { Box } from '../common/messages.js';

import { VEHICLE_COLOURS, type VehicleColour } from '../common/colours.js';

// The names live in common/ so the index can check queries against them without importing this stage.
export { VEHICLE_COLOURS, type VehicleColour };

/** Fraction of the box (per side) kept around its centre. */
export const COLOUR_CENTRAL = 0.6;
/** A pixel counts as chromatic above this saturation and value. */
export const COLOUR_MIN_SAT = 0.3;
export const COLOUR_MIN_VAL = 0.2;
/** The crop is chromatic when at least this share of its central pixels is. */
export const COLOUR_CHROMATIC_SHARE = 0.25;

/** h in degrees [0, 360), s and v in [0, 1]. */
export function rgbToHsv(r: number, g: number, b: number): { h: number; s: number; v: number } {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  let h = 0;
  if (d > 0) {
    if (max === r) h = ((g - b) / d) % 6;
    else if (max === g) h = (b - r) / d + 2;
    else h = (r - g) / d + 4;
    h *= 60;
    if (h < 0) h += 360;
  }
  return { h, s: max === 0 ? 0 : d / max, v: max / 255 };
}

export function hueName(h: number): VehicleColour {
  if (h < 15 || h >= 330) return 'red';
  // Orange and brown share a hue; both are named brown (a dark orange is what brown paint is).
  if (h < 45) return 'brown';
  if (h < 70) return 'yellow';
  if (h < 165) return 'green';
  if (h < 270) return 'blue';
  // Purple and magenta are rare on vehicles; the nearer of blue and red.
  return h < 300 ? 'blue' : 'red';
}

/** The dominant named colour of `box` in an RGB24 frame. */
export function dominantColour(data: Uint8Array, width: number, height: number, box: Box): VehicleColour {
  const m = (1 - COLOUR_CENTRAL) / 2;
  const x0 = Math.max(0, Math.floor(box.x + box.w * m));
  const y0 = Math.max(0, Math.floor(box.y + box.h * m));
  const x1 = Math.min(width, Math.ceil(box.x + box.w * (1 - m)));
  const y1 = Math.min(height, Math.ceil(box.y + box.h * (1 - m)));
  const chroma = new Map<VehicleColour, number>();
  let total = 0;
  let chromatic = 0;
  let white = 0;
  let black = 0;
  let grey = 0;
  // Sampling every other pixel on large crops keeps this well under a millisecond without changing the answer.
  const step = (x1 - x0) * (y1 - y0) > 40_000 ? 2 : 1;
  for (let y = y0; y < y1; y += step) {
    for (let x = x0; x < x1; x += step) {
      const i = (y * width + x) * 3;
      const { h, s, v } = rgbToHsv(data[i]!, data[i + 1]!, data[i + 2]!);
      total++;
      if (s >= COLOUR_MIN_SAT && v >= COLOUR_MIN_VAL) {
        chromatic++;
        const name = hueName(h);
        chroma.set(name, (chroma.get(name) ?? 0) + 1);
      } else if (v < 0.25) black++;
      else if (v > 0.75 && s < 0.2) white++;
      else grey++;
    }
  }
  if (total === 0) return 'grey';
  if (chromatic / total >= COLOUR_CHROMATIC_SHARE) {
    let best: VehicleColour = 'grey';
    let n = -1;
    for (const [k, c] of chroma) if (c > n) { best = k; n = c; }
    return best;
  }
  if (black >= white && black >= grey) return 'black';
  return white >= grey ? 'white' : 'grey';
}
