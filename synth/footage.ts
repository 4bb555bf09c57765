/**
 * The demo's plate camera footage, made once at set-up: a real street photo (dlib's taxi rank) as the view of a
 * fixed camera, and vehicles from real photos driving away from it or towards it along the lane, each with a
 * rendered mainland plate warped onto its plate spot, plus two side-view cars crossing without a readable plate.
 * Each plate vehicle is in view 5 s and its plate is at least 110 px wide for about 1.5 s of that (it pulls away
 * slowly, or slows down as it comes near); the detector finds them (cvcore analyze --classes car,truck,bus). H.264 with a keyframe every 20 frames and no B-frames, like
 * vtest.mp4, so the RTSP publishers only copy packets. The truth (plates, colours, per-frame boxes) goes beside
 * it as JSON.
 */
import { spawn } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import type { Box } from '../common/messages.js';
import type { PlateColour } from '../common/plates.js';
import { cropScaled, cropTo, loadPhoto } from './photo-cache.js';
import { plateLayout, type PlateRows } from './plate-layout.js';
import { randomPlateStyle, renderPlate, type PlateStyle, type RenderedPlate } from './plate-render.js';
import { randomPlateText } from './plate-text.js';
import { Prng } from './prng.js';
import { SIDE_VIEW_PHOTOS, VEHICLE_PHOTOS, type VehicleKind } from './vehicles.js';
import { plateQuad, warpInto, type RgbImage } from './warp.js';

/** Bump when the footage changes, so the set-up makes it again. */
export const FOOTAGE_VERSION = 3;
// 768x576 rather than 640x480: a 110 px plate sits on a car about 450 px wide, and centernet scores a car that
// fills 70% of the frame too low to start a track (measured with cvcore analyze on this footage).
export const PLATE_FOOTAGE = { video: 'plates.mp4', truth: 'plates.json', width: 768, height: 576, fps: 10, seconds: 40, seed: 20240 } as const;
/** The plate width the readable part of each pass reaches. */
export const READABLE_PLATE_PX = 110;

const BACKGROUND = { file: 'mmod_cars_test_image.jpg', from: 'libdlib19.1:/usr/share/doc/libdlib19.1/examples/mmod_cars_test_image.jpg', box: { x: 0, y: 0, w: 637, h: 478 } } as const;
/** Where the lane is in the background: the bottom-centre of a vehicle near the camera and far down the road. */
const NEAR_Y = 564;
const FAR = { x: 654, y: 310 };

interface PlatePass {
  readonly vehicle: string;
  /** The photo flipped left to right (the plate is rendered after the flip, so it reads the right way). */
  readonly mirror: boolean;
  readonly nearX: number;
  readonly colour: PlateColour;
  readonly rows: PlateRows;
  readonly direction: 'away' | 'toward';
  readonly start: number;
  readonly duration: number;
  /** Plate width in pixels at the nearest and farthest point. */
  readonly nearPlate: number;
  readonly farPlate: number;
}
interface SidePass { readonly vehicle: string; readonly start: number; readonly duration: number; readonly width: number; readonly y: number }

// Five passes of 5 s, 3 s apart (longer than the tracker's 2.4 s memory), so one vehicle's track ends before the
// next comes. Only the photos whose vehicle fits the frame with a 110 px plate are used (the pickup and the buses
// would be wider than the frame); two come back mirrored with other plates. nearX: the plate's x when nearest.
const PASSES: readonly PlatePass[] = [
  { vehicle: 'sedan-rear', mirror: false, colour: 'blue', rows: 1, direction: 'away', start: 0, duration: 5, nearPlate: 118, farPlate: 36, nearX: 400 },
  { vehicle: 'black-suv-front', mirror: false, colour: 'green', rows: 1, direction: 'toward', start: 8, duration: 5, nearPlate: 120, farPlate: 36, nearX: 280 },
  { vehicle: 'white-sedan-rear', mirror: false, colour: 'black', rows: 1, direction: 'away', start: 16, duration: 5, nearPlate: 120, farPlate: 36, nearX: 400 },
  { vehicle: 'black-suv-front', mirror: true, colour: 'yellow', rows: 1, direction: 'toward', start: 24, duration: 5, nearPlate: 120, farPlate: 36, nearX: 500 },
  { vehicle: 'sedan-rear', mirror: true, colour: 'white', rows: 1, direction: 'away', start: 32, duration: 5, nearPlate: 118, farPlate: 36, nearX: 400 },
];
const SIDE_PASSES: readonly SidePass[] = [
  { vehicle: 'black-sedan-side', start: 4.5, duration: 5, width: 360, y: 382 },
  { vehicle: 'silver-sedan-side', start: 20.5, duration: 5, width: 372, y: 386 },
];

export interface FootageFrameBoxes { readonly frame: number; readonly vehicleBox: Box; readonly plateBox: Box; readonly plateWidth: number }
export interface FootageVehicle {
  readonly id: string;
  readonly kind: VehicleKind;
  readonly photo: string;
  /** Canonical plate, or null for the side views (no plate faces the camera). */
  readonly plate: string | null;
  readonly colour: PlateColour | null;
  readonly rows: PlateRows | null;
  readonly font: string | null;
  readonly direction: 'away' | 'toward' | 'crossing';
  readonly firstFrame: number;
  readonly lastFrame: number;
  /** Frames where the plate is at least READABLE_PLATE_PX wide. */
  readonly readableFrames: number;
  readonly maxPlateWidth: number;
  readonly frames: readonly { readonly frame: number; readonly vehicleBox: Box; readonly plateBox: Box | null; readonly plateWidth: number | null }[];
}
export interface FootageTruth {
  readonly version: number;
  readonly video: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly frames: number;
  readonly background: { readonly from: string; readonly note: string };
  readonly fonts: readonly string[];
  readonly vehicles: readonly FootageVehicle[];
}

interface Sprite { img: RgbImage; x: number; y: number }

/** The vehicle crop at `scale`, composited with feathered edges (the crop holds a little road around it). */
function composite(frame: RgbImage, s: Sprite): void {
  const { img } = s;
  const fx = Math.max(2, img.width * 0.06);
  const fy = Math.max(2, img.height * 0.06);
  const x0 = Math.max(0, Math.round(s.x));
  const y0 = Math.max(0, Math.round(s.y));
  const x1 = Math.min(frame.width, Math.round(s.x) + img.width);
  const y1 = Math.min(frame.height, Math.round(s.y) + img.height);
  for (let y = y0; y < y1; y++) {
    const sy = y - Math.round(s.y);
    const ay = Math.min(1, (sy + 0.5) / fy, (img.height - sy - 0.5) / fy);
    for (let x = x0; x < x1; x++) {
      const sx = x - Math.round(s.x);
      const a = Math.min(ay, (sx + 0.5) / fx, (img.width - sx - 0.5) / fx);
      if (a <= 0) continue;
      const o = (y * frame.width + x) * 3;
      const i = (sy * img.width + sx) * 3;
      for (let c = 0; c < 3; c++) frame.data[o + c] = Math.round(frame.data[o + c]! * (1 - a) + img.data[i + c]! * a);
    }
  }
}

function clip(b: Box, w: number, h: number): Box | null {
  const x0 = Math.max(0, b.x);
  const y0 = Math.max(0, b.y);
  const x1 = Math.min(w, b.x + b.w);
  const y1 = Math.min(h, b.y + b.h);
  if (x1 - x0 < 2 || y1 - y0 < 2) return null;
  return { x: Math.round(x0), y: Math.round(y0), w: Math.round(x1 - x0), h: Math.round(y1 - y0) };
}

/** Plates pre-rendered at a few resolutions; each frame warps from the smallest one at least 1.4x its size. */
async function platePyramid(text: string, colour: PlateColour, rows: PlateRows, style: PlateStyle): Promise<RenderedPlate[]> {
  const out: RenderedPlate[] = [];
  for (const pxPerMm of [0.12, 0.18, 0.25, 0.35, 0.5, 0.7]) out.push(await renderPlate({ text, colour, rows, style, pxPerMm }));
  return out;
}

interface Planned {
  readonly pass: PlatePass;
  readonly text: string;
  readonly style: PlateStyle;
  readonly pyramid: RenderedPlate[];
  readonly frames: FootageVehicle['frames'][number][];
}

/** Renders the footage's frames in order, handing each (RGB24) to `sink`; returns the truth. */
export async function renderFootage(sink: (frame: Uint8Array) => Promise<void>, seed: number = PLATE_FOOTAGE.seed): Promise<FootageTruth> {
  const { width: W, height: H, fps, seconds } = PLATE_FOOTAGE;
  const total = Math.round(fps * seconds);
  const rng = new Prng(seed);
  const bgPhoto = await loadPhoto(BACKGROUND.file);
  const bgScaled = await cropTo(bgPhoto, BACKGROUND.box, W, H);
  const planned: Planned[] = [];
  for (const pass of PASSES) {
    const text = randomPlateText(rng, pass.colour);
    // Footage plates stay legible: a normal weight, the usual border.
    const style = { ...randomPlateStyle(rng), weight: rng.range(0.3, 1.1), border: true };
    planned.push({ pass, text, style, pyramid: await platePyramid(text, pass.colour, pass.rows, style), frames: [] });
  }
  const sideFrames = SIDE_PASSES.map(() => [] as FootageVehicle['frames'][number][]);
  for (let f = 0; f < total; f++) {
    const t = f / fps;
    const frame: RgbImage = { data: new Uint8Array(W * H * 3), width: W, height: H };
    frame.data.set(bgScaled.data.subarray(0, W * H * 3));
    // Side views cross in the far lane, so they are drawn first.
    for (const [k, sp] of SIDE_PASSES.entries()) {
      const u = (t - sp.start) / sp.duration;
      if (u < 0 || u > 1) continue;
      const v = SIDE_VIEW_PHOTOS.find((p) => p.id === sp.vehicle)!;
      const scale = sp.width / v.box.w;
      const img = await cropScaled(await loadPhoto(v.file), v.box, scale);
      const x = W + 20 - u * (W + 40 + img.width);
      const y = sp.y - img.height;
      composite(frame, { img, x, y });
      const vb = clip({ x, y, w: img.width, h: img.height }, W, H);
      if (vb) sideFrames[k]!.push({ frame: f, vehicleBox: vb, plateBox: null, plateWidth: null });
    }
    // Farther vehicles first, so a near one covers a far one.
    const live = planned.map((p) => ({ p, u: (t - p.pass.start) / p.pass.duration })).filter(({ u }) => u >= 0 && u <= 1);
    const placed = live.map(({ p, u }) => {
      // Depth grows with the cube of time when pulling away from a stop (and shrinks so when stopping near the
      // camera), which keeps the plate large for the first (or last) 40% of the pass.
      const e = p.pass.direction === 'away' ? u ** 3 : (1 - u) ** 3;
      const zFar = p.pass.nearPlate / p.pass.farPlate;
      const q = 1 / (1 + (zFar - 1) * e);
      return { p, q, plateW: p.pass.nearPlate * q };
    }).sort((a, b) => a.q - b.q);
    for (const { p, q, plateW } of placed) {
      const v = VEHICLE_PHOTOS.find((x) => x.id === p.pass.vehicle)!;
      const layout = plateLayout(p.pass.colour, p.pass.rows, [...p.text].length);
      const scale = plateW / (v.plate.width * (layout.widthMm / 440));
      const margin = { x: v.box.x - v.box.w * 0.04, y: v.box.y - v.box.h * 0.04, w: v.box.w * 1.08, h: v.box.h * 1.08 };
      const img = await cropScaled(await loadPhoto(v.file), margin, scale, p.pass.mirror);
      const sx = img.width / margin.w;
      const sy = img.height / margin.h;
      // The plate spot rides the lane: near the camera at (nearX, NEAR_Y), far at FAR, linear in 1/depth (perspective).
      const qFar = p.pass.farPlate / p.pass.nearPlate;
      const k = (q - qFar) / (1 - qFar);
      const bottom = { x: FAR.x + (p.pass.nearX - FAR.x) * k, y: FAR.y + (NEAR_Y - FAR.y) * k };
      // Plate centre and vehicle box within the (possibly mirrored) crop.
      const flip = (px: number): number => (p.pass.mirror ? 2 * margin.x + margin.w - px : px);
      const pcx = flip(v.plate.cx);
      const vbx = p.pass.mirror ? flip(v.box.x + v.box.w) : v.box.x;
      const x = bottom.x - (pcx - margin.x) * sx;
      const y = bottom.y - img.height;
      const plateH = (plateW * layout.heightMm) / layout.widthMm;
      const quad = plateQuad((pcx - margin.x) * sx, (v.plate.cy - margin.y) * sy, plateW, plateH, p.pass.mirror ? -v.yaw : v.yaw, 8, 0);
      const src = p.pyramid.find((r) => r.width >= plateW * 1.4) ?? p.pyramid[p.pyramid.length - 1]!;
      warpInto(img, src, quad);
      composite(frame, { img, x, y });
      const xs = quad.map((c) => c.x + x);
      const ys = quad.map((c) => c.y + y);
      const plateBox = clip({ x: Math.min(...xs), y: Math.min(...ys), w: Math.max(...xs) - Math.min(...xs), h: Math.max(...ys) - Math.min(...ys) }, W, H);
      const vehicleBox = clip({ x: x + (vbx - margin.x) * sx, y: y + (v.box.y - margin.y) * sy, w: v.box.w * sx, h: v.box.h * sy }, W, H);
      if (vehicleBox) p.frames.push({ frame: f, vehicleBox, plateBox, plateWidth: plateBox ? Math.round(Math.max(...xs) - Math.min(...xs)) : null });
    }
    await sink(frame.data);
  }
  const vehicles: FootageVehicle[] = [];
  const summary = (frames: FootageVehicle['frames']): Pick<FootageVehicle, 'firstFrame' | 'lastFrame' | 'readableFrames' | 'maxPlateWidth'> => ({
    firstFrame: frames[0]?.frame ?? -1,
    lastFrame: frames[frames.length - 1]?.frame ?? -1,
    readableFrames: frames.filter((x) => (x.plateWidth ?? 0) >= READABLE_PLATE_PX && x.plateBox !== null).length,
    maxPlateWidth: Math.max(0, ...frames.map((x) => x.plateWidth ?? 0)),
  });
  for (const p of planned) {
    const v = VEHICLE_PHOTOS.find((x) => x.id === p.pass.vehicle)!;
    vehicles.push({ id: p.pass.mirror ? `${v.id}-mirrored` : v.id, kind: v.kind, photo: v.from, plate: p.text, colour: p.pass.colour, rows: p.pass.rows, font: p.style.font, direction: p.pass.direction, ...summary(p.frames), frames: p.frames });
  }
  for (const [k, sp] of SIDE_PASSES.entries()) {
    const v = SIDE_VIEW_PHOTOS.find((x) => x.id === sp.vehicle)!;
    vehicles.push({ id: v.id, kind: v.kind, photo: v.from, plate: null, colour: null, rows: null, font: null, direction: 'crossing', ...summary(sideFrames[k]!), frames: sideFrames[k]! });
  }
  return {
    version: FOOTAGE_VERSION, video: PLATE_FOOTAGE.video, width: W, height: H, fps, frames: total,
    background: { from: BACKGROUND.from, note: 'four parked taxis with small US plates stand in the view throughout; no mainland plate is expected from them' },
    fonts: [...new Set(planned.map((p) => p.style.font))],
    vehicles,
  };
}

/** Writes the footage (H.264, -g 20 -bf 0) and its truth JSON into `dir`, through temporary names. */
export async function writePlateFootage(dir: string, ffmpeg = 'ffmpeg'): Promise<FootageTruth> {
  const { width, height, fps } = PLATE_FOOTAGE;
  const video = `${dir}/${PLATE_FOOTAGE.video}`;
  const tmp = `${video}.tmp.mp4`;
  const enc = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', '-',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-crf', '18', '-g', '20', '-bf', '0', '-pix_fmt', 'yuv420p', '-an', tmp], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  enc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<void>((resolve, reject) => {
    enc.once('error', reject);
    enc.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}: ${stderr.trim()}`))));
  });
  const truth = await renderFootage((frame) => new Promise<void>((resolve, reject) => {
    enc.stdin.write(frame, (err) => (err ? reject(err) : resolve()));
  }));
  enc.stdin.end();
  await done;
  await rename(tmp, video);
  const json = `${dir}/${PLATE_FOOTAGE.truth}`;
  await writeFile(`${json}.tmp`, JSON.stringify(truth));
  await rename(`${json}.tmp`, json);
  return truth;
}
