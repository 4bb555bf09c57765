/**
 * A deterministic set of licence-plate samples: rendered mainland plates warped onto the plate spots of real
 * vehicle photos (vehicles.ts), at chosen plate widths, with a camera's blur, noise and low light. Each sample
 * carries its truth (canonical plate, colour, rows) and boxes; `plateViews` makes more views of the same vehicle
 * and plate (other scale, jitter, blur) that stand for several frames of one track.
 */
import type { Box } from '../common/messages.js';
import type { PlateColour } from '../common/plates.js';
import { degrade, randomDegradation, type Degradation } from './degrade.js';
import { cropScaled, loadPhoto } from './photo-cache.js';
import { plateLayout, type PlateRows } from './plate-layout.js';
import { randomPlateStyle, renderPlate, type PlateStyle } from './plate-render.js';
import { randomPlateText } from './plate-text.js';
import { Prng } from './prng.js';
import { MOTION_BLUR_PLATE, VEHICLE_PHOTOS, type VehicleKind, type VehiclePhoto } from './vehicles.js';
import { plateQuad, warpInto, type Quad, type RgbImage } from './warp.js';

export interface PlateTruth { readonly plate: string; readonly colour: PlateColour; readonly rows: PlateRows }

/** What a sample is made of; the same spec always gives the same pixels. */
export interface PlateSpec {
  readonly seed: number;
  readonly vehicle: string;
  readonly truth: PlateTruth;
  readonly style: PlateStyle;
  /** Requested plate width in pixels. */
  readonly width: number;
}

export interface PlateSample {
  /** RGB24. */
  readonly image: RgbImage;
  readonly vehicleBox: Box;
  readonly plateBox: Box;
  /** The plate's corners (top-left, top-right, bottom-right, bottom-left). */
  readonly plateQuad: Quad;
  readonly truth: PlateTruth;
  /** Horizontal extent of the plate in the image, pixels. */
  readonly plateWidth: number;
  readonly vehicle: { readonly id: string; readonly kind: VehicleKind; readonly view: 'front' | 'rear'; readonly from: string };
  readonly degradation: Degradation;
  readonly spec: PlateSpec;
}

export interface PlateSetOptions {
  readonly seed: number;
  readonly count: number;
  /** Plate widths in pixels, used in turn (item i gets widths[i % length]); each in [20, 400]. */
  readonly widths?: readonly number[];
}
export const DEFAULT_PLATE_WIDTHS: readonly number[] = [60, 80, 100, 120, 160, 200];
/** A vehicle photo is enlarged at most this much (beyond it the vehicle is mush around a sharp plate). */
export const MAX_UPSCALE = 5;

function pickColour(rng: Prng, kind: VehicleKind, view: 'front' | 'rear'): { colour: PlateColour; rows: PlateRows } {
  // Buses and lorries carry yellow plates, two rows on the back; cars mostly blue and green.
  if (kind !== 'car') return { colour: 'yellow', rows: view === 'rear' ? 2 : 1 };
  const r = rng.next();
  if (r < 0.45) return { colour: 'blue', rows: 1 };
  if (r < 0.7) return { colour: 'green', rows: 1 };
  if (r < 0.82) return { colour: 'yellow', rows: view === 'rear' && rng.chance(0.5) ? 2 : 1 };
  if (r < 0.91) return { colour: 'white', rows: 1 };
  return { colour: 'black', rows: 1 };
}

function checkSetOptions(o: PlateSetOptions): readonly number[] {
  if (!Number.isInteger(o.seed)) throw new TypeError('options.seed must be an integer');
  if (!Number.isInteger(o.count) || o.count < 0 || o.count > 10_000) throw new RangeError('options.count must be an integer in [0, 10000]');
  const widths = o.widths ?? DEFAULT_PLATE_WIDTHS;
  if (widths.length === 0 || widths.some((w) => !(w >= 20 && w <= 400))) throw new RangeError('options.widths must hold numbers in [20, 400]');
  return widths;
}

/** The specs of a set (cheap: no pixels). */
export function plateSpecs(o: PlateSetOptions): PlateSpec[] {
  const widths = checkSetOptions(o);
  const rng = new Prng(o.seed);
  const specs: PlateSpec[] = [];
  for (let i = 0; i < o.count; i++) {
    const width = widths[i % widths.length]!;
    // Vehicles whose plate spot is big enough for this width without enlarging the photo past MAX_UPSCALE.
    const fit = VEHICLE_PHOTOS.filter((v) => width / v.plate.width <= MAX_UPSCALE);
    const vehicle = fit.length > 0 ? rng.pick(fit) : VEHICLE_PHOTOS.reduce((a, b) => (b.plate.width > a.plate.width ? b : a));
    const { colour, rows } = pickColour(rng, vehicle.kind, vehicle.view);
    const plate = randomPlateText(rng, colour);
    // Two-row yellow plates hold 7 characters; a 学/挂 suffix fits them too.
    specs.push({ seed: Math.floor(rng.next() * 2 ** 31), vehicle: vehicle.id, truth: { plate, colour, rows }, style: randomPlateStyle(rng), width });
  }
  return specs;
}

function vehicleById(id: string): VehiclePhoto {
  const v = VEHICLE_PHOTOS.find((p) => p.id === id);
  if (!v) throw new RangeError(`no vehicle photo ${id}`);
  return v;
}

function bounds(q: Quad, w: number, h: number): Box {
  const xs = q.map((p) => p.x);
  const ys = q.map((p) => p.y);
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const x1 = Math.min(w, Math.ceil(Math.max(...xs)));
  const y1 = Math.min(h, Math.ceil(Math.max(...ys)));
  return { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0) };
}

/**
 * Renders one sample of `spec`. `view` 0 is the spec's own framing; other views jitter scale (+-15%), framing,
 * angle and degradation, as the frames of one pass do.
 */
export async function renderSample(spec: PlateSpec, view = 0): Promise<PlateSample> {
  const v = vehicleById(spec.vehicle);
  const rng = new Prng(view === 0 ? spec.seed : (spec.seed ^ Math.imul(view, 0x27d4eb2d)) | 0);
  const layout = plateLayout(spec.truth.colour, spec.truth.rows, [...spec.truth.plate].length);
  const width = view === 0 ? spec.width : spec.width * rng.range(0.85, 1.15);
  const plateH = (width * layout.heightMm) / layout.widthMm;
  // The photo's spot width is for a 440 mm plate; a 480 mm new-energy plate is wider on the same vehicle.
  const scale = width / (v.plate.width * (layout.widthMm / 440));
  const margin = (k: number): number => k * rng.range(0.08, 0.3);
  const ctx = { x: v.box.x - margin(v.box.w), y: v.box.y - margin(v.box.h), w: 0, h: 0 };
  const photo = await loadPhoto(v.file);
  const x1 = Math.min(photo.width, v.box.x + v.box.w + margin(v.box.w));
  const y1 = Math.min(photo.height, v.box.y + v.box.h + margin(v.box.h));
  ctx.x = Math.max(0, ctx.x); ctx.y = Math.max(0, ctx.y);
  ctx.w = x1 - ctx.x; ctx.h = y1 - ctx.y;
  const left = Math.floor(ctx.x);
  const top = Math.floor(ctx.y);
  const image = await cropScaled(photo, { x: left, y: top, w: ctx.w, h: ctx.h }, scale);
  const sx = image.width / Math.ceil(Math.min(photo.width - left, ctx.w));
  const sy = image.height / Math.ceil(Math.min(photo.height - top, ctx.h));
  const cx = (v.plate.cx - left) * sx + rng.range(-0.03, 0.03) * width;
  const cy = (v.plate.cy - top) * sy + rng.range(-0.05, 0.05) * plateH;
  // Street cameras look down on plates (pitch) and rarely square on (yaw); plates hang a little askew (roll).
  const quad = plateQuad(cx, cy, width, plateH, v.yaw + rng.range(-6, 6), rng.range(0, 14), rng.range(-3, 3));
  const pxPerMm = Math.min(4, Math.max(0.3, (1.6 * width) / layout.widthMm));
  const plate = await renderPlate({ text: spec.truth.plate, colour: spec.truth.colour, rows: spec.truth.rows, style: spec.style, pxPerMm });
  warpInto(image, plate, quad);
  const degradation = randomDegradation(rng);
  // Blur in the set is relative to a 120 px plate, so small plates are not blurred out of existence.
  degrade(image, { ...degradation, blur: degradation.blur * Math.min(1, width / 120) }, rng);
  const plateBox = bounds(quad, image.width, image.height);
  const vb = { x: (v.box.x - left) * sx, y: (v.box.y - top) * sy, w: v.box.w * sx, h: v.box.h * sy };
  const vehicleBox = bounds([{ x: vb.x, y: vb.y }, { x: vb.x + vb.w, y: vb.y }, { x: vb.x + vb.w, y: vb.y + vb.h }, { x: vb.x, y: vb.y + vb.h }], image.width, image.height);
  return {
    image, vehicleBox, plateBox, plateQuad: quad, truth: spec.truth, plateWidth: plateBox.w,
    vehicle: { id: v.id, kind: v.kind, view: v.view, from: v.from }, degradation, spec,
  };
}

/** The set: `count` samples, deterministic for `seed`. Rejects on bad options. */
export async function plateSet(o: PlateSetOptions): Promise<PlateSample[]> {
  const specs = plateSpecs(o);
  const out: PlateSample[] = [];
  for (const s of specs) out.push(await renderSample(s));
  return out;
}

/** `n` views of one vehicle and plate (view 0 is the sample itself), for a track's several frames. */
export async function plateViews(spec: PlateSpec, n: number): Promise<PlateSample[]> {
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new RangeError('n must be an integer in [1, 100]');
  const out: PlateSample[] = [];
  for (let k = 0; k < n; k++) out.push(await renderSample(spec, k));
  return out;
}

export interface RobustnessCase {
  readonly image: RgbImage;
  readonly from: string;
  /** Unknown text (a foreign plate blurred by motion): no truth to read. */
  readonly truth: null;
  readonly expect: 'no confident mainland reading';
}

/** opencv-doc's licenseplate_motion.jpg: a reader should not return a confident mainland plate for it. */
export async function motionBlurCase(): Promise<RobustnessCase> {
  const image = await loadPhoto(MOTION_BLUR_PLATE.file);
  return { image, from: MOTION_BLUR_PLATE.from, truth: null, expect: 'no confident mainland reading' };
}
