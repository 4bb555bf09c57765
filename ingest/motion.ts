/**
 * The motion gate, one per camera: decides per frame whether the detector needs to see it. A cheap background
 * model on a small grey copy of the analysis frame (160 pixels wide): running-average background, absolute
 * difference against a threshold, cleanup by counting set pixels per 4x4 block (lone noisy pixels never fill a
 * block), then connected components over the blocks give motion regions as boxes in analysis-frame pixels.
 * Frames without motion skip detection; every `forceEvery`-th frame is analysed anyway so people standing still
 * are re-detected before their tracks are dropped.
 */
import type { MotionConfig } from '../config/index.js';
import type { Box, Frame } from '../common/messages.js';

/** Width of the grey model; its height keeps the frame's aspect. */
export const MOTION_WIDTH = 160;
/** Side of the cleanup blocks, in model pixels. */
const BLOCK = 4;
/** A block is set when at least this share of its pixels differ: isolated pixels (noise, compression) do not. */
const BLOCK_FILL = 0.25;

export interface MotionVerdict {
  /** True when the frame goes to the detector (motion, first frame, or forced). */
  readonly analyse: boolean;
  /** True when analysed only because `forceEvery` frames went by without detection. */
  readonly forced: boolean;
  /** Motion regions in analysis-frame pixels (empty when none). */
  readonly regions: readonly Box[];
}

/** A frame that went through the gate. The pipeline sends frames with `motion.analyse === false` to `tracker.skip`. */
export interface GatedFrame extends Frame {
  readonly motion: MotionVerdict;
}

/** Whether a frame goes to the detector: frames that never met a gate always do. */
export function shouldAnalyse(frame: Frame): boolean {
  return (frame as Partial<GatedFrame>).motion?.analyse !== false;
}

/** Smallest crop side in frame pixels: a detector needs context around a person, and its input a few cells. */
export const MIN_CROP_SIDE = 96;

/**
 * Where to detect when only part of the frame moves: the union of the motion regions grown by `margin` of its
 * size on each side (at least MIN_CROP_SIDE), clamped to the frame; null when there is no motion, the frame
 * was forced (still objects must be re-detected on the whole frame), or the crop would cover more than
 * `maxArea` of the frame (then the whole frame costs little more).
 */
export function motionCrop(verdict: MotionVerdict, frameW: number, frameH: number, margin: number, maxArea: number): Box | null {
  if (!verdict.analyse || verdict.forced || verdict.regions.length === 0) return null;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const r of verdict.regions) {
    x0 = Math.min(x0, r.x); y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.w); y1 = Math.max(y1, r.y + r.h);
  }
  const grow = (lo: number, hi: number, size: number): [number, number] => {
    const side = Math.max(MIN_CROP_SIDE, (hi - lo) * (1 + 2 * margin));
    const mid = (lo + hi) / 2;
    let a = Math.floor(mid - side / 2);
    let b = Math.ceil(mid + side / 2);
    if (a < 0) { b -= a; a = 0; }
    if (b > size) { a -= b - size; b = size; }
    return [Math.max(0, a), Math.min(size, b)];
  };
  const [cx0, cx1] = grow(x0, x1, frameW);
  const [cy0, cy1] = grow(y0, y1, frameH);
  const crop = { x: cx0, y: cy0, w: cx1 - cx0, h: cy1 - cy0 };
  return crop.w * crop.h > maxArea * frameW * frameH ? null : crop;
}

type Polygon = readonly (readonly [number, number])[];

function inside(poly: Polygon, x: number, y: number): boolean {
  let hit = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

export class MotionGate {
  readonly width: number;
  readonly height: number;
  #cfg: MotionConfig;
  #frameW: number;
  #frameH: number;
  #bg: Float32Array | null = null;
  #grey: Float32Array;
  #ignore: Uint8Array | null;
  #bw: number;
  #bh: number;
  #blockCount: Uint16Array;
  #labels: Int32Array;
  /** Model column of each frame column, model row offset of each frame row, 1/(frame pixels) per model pixel. */
  #colMap: Int32Array;
  #rowMap: Int32Array;
  #invCount: Float32Array;
  #sinceAnalysed = 0;
  #frames = 0;
  #skipped = 0;

  constructor(cfg: MotionConfig, frameWidth: number, frameHeight: number) {
    if (!Number.isInteger(frameWidth) || frameWidth < 1) throw new RangeError('frameWidth must be a positive integer');
    if (!Number.isInteger(frameHeight) || frameHeight < 1) throw new RangeError('frameHeight must be a positive integer');
    this.#cfg = cfg;
    this.#frameW = frameWidth;
    this.#frameH = frameHeight;
    this.width = Math.min(MOTION_WIDTH, frameWidth);
    this.height = Math.max(1, Math.round((this.width * frameHeight) / frameWidth));
    this.#grey = new Float32Array(this.width * this.height);
    this.#bw = Math.ceil(this.width / BLOCK);
    this.#bh = Math.ceil(this.height / BLOCK);
    this.#blockCount = new Uint16Array(this.#bw * this.#bh);
    this.#labels = new Int32Array(this.#bw * this.#bh);
    this.#ignore = cfg.masks.length ? this.#rasterise(cfg.masks) : null;
    const w = this.width;
    const h = this.height;
    this.#colMap = Int32Array.from({ length: frameWidth }, (_, fx) => Math.min(w - 1, Math.floor((fx * w) / frameWidth)));
    this.#rowMap = Int32Array.from({ length: frameHeight }, (_, fy) => Math.min(h - 1, Math.floor((fy * h) / frameHeight)) * w);
    const counts = new Float32Array(w * h);
    for (let fy = 0; fy < frameHeight; fy++) for (let fx = 0; fx < frameWidth; fx++) counts[this.#rowMap[fy]! + this.#colMap[fx]!]!++;
    this.#invCount = counts.map((c) => (c > 0 ? 1 / c : 0));
  }

  get frames(): number { return this.#frames; }
  /** Frames the gate kept from the detector. */
  get skipped(): number { return this.#skipped; }

  /** Masks drawn in analysis-frame pixels, sampled at the centre of each model pixel. */
  #rasterise(masks: readonly Polygon[]): Uint8Array {
    const out = new Uint8Array(this.width * this.height);
    const sx = this.#frameW / this.width;
    const sy = this.#frameH / this.height;
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        const fx = (x + 0.5) * sx;
        const fy = (y + 0.5) * sy;
        if (masks.some((m) => inside(m, fx, fy))) out[y * this.width + x] = 1;
      }
    }
    return out;
  }

  /** Area-averaged grey (BT.601 luma) downscale of an RGB24 frame into the model buffer. */
  #downscale(rgb: Uint8Array): void {
    const W = this.#frameW;
    const grey = this.#grey;
    grey.fill(0);
    const cols = this.#colMap;
    const rows = this.#rowMap;
    for (let fy = 0, i = 0; fy < this.#frameH; fy++) {
      const base = rows[fy]!;
      for (let fx = 0; fx < W; fx++, i += 3) {
        grey[base + cols[fx]!]! += 0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!;
      }
    }
    const inv = this.#invCount;
    for (let k = 0; k < grey.length; k++) grey[k] = grey[k]! * inv[k]!;
  }

  /** Runs the model on one frame and decides whether it goes to the detector. */
  check(frame: Frame): MotionVerdict {
    if (frame.width !== this.#frameW || frame.height !== this.#frameH) throw new RangeError(`frame is ${frame.width}x${frame.height}, the gate expects ${this.#frameW}x${this.#frameH}`);
    this.#frames++;
    this.#downscale(frame.data);
    const grey = this.#grey;
    if (!this.#bg) {
      // No background yet: learn it from this frame and let the detector see it.
      this.#bg = Float32Array.from(grey);
      this.#sinceAnalysed = 0;
      return { analyse: true, forced: false, regions: [] };
    }
    const regions = this.#regions(grey, this.#bg);
    const a = this.#cfg.alpha;
    const bg = this.#bg;
    for (let k = 0; k < bg.length; k++) bg[k] = bg[k]! + a * (grey[k]! - bg[k]!);

    const moving = regions.length > 0;
    const k = this.#cfg.forceEvery;
    const forced = !moving && k > 0 && this.#sinceAnalysed + 1 >= k;
    const analyse = moving || forced;
    if (analyse) this.#sinceAnalysed = 0;
    else { this.#sinceAnalysed++; this.#skipped++; }
    return { analyse, forced, regions };
  }

  #regions(grey: Float32Array, bg: Float32Array): Box[] {
    const { width: w, height: h } = this;
    const bw = this.#bw;
    const bh = this.#bh;
    const counts = this.#blockCount;
    counts.fill(0);
    const t = this.#cfg.threshold;
    const ignore = this.#ignore;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const k = y * w + x;
        if (ignore && ignore[k]) continue;
        if (Math.abs(grey[k]! - bg[k]!) > t) counts[((y / BLOCK) | 0) * bw + ((x / BLOCK) | 0)]!++;
      }
    }
    const need = Math.max(1, Math.ceil(BLOCK * BLOCK * BLOCK_FILL));
    const labels = this.#labels;
    labels.fill(0);
    const minPixels = this.#cfg.minArea * w * h;
    const sx = this.#frameW / w;
    const sy = this.#frameH / h;
    const boxes: Box[] = [];
    const stack: number[] = [];
    let next = 0;
    for (let b = 0; b < counts.length; b++) {
      if (counts[b]! < need || labels[b]) continue;
      // 8-connected flood fill over set blocks.
      next++;
      labels[b] = next;
      stack.push(b);
      let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1, pixels = 0;
      while (stack.length) {
        const c = stack.pop()!;
        const cx = c % bw;
        const cy = (c / bw) | 0;
        pixels += counts[c]!;
        if (cx < x0) x0 = cx;
        if (cy < y0) y0 = cy;
        if (cx > x1) x1 = cx;
        if (cy > y1) y1 = cy;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const nx = cx + dx;
            const ny = cy + dy;
            if (nx < 0 || ny < 0 || nx >= bw || ny >= bh) continue;
            const n = ny * bw + nx;
            if (!labels[n] && counts[n]! >= need) { labels[n] = next; stack.push(n); }
          }
        }
      }
      if (pixels < minPixels) continue;
      const px = x0 * BLOCK * sx;
      const py = y0 * BLOCK * sy;
      boxes.push({
        x: Math.round(px), y: Math.round(py),
        w: Math.round(Math.min(this.#frameW, (x1 + 1) * BLOCK * sx) - px),
        h: Math.round(Math.min(this.#frameH, (y1 + 1) * BLOCK * sy) - py),
      });
    }
    return boxes;
  }
}
