/**
 * Plate pixels, free of models: sampling a rotated rectangle out of an RGB24 image (crop, deskew and resize in
 * one bilinear pass), the text detector's post-processing (DB: threshold the probability map, connected
 * components, a rotated box per component expanded by the unclip ratio), grouping those boxes into plate
 * candidates (one row, or two stacked rows), and the plate's colour from its background pixels.
 */
import { PLATE_COLOURS, type PlateColour } from '../common/plates.js';
import type { RgbImage } from './face.js';

/** A rotated rectangle: centre, size along its own axes, angle of its width axis in radians. */
export interface RotatedRect { readonly cx: number; readonly cy: number; readonly w: number; readonly h: number; readonly angle: number }

/** Samples `rect` of `img` into an ow x oh RGB24 image (bilinear; outside the image reads the nearest edge). */
export function sampleRect(img: RgbImage, rect: RotatedRect, ow: number, oh: number): RgbImage {
  const out = new Uint8Array(ow * oh * 3);
  const cos = Math.cos(rect.angle);
  const sin = Math.sin(rect.angle);
  const { data, width: W, height: H } = img;
  let o = 0;
  for (let y = 0; y < oh; y++) {
    const v = ((y + 0.5) / oh - 0.5) * rect.h;
    for (let x = 0; x < ow; x++) {
      const u = ((x + 0.5) / ow - 0.5) * rect.w;
      const sx = Math.min(W - 1, Math.max(0, rect.cx + u * cos - v * sin - 0.5));
      const sy = Math.min(H - 1, Math.max(0, rect.cy + u * sin + v * cos - 0.5));
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const x1 = Math.min(W - 1, x0 + 1), y1 = Math.min(H - 1, y0 + 1);
      const dx = sx - x0, dy = sy - y0;
      const a = (y0 * W + x0) * 3, b = (y0 * W + x1) * 3, c = (y1 * W + x0) * 3, d = (y1 * W + x1) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = data[a + ch]! + (data[b + ch]! - data[a + ch]!) * dx;
        const bottom = data[c + ch]! + (data[d + ch]! - data[c + ch]!) * dx;
        out[o++] = Math.round(top + (bottom - top) * dy);
      }
    }
  }
  return { data: out, width: ow, height: oh };
}

/** DB post-processing settings (PaddleOCR's usual values for the detector). */
export interface DbOptions {
  /** A map cell is text above this probability. */
  readonly threshold: number;
  /** A component is kept when its mean probability reaches this. */
  readonly boxThreshold: number;
  /** The shrunk text kernel is grown back by area x ratio / perimeter on each side. */
  readonly unclipRatio: number;
  /** Components with a side shorter than this (map cells) are noise. */
  readonly minSide: number;
}
export const DB_DEFAULTS: DbOptions = { threshold: 0.3, boxThreshold: 0.5, unclipRatio: 1.5, minSide: 3 };

/** A text box found by the detector, in the probability map's cells. */
export interface TextBox extends RotatedRect { readonly score: number }

/**
 * Text boxes from the detector's probability map (mw x mh). Each 8-connected component of cells above the
 * threshold gives a rotated box from its principal axes (so a slanted plate gives a slanted box), grown by the
 * unclip distance. Boxes are turned so their width runs along the text (|angle| <= 45 degrees).
 */
export function dbBoxes(map: Float32Array, mw: number, mh: number, o: DbOptions = DB_DEFAULTS): TextBox[] {
  const label = new Int32Array(mw * mh);
  const stack = new Int32Array(mw * mh);
  const boxes: TextBox[] = [];
  let next = 0;
  for (let start = 0; start < mw * mh; start++) {
    if (label[start] !== 0 || map[start]! <= o.threshold) continue;
    next++;
    label[start] = next;
    let sp = 0;
    stack[sp++] = start;
    let n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, sum = 0;
    const members: number[] = [];
    while (sp > 0) {
      const i = stack[--sp]!;
      members.push(i);
      const x = i % mw, y = (i - x) / mw;
      n++; sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y; sum += map[i]!;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= mh) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= mw) continue;
          const j = yy * mw + xx;
          if (label[j] === 0 && map[j]! > o.threshold) { label[j] = next; stack[sp++] = j; }
        }
      }
    }
    if (n < o.minSide * o.minSide) continue;
    const score = sum / n;
    if (score < o.boxThreshold) continue;
    const mx = sx / n, my = sy / n;
    const cxx = sxx / n - mx * mx, cyy = syy / n - my * my, cxy = sxy / n - mx * my;
    let angle = 0.5 * Math.atan2(2 * cxy, cxx - cyy);
    if (angle > Math.PI / 4) angle -= Math.PI / 2;
    if (angle < -Math.PI / 4) angle += Math.PI / 2;
    const cos = Math.cos(angle), sin = Math.sin(angle);
    let u0 = Infinity, u1 = -Infinity, v0 = Infinity, v1 = -Infinity;
    for (const i of members) {
      const x = (i % mw) - mx, y = Math.floor(i / mw) - my;
      const u = x * cos + y * sin, v = -x * sin + y * cos;
      if (u < u0) u0 = u; if (u > u1) u1 = u; if (v < v0) v0 = v; if (v > v1) v1 = v;
    }
    // Cells are unit squares: the extent covers them whole.
    const w = u1 - u0 + 1, h = v1 - v0 + 1;
    if (Math.min(w, h) < o.minSide) continue;
    const grow = (w * h * o.unclipRatio) / (2 * (w + h));
    const cu = (u0 + u1) / 2, cv = (v0 + v1) / 2;
    boxes.push({ cx: mx + 0.5 + cu * cos - cv * sin, cy: my + 0.5 + cu * sin + cv * cos, w: w + 2 * grow, h: h + 2 * grow, angle, score });
  }
  return boxes;
}

/** A plate candidate: one text row, or two stacked rows (the top one narrower). */
export interface PlateCandidate {
  readonly rows: readonly TextBox[];
  /** The whole plate (both rows and a margin for the plate's border): for colour and the crop shown. */
  readonly plate: RotatedRect;
  score: number;
}

/** Width over height of a one-row plate's text line: about 4.2 on a standard plate, 4.6 on a green one. */
export const ONE_ROW_ASPECT = [1.8, 8] as const;

/**
 * Joins boxes that continue each other along a row (a plate's separator dot or a wide gap can split its line in
 * two), then proposes one-row candidates of plate-like aspect and two-row candidates (a narrow box stacked on a
 * wider one). Scored by shape only; the reader adds the colour and reads the best few.
 */
export function plateCandidates(boxes: readonly TextBox[]): PlateCandidate[] {
  const rows = mergeRow(boxes);
  const out: PlateCandidate[] = [];
  for (const b of rows) {
    const aspect = b.w / b.h;
    if (aspect >= ONE_ROW_ASPECT[0] && aspect <= ONE_ROW_ASPECT[1]) {
      // Closer to 4.3 scores higher; a line as wide as a plate's text, not a sticker's, is preferred.
      const shape = 1 - Math.min(1, Math.abs(Math.log(aspect / 4.3)));
      out.push({ rows: [b], plate: { cx: b.cx, cy: b.cy, w: b.w * 1.08, h: b.h * 1.35, angle: b.angle }, score: shape + b.score });
    }
  }
  for (const bottom of rows) {
    for (const top of rows) {
      if (top === bottom) continue;
      const dy = bottom.cy - top.cy;
      if (dy <= 0 || dy > 1.3 * bottom.h) continue;
      if (top.w > 0.85 * bottom.w || top.w < 0.25 * bottom.w) continue;
      if (top.h > 1.1 * bottom.h || top.h < 0.35 * bottom.h) continue;
      if (Math.abs(top.cx - bottom.cx) > 0.25 * bottom.w) continue;
      const aspect = bottom.w / bottom.h;
      if (aspect < 1.5 || aspect > 5) continue;
      const h = (bottom.cy + bottom.h / 2) - (top.cy - top.h / 2);
      const cy = (bottom.cy + bottom.h / 2) - h / 2;
      out.push({ rows: [top, bottom], plate: { cx: bottom.cx, cy, w: bottom.w * 1.08, h: h * 1.15, angle: bottom.angle }, score: 1 + (top.score + bottom.score) / 2 });
    }
  }
  return out.sort((a, b) => b.score - a.score);
}

/** Boxes on one line whose ends are close (within a line height) become one box spanning both. */
function mergeRow(boxes: readonly TextBox[]): TextBox[] {
  let list = [...boxes].sort((a, b) => a.cx - b.cx);
  let merged = true;
  while (merged) {
    merged = false;
    outer: for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i]!, b = list[j]!;
        const h = Math.max(a.h, b.h);
        if (Math.min(a.h, b.h) < 0.6 * h) continue;
        if (Math.abs(a.cy - b.cy) > 0.35 * h) continue;
        const gap = (b.cx - b.w / 2) - (a.cx + a.w / 2);
        if (gap > 0.9 * h || gap < -0.5 * Math.min(a.w, b.w)) continue;
        const x0 = Math.min(a.cx - a.w / 2, b.cx - b.w / 2), x1 = Math.max(a.cx + a.w / 2, b.cx + b.w / 2);
        const y0 = Math.min(a.cy - a.h / 2, b.cy - b.h / 2), y1 = Math.max(a.cy + a.h / 2, b.cy + b.h / 2);
        const box: TextBox = {
          cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, w: x1 - x0, h: Math.max(a.h, b.h, (y1 - y0) * 0.85),
          angle: (a.angle * a.w + b.angle * b.w) / (a.w + b.w), score: (a.score * a.w + b.score * b.w) / (a.w + b.w),
        };
        list = [...list.slice(0, i), box, ...list.slice(i + 1, j), ...list.slice(j + 1)].sort((p, q) => p.cx - q.cx);
        merged = true;
        break outer;
      }
    }
  }
  return list;
}

/** Scales a box from one image's pixels to another's (detector map cells to crop pixels). */
export function scaleRect<T extends RotatedRect>(r: T, sx: number, sy: number): T {
  // Plates are close to level, so scaling the axes separately keeps the box (a small angle bends little).
  return { ...r, cx: r.cx * sx, cy: r.cy * sy, w: r.w * Math.hypot(sx * Math.cos(r.angle), sy * Math.sin(r.angle)), h: r.h * Math.hypot(sx * Math.sin(r.angle), sy * Math.cos(r.angle)) };
}

/** The plate's colour and how clearly its background showed it (share of background pixels of that colour). */
export interface PlateColourReading { readonly colour: PlateColour; readonly share: number }

/**
 * The plate's background colour from a sample of the plate (rect sampled small). Characters are a minority of a
 * plate's pixels, so the background is the most common class: blue, yellow and green by hue among saturated
 * pixels, white and black among the rest by brightness. The new-energy plate's gradient runs from near-white
 * to green, so green wins once a fair share of the plate is green even when white pixels outnumber it.
 */
export function plateColour(img: RgbImage): PlateColourReading {
  const counts: Record<PlateColour, number> = { blue: 0, yellow: 0, green: 0, white: 0, black: 0 };
  const { data } = img;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const r = data[i * 3]!, g = data[i * 3 + 1]!, b = data[i * 3 + 2]!;
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    const v = max / 255, s = max === 0 ? 0 : (max - min) / max;
    if (s >= 0.3 && v >= 0.2) {
      let h: number;
      const d = max - min;
      if (max === r) h = (((g - b) / d) % 6) * 60; else if (max === g) h = ((b - r) / d + 2) * 60; else h = ((r - g) / d + 4) * 60;
      if (h < 0) h += 360;
      if (h >= 30 && h < 72) counts.yellow++;
      else if (h >= 72 && h < 170) counts.green++;
      else if (h >= 170 && h < 265) counts.blue++;
    } else if (v >= 0.55) counts.white++;
    else if (v < 0.3) counts.black++;
  }
  const chromatic = (['blue', 'yellow', 'green'] as const).reduce((a, b) => (counts[b] > counts[a] ? b : a));
  if (counts[chromatic] >= 0.3 * n) return { colour: chromatic, share: counts[chromatic] / n };
  if (chromatic === 'green' && counts.green >= 0.15 * n && counts.white > counts.black) return { colour: 'green', share: counts.green / n };
  const achromatic = counts.white >= counts.black ? 'white' : 'black';
  return { colour: achromatic, share: counts[achromatic] / n };
}

export { PLATE_COLOURS };

/**
 * A vehicle crop for the plate reader: `box` without its top `skipTop` share (plates sit in the lower part of a
 * vehicle seen from the front or back; the roof, windscreen and a bus's destination sign are text-like clutter)
 * grown by `margin` (share of its size per side), clamped to the frame, scaled down (bilinear) when it holds more
 * than `maxPixels`, into a SharedArrayBuffer so the worker thread reads it without a copy. At most maxPixels x 3
 * bytes. A pixel budget rather than a side cap: a bus's plate is a tenth of its width, and must keep its pixels.
 */
export function cutVehicleCrop(frame: RgbImage, box: { x: number; y: number; w: number; h: number }, margin: number, maxPixels: number, skipTop = 0): RgbImage {
  const x0 = Math.max(0, Math.floor(box.x - box.w * margin));
  const y0 = Math.max(0, Math.floor(box.y + box.h * skipTop - box.h * margin));
  const x1 = Math.min(frame.width, Math.ceil(box.x + box.w * (1 + margin)));
  const y1 = Math.min(frame.height, Math.ceil(box.y + box.h * (1 + margin)));
  const w = Math.max(1, x1 - x0), h = Math.max(1, y1 - y0);
  const scale = Math.min(1, Math.sqrt(maxPixels / (w * h)));
  const ow = Math.max(1, Math.round(w * scale)), oh = Math.max(1, Math.round(h * scale));
  const out = new Uint8Array(new SharedArrayBuffer(ow * oh * 3));
  if (scale === 1) {
    for (let y = 0; y < h; y++) out.set(frame.data.subarray(((y0 + y) * frame.width + x0) * 3, ((y0 + y) * frame.width + x0 + w) * 3), y * w * 3);
  } else {
    out.set(sampleRect(frame, { cx: x0 + w / 2, cy: y0 + h / 2, w, h, angle: 0 }, ow, oh).data);
  }
  return { data: out, width: ow, height: oh };
}
