/**
 * Clothing colour of a person: the named colour (VEHICLE_COLOURS) of the upper body and of the legs, each with a
 * confidence 0..1, from the best shot's frame and the person box. Pure CPU code (well under a millisecond); the
 * keypoints it may use come from inference/pose.ts (MoveNet, about 50 ms per person on tfjs-wasm, once per track).
 *
 * Where the body is: with strong keypoints (score >= KEYPOINT_MIN_SCORE), the torso quadrilateral between the
 * shoulders and the hips, and a band along hip -> knee -> ankle for each leg. Without them (no pose model, a
 * person under KEYPOINT_MIN_HEIGHT px, weak keypoints), fixed body proportions of a standing person (head down to
 * about 0.17 of the box's height, hips near 0.5, knees near 0.72, ankles near 0.93), kept to the box's central
 * columns, where arms and the gap between walking legs are least. A box too squat for a standing body (under
 * BODY_MIN_ASPECT tall per wide: a head-and-shoulders shot, a person cut off by the frame's edge) gets an upper
 * colour only, from its lower half, unless keypoints find legs.
 *
 * Background: a detector box still holds road, wall or grass around the body. A ring of pixels just outside the box
 * gives the background's colour histogram; each body pixel counts with weight (F / (F + B))^2, F and B the
 * shares of its colour bin (3 bits per channel) inside the body region and in the ring, so a colour that fills
 * the surroundings as much as the body counts a quarter and one that is mostly surroundings (road between the
 * legs) counts little.
 *
 * Names: the vehicles' HSV naming (colour.ts), except that a dark pixel with a clear spread between its channels
 * (navy, dark denim) is coloured, not black; and, as for vehicles, the part is chromatic once
 * COLOUR_CHROMATIC_SHARE of its weighted votes are, the winner then taken among the chromatic names.
 *
 * Skin: pixels in the usual YCbCr skin cluster and not dark (faces, hands, bare arms and legs) are skipped; dark
 * browns share the cluster's chroma, which is why the brightness floor is there.
 *
 * Too weak to name (the part is absent): fewer than MIN_PART_PIXELS non-skin pixels; or a mean weight of the
 * non-skin pixels under MIN_BODY_SHARE (a region that looks just like its surroundings weighs (1/2)^2 = 0.25 per
 * pixel, so this means "mostly background"); or a winner with under MIN_WINNER_SHARE of its pool's votes.
 */
import type { Box } from '../common/messages.js';
import { COLOUR_CHROMATIC_SHARE, hueName, rgbToHsv, type VehicleColour } from './colour.js';

export interface RgbFrame { readonly data: Uint8Array; readonly width: number; readonly height: number }

export interface PartColour {
  readonly colour: VehicleColour;
  /**
   * 0..1: the winner's share of its pool's weighted votes (chromatic names, or black/grey/white), times how clearly
   * the part is in that pool, times how little of the region looked like background.
   */
  readonly confidence: number;
}

export interface ClothingColours {
  readonly upper: PartColour | null;
  readonly lower: PartColour | null;
}

/** Below this height / width, the box is not a whole standing body: upper colour only. */
export const BODY_MIN_ASPECT = 1.5;
/** Body parts as shares of a standing person's box: [top, bottom] and [left, right]. */
export const UPPER_ROWS = [0.2, 0.48] as const;
export const LOWER_ROWS = [0.66, 0.92] as const;
export const BODY_COLUMNS = [0.28, 0.72] as const;
/** A squat box (head and shoulders): the upper body is its lower part. */
export const SQUAT_UPPER_ROWS = [0.5, 0.95] as const;
export const SQUAT_COLUMNS = [0.2, 0.8] as const;
/** Width of the background ring outside the box, as a share of the box's width (and of its height, top and bottom). */
export const RING = 0.2;
export const MIN_PART_PIXELS = 24;
export const MIN_BODY_SHARE = 0.35;
export const BODY_FULL_SHARE = 0.7;
export const MIN_WINNER_SHARE = 0.4;
/** The chromatic/achromatic split of colour.ts, a little stricter in the dark, where cloth noise looks coloured. */
const MIN_SAT = 0.3;
const MIN_VAL = 0.25;
/** Dark but clearly coloured (navy, dark denim): enough spread between channels that it is not sensor noise. */
const MIN_DARK_CHROMA = 18;
/** Largest box area sampled at every pixel; larger boxes are sampled on a grid of the same count. */
const MAX_SAMPLES = 6000;

/** Colour bins for the background model: 3 bits per channel. */
const bin = (r: number, g: number, b: number): number => ((r >> 5) << 6) | ((g >> 5) << 3) | (b >> 5);

/** Skin: the YCbCr cluster most skin-detection work uses, plus a brightness floor (dark brown cloth). */
export function isSkin(r: number, g: number, b: number): boolean {
  const y = 0.299 * r + 0.587 * g + 0.114 * b;
  if (y < 70) return false;
  const cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
  const cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
  return cb >= 77 && cb <= 127 && cr >= 135 && cr <= 173 && r > g;
}

/** The VEHICLE_COLOURS name of one pixel. */
export function pixelColour(r: number, g: number, b: number): VehicleColour {
  const { h, s, v } = rgbToHsv(r, g, b);
  if (s >= MIN_SAT && (v >= MIN_VAL || (Math.max(r, g, b) - Math.min(r, g, b) >= MIN_DARK_CHROMA && v >= 0.1))) return hueName(h);
  if (v < 0.3) return 'black';
  if (v > 0.72 && s < 0.2) return 'white';
  return 'grey';
}

interface Region { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number }

function region(f: RgbFrame, b: Box, rows: readonly [number, number], cols: readonly [number, number]): Region {
  return {
    x0: Math.max(0, Math.floor(b.x + b.w * cols[0])),
    x1: Math.min(f.width, Math.ceil(b.x + b.w * cols[1])),
    y0: Math.max(0, Math.floor(b.y + b.h * rows[0])),
    y1: Math.min(f.height, Math.ceil(b.y + b.h * rows[1])),
  };
}

/** Normalised colour-bin histogram of the ring around the box (or of the box's own edges when nothing is outside). */
function backgroundHistogram(f: RgbFrame, b: Box): Float32Array {
  const hist = new Float32Array(512);
  const ring = Math.max(2, Math.round(RING * b.w));
  const ringY = Math.max(2, Math.round(0.05 * b.h));
  const outer = region(f, { x: b.x - ring, y: b.y - ringY, w: b.w + 2 * ring, h: b.h + 2 * ringY }, [0, 1], [0, 1]);
  const inner = region(f, b, [0, 1], [0, 1]);
  const area = (outer.x1 - outer.x0) * (outer.y1 - outer.y0);
  const step = Math.max(1, Math.floor(Math.sqrt(area / MAX_SAMPLES)));
  let n = 0;
  const add = (x: number, y: number): void => {
    const i = (y * f.width + x) * 3;
    hist[bin(f.data[i]!, f.data[i + 1]!, f.data[i + 2]!)]! += 1;
    n++;
  };
  for (let y = outer.y0; y < outer.y1; y += step) {
    for (let x = outer.x0; x < outer.x1; x += step) {
      if (x >= inner.x0 && x < inner.x1 && y >= inner.y0 && y < inner.y1) continue;
      add(x, y);
    }
  }
  if (n < MIN_PART_PIXELS) {
    // The box fills the frame: its outer tenth on each side is the best guess at the surroundings.
    const edge = region(f, b, [0, 1], [0, 0.1]);
    const edge2 = region(f, b, [0, 1], [0.9, 1]);
    for (const e of [edge, edge2]) for (let y = e.y0; y < e.y1; y += step) for (let x = e.x0; x < e.x1; x += step) add(x, y);
  }
  if (n > 0) for (let k = 0; k < 512; k++) hist[k]! /= n;
  return hist;
}

/** Weighted colour vote over one body region: winner, its share, and how much of the region looked like body. */
export interface PartVote {
  readonly votes: Partial<Record<VehicleColour, number>>;
  readonly pixels: number;
  readonly skin: number;
  /** Mean weight of the non-skin pixels: 1 when none of their colours is in the ring, 0.25 when all are as common there. */
  readonly bodyShare: number;
}

/** Pixel indices (y * width + x) of a region, on a grid coarse enough to stay near MAX_SAMPLES. */
function regionPixels(f: RgbFrame, r: Region): number[] {
  const area = Math.max(0, (r.x1 - r.x0) * (r.y1 - r.y0));
  const step = Math.max(1, Math.floor(Math.sqrt(area / MAX_SAMPLES)));
  const out: number[] = [];
  for (let y = r.y0; y < r.y1; y += step) for (let x = r.x0; x < r.x1; x += step) out.push(y * f.width + x);
  return out;
}

function vote(f: RgbFrame, pixels: Iterable<number>, bg: Float32Array): PartVote {
  const bins: number[] = [];
  const names: VehicleColour[] = [];
  const fg = new Float32Array(512);
  let skin = 0;
  for (const p of pixels) {
    const i = p * 3;
    const R = f.data[i]!, G = f.data[i + 1]!, B = f.data[i + 2]!;
    if (isSkin(R, G, B)) { skin++; continue; }
    const k = bin(R, G, B);
    fg[k]! += 1;
    bins.push(k);
    names.push(pixelColour(R, G, B));
  }
  const votes: Partial<Record<VehicleColour, number>> = {};
  const n = bins.length;
  let total = 0;
  for (let j = 0; j < n; j++) {
    const k = bins[j]!;
    const F = fg[k]! / n;
    // Squared, so a bin as common outside as inside counts a quarter and grass between the legs hardly at all.
    const share = F / (F + bg[k]!);
    const w = share * share;
    const name = names[j]!;
    votes[name] = (votes[name] ?? 0) + w;
    total += w;
  }
  return { votes, pixels: n, skin, bodyShare: n > 0 ? total / n : 0 };
}

const ACHROMATIC: ReadonlySet<VehicleColour> = new Set(['black', 'grey', 'white']);

/**
 * The named colour of a vote, or null when the evidence is too weak (see the top of this file). As for vehicles
 * (colour.ts), the part is chromatic once COLOUR_CHROMATIC_SHARE of its votes are: shadows, folds, shoes and hair
 * add black and grey to any garment, while a coloured pixel rarely comes from anything but the garment.
 */
export function decide(v: PartVote): PartColour | null {
  if (v.pixels < MIN_PART_PIXELS || v.bodyShare < MIN_BODY_SHARE) return null;
  let total = 0;
  let chromatic = 0;
  for (const [k, w] of Object.entries(v.votes) as [VehicleColour, number][]) {
    total += w;
    if (!ACHROMATIC.has(k)) chromatic += w;
  }
  if (total <= 0) return null;
  const c = chromatic / total;
  const pool = c >= COLOUR_CHROMATIC_SHARE;
  let best: VehicleColour | null = null;
  let top = 0;
  for (const [k, w] of Object.entries(v.votes) as [VehicleColour, number][]) {
    if (ACHROMATIC.has(k) === pool) continue;
    if (w > top) { top = w; best = k; }
  }
  if (!best) return null;
  // purity: the winner's share of its pool (chromatic or not); strength: how clearly the part is in that pool.
  const purity = top / (pool ? chromatic : total - chromatic);
  if (purity < MIN_WINNER_SHARE) return null;
  const strength = pool ? Math.min(1, c / (2 * COLOUR_CHROMATIC_SHARE)) : Math.min(1, (1 - c) / 0.9);
  // Full trust once the mean weight reaches BODY_FULL_SHARE; less as more of the region looked like background.
  const confidence = purity * strength * Math.min(1, v.bodyShare / BODY_FULL_SHARE);
  return { colour: best, confidence: Math.round(confidence * 1000) / 1000 };
}

/** Body keypoints in the frame's pixels, COCO order (inference/pose.ts gives them). */
export interface BodyKeypoint { readonly x: number; readonly y: number; readonly score: number }

/** A keypoint counts from this score; below it that part falls back to fixed proportions. */
export const KEYPOINT_MIN_SCORE = 0.3;
/** Keypoints are not asked for below this box height (px): MoveNet's 192 px input would be mostly upsampling. */
export const KEYPOINT_MIN_HEIGHT = 48;
/** Narrowest torso (shoulder to shoulder, hip to hip) sampled, as a share of the box's width: a body seen side on. */
const TORSO_MIN_WIDTH = 0.5;
/** Half the width of the band sampled along each leg, as a share of the box's width. */
const LEG_HALF_WIDTH = 0.07;
const [LS, RS, LH, RH, LK, RK, LA, RA] = [5, 6, 11, 12, 13, 14, 15, 16] as const;

interface P { readonly x: number; readonly y: number }
const lerp = (a: P, b: P, t: number): P => ({ x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t });

/** Seen from the side, shoulders (or hips) nearly coincide: widen the pair about its middle to `min` pixels. */
function widen(a: P, b: P, min: number): [P, P] {
  const d = Math.hypot(a.x - b.x, a.y - b.y);
  if (d >= min) return [a, b];
  const m = lerp(a, b, 0.5);
  // Widen horizontally when the pair gives no direction.
  const ux = d > 0.5 ? (a.x - b.x) / d : 1;
  const uy = d > 0.5 ? (a.y - b.y) / d : 0;
  return [{ x: m.x + ux * min / 2, y: m.y + uy * min / 2 }, { x: m.x - ux * min / 2, y: m.y - uy * min / 2 }];
}

/** Pixels of the quadrilateral between the shoulders and the hips, kept off the neck, the arms and the belt. */
function torsoPixels(f: RgbFrame, box: Box, k: readonly BodyKeypoint[]): number[] {
  const [ls, rs] = widen(k[LS]!, k[RS]!, TORSO_MIN_WIDTH * box.w);
  const [lh, rh] = widen(k[LH]!, k[RH]!, TORSO_MIN_WIDTH * box.w);
  const across = Math.max(Math.hypot(ls.x - rs.x, ls.y - rs.y), Math.hypot(lh.x - rh.x, lh.y - rh.y), 2);
  const down = Math.max(Math.hypot((ls.x + rs.x - lh.x - rh.x) / 2, (ls.y + rs.y - lh.y - rh.y) / 2), 2);
  const scale = Math.min(1, Math.sqrt(MAX_SAMPLES / (across * down)));
  const na = Math.max(2, Math.ceil(across * scale));
  const nd = Math.max(2, Math.ceil(down * scale));
  const seen = new Set<number>();
  for (let j = 0; j <= nd; j++) {
    const t = 0.15 + 0.75 * (j / nd);
    const l = lerp(ls, lh, t);
    const r = lerp(rs, rh, t);
    for (let i = 0; i <= na; i++) {
      const q = lerp(l, r, 0.15 + 0.7 * (i / na));
      const x = Math.round(q.x);
      const y = Math.round(q.y);
      if (x >= 0 && y >= 0 && x < f.width && y < f.height) seen.add(y * f.width + x);
    }
  }
  return [...seen];
}

/** Pixels of a band along hip -> knee -> ankle, from just below the hip to just above the ankle. */
function legPixels(f: RgbFrame, box: Box, hip: P, knee: P, ankle: P, seen: Set<number>): void {
  const half = Math.max(1, LEG_HALF_WIDTH * box.w);
  for (const [a, b, t0, t1] of [[hip, knee, 0.15, 1], [knee, ankle, 0, 0.85]] as const) {
    const len = Math.max(Math.hypot(b.x - a.x, b.y - a.y), 2);
    const nx = -(b.y - a.y) / len;
    const ny = (b.x - a.x) / len;
    const steps = Math.ceil(len * (t1 - t0));
    for (let j = 0; j <= steps; j++) {
      const c = lerp(a, b, t0 + (t1 - t0) * (j / steps));
      for (let o = -half; o <= half; o += 1) {
        const x = Math.round(c.x + nx * o);
        const y = Math.round(c.y + ny * o);
        if (x >= 0 && y >= 0 && x < f.width && y < f.height) seen.add(y * f.width + x);
      }
    }
  }
}

const strong = (k: readonly BodyKeypoint[], ...ids: number[]): boolean => ids.every((i) => (k[i]?.score ?? 0) >= KEYPOINT_MIN_SCORE);

/** Where each part was read from: keypoints, or fixed body proportions. */
export type PartSource = 'keypoints' | 'proportions';

/** Both parts' votes, before the decision (the benchmark reports them). */
export function clothingVotes(f: RgbFrame, box: Box, keypoints?: readonly BodyKeypoint[] | null): {
  upper: PartVote; lower: PartVote | null; upperFrom: PartSource; lowerFrom: PartSource;
} {
  const bg = backgroundHistogram(f, box);
  const k = keypoints && keypoints.length >= 17 ? keypoints : null;
  const squat = box.h / box.w < BODY_MIN_ASPECT;
  let upper: PartVote;
  let upperFrom: PartSource = 'proportions';
  if (k && strong(k, LS, RS, LH, RH)) {
    upper = vote(f, torsoPixels(f, box, k), bg);
    upperFrom = 'keypoints';
  } else {
    upper = vote(f, regionPixels(f, squat ? region(f, box, SQUAT_UPPER_ROWS, SQUAT_COLUMNS) : region(f, box, UPPER_ROWS, BODY_COLUMNS)), bg);
  }
  const legs = new Set<number>();
  if (k && strong(k, LH, LK, LA)) legPixels(f, box, k[LH]!, k[LK]!, k[LA]!, legs);
  if (k && strong(k, RH, RK, RA)) legPixels(f, box, k[RH]!, k[RK]!, k[RA]!, legs);
  if (legs.size > 0) return { upper, lower: vote(f, legs, bg), upperFrom, lowerFrom: 'keypoints' };
  return { upper, lower: squat ? null : vote(f, regionPixels(f, region(f, box, LOWER_ROWS, BODY_COLUMNS)), bg), upperFrom, lowerFrom: 'proportions' };
}

/**
 * Upper and lower clothing colour of the person in `box` of an RGB24 frame. With `keypoints` (inference/pose.ts),
 * parts whose keypoints are strong are read along the body; the others, and every part without keypoints, from
 * fixed body proportions.
 */
export function clothingColours(f: RgbFrame, box: Box, keypoints?: readonly BodyKeypoint[] | null): ClothingColours {
  const v = clothingVotes(f, box, keypoints);
  return { upper: decide(v.upper), lower: v.lower ? decide(v.lower) : null };
}
