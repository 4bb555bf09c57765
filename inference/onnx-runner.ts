/**
 * The detector on onnxruntime (CPU kernels, `inference.backend: "onnx"`): centernet's backbone, translated from
 * its verified tfjs graph at set-up (models/onnx-convert.ts, checked by sha256), runs in ONNX Runtime; resizing
 * and the small post-processing head run here in plain JS, written from the tfjs graph so the detections are
 * the same (a test compares them with the tfjs path on real frames). The same network costs about a quarter of
 * tfjs-wasm's CPU (README "Choosing the detector").
 *
 * Head, as in the graph: a class heat map [g, g, 80] (sigmoid) whose local maxima over 3x3 are peaks, the 100
 * strongest peaks over every cell and class, and for each the box distances [left, top, right, bottom] at that
 * cell: x1 = 4x - l, y1 = 4y - t, x2 = 4x + r, y2 = 4y + b in input pixels (the stride is 4 at every size).
 */
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { InferenceError, ModelError } from '../common/errors.js';
import type { Box, Detection } from '../common/messages.js';
import { MODELS_DIR, modelEntry, type ModelEntry } from '../models/index.js';
import { decodeCenternet, type DecodeOptions } from './detector.js';
import type { Detector, FrameInput } from './runner.js';

const STRIDE = 4;
const TOP_K = 100;
const CLASSES = 80;

type OrtModule = typeof Ort;
const require = createRequire(import.meta.url);
let ort: OrtModule | null = null;
export function loadOrt(): OrtModule {
  if (!ort) {
    try {
      ort = require('onnxruntime-node') as OrtModule;
    } catch (cause) {
      throw new InferenceError('INFERENCE_BACKEND_UNAVAILABLE', 'backend "onnx" needs the npm package onnxruntime-node, which is not installed on this machine', { cause, detail: { backend: 'onnx', package: 'onnxruntime-node' } });
    }
  }
  return ort;
}

/**
 * Bilinear resize of an RGB24 frame (or of the part `src` of it) into `out` (float32 NHWC at `offset`, ow x oh),
 * as tfjs's resizeBilinear does it (no corner alignment, no half-pixel centres: source = destination x in / out),
 * so both backends see the same pixels.
 */
export function resizeBilinearRgb(data: Uint8Array, w: number, h: number, ow: number, out: Float32Array, offset: number, oh = ow, src: Box = { x: 0, y: 0, w, h }): void {
  const sy = src.h / oh;
  const sx = src.w / ow;
  const x0s = new Int32Array(ow);
  const x1s = new Int32Array(ow);
  const dxs = new Float32Array(ow);
  for (let x = 0; x < ow; x++) {
    const fx = src.x + x * sx;
    const x0 = Math.floor(fx);
    x0s[x] = x0 * 3;
    x1s[x] = Math.min(x0 + 1, src.x + src.w - 1, w - 1) * 3;
    dxs[x] = fx - x0;
  }
  let o = offset;
  for (let y = 0; y < oh; y++) {
    const fy = src.y + y * sy;
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, src.y + src.h - 1, h - 1);
    const dy = fy - y0;
    const r0 = y0 * w * 3;
    const r1 = y1 * w * 3;
    for (let x = 0; x < ow; x++) {
      const a = x0s[x]!, b = x1s[x]!, dx = dxs[x]!;
      for (let c = 0; c < 3; c++) {
        const top = data[r0 + a + c]! + (data[r0 + b + c]! - data[r0 + a + c]!) * dx;
        const bottom = data[r1 + a + c]! + (data[r1 + b + c]! - data[r1 + a + c]!) * dx;
        out[o++] = top + (bottom - top) * dy;
      }
    }
  }
}

/**
 * The head for one frame: rows of [x1, y1, x2, y2, score, class] for the strongest peaks, as the graph's
 * `tower_0/detections` gives them. Only peaks at or above `floor` are considered: the decoder drops the rest,
 * and the top 100 above a floor are the top 100 overall wherever there are 100 of them.
 */
export function centernetHead(heat: Float32Array, wh: Float32Array, g: number, offset: number, whOffset: number, floor: number, gw: number = g): Float32Array {
  const scores: number[] = [];
  const index: number[] = [];
  // g rows of gw cells (a square input: gw = g).
  for (let y = 0; y < g; y++) {
    for (let x = 0; x < gw; x++) {
      const cell = offset + (y * gw + x) * CLASSES;
      for (let c = 0; c < CLASSES; c++) {
        const v = heat[cell + c]!;
        if (v < floor) continue;
        if (!isPeak(heat, g, gw, offset, x, y, c, v)) continue;
        // Keep the strongest TOP_K, ordered by score then by flat index (TopK's order for ties).
        const flat = (y * gw + x) * CLASSES + c;
        let k = scores.length;
        if (k === TOP_K && v <= scores[k - 1]!) continue;
        while (k > 0 && scores[k - 1]! < v) k--;
        scores.splice(k, 0, v);
        index.splice(k, 0, flat);
        if (scores.length > TOP_K) { scores.pop(); index.pop(); }
      }
    }
  }
  const rows = new Float32Array(scores.length * 6);
  for (let i = 0; i < scores.length; i++) {
    const flat = index[i]!;
    const cls = flat % CLASSES;
    const pos = (flat - cls) / CLASSES;
    const x = pos % gw;
    const y = (pos - x) / gw;
    const d = whOffset + pos * 4;
    rows[i * 6] = x * STRIDE - wh[d]!;
    rows[i * 6 + 1] = y * STRIDE - wh[d + 1]!;
    rows[i * 6 + 2] = x * STRIDE + wh[d + 2]!;
    rows[i * 6 + 3] = y * STRIDE + wh[d + 3]!;
    rows[i * 6 + 4] = scores[i]!;
    rows[i * 6 + 5] = cls;
  }
  return rows;
}

/** Max pooling 3x3, stride 1, SAME (borders padded with -inf): v is a peak when nothing around it is larger. */
function isPeak(heat: Float32Array, g: number, gw: number, offset: number, x: number, y: number, c: number, v: number): boolean {
  for (let yy = Math.max(0, y - 1); yy <= Math.min(g - 1, y + 1); yy++) {
    for (let xx = Math.max(0, x - 1); xx <= Math.min(gw - 1, x + 1); xx++) {
      if (heat[offset + (yy * gw + xx) * CLASSES + c]! > v) return false;
    }
  }
  return true;
}

/** Crop inputs are multiples of the backbone's largest stride, so its up-sampled maps meet its skip connections. */
const CROP_STRIDE = 32;

function check(f: FrameInput): void {
  if (f.data.length !== f.width * f.height * 3) throw new InferenceError('INFERENCE_BAD_INPUT', `frame buffer of ${f.data.length} bytes is not ${f.width}x${f.height} RGB24`);
}

export class OnnxDetectorRunner implements Detector {
  readonly entry: ModelEntry;
  readonly inputSize: number;
  readonly #session: Ort.InferenceSession;
  readonly #decode: DecodeOptions;
  readonly #floor: number;

  private constructor(session: Ort.InferenceSession, entry: ModelEntry, decode: DecodeOptions, inputSize: number) {
    this.#session = session;
    this.entry = entry;
    this.#decode = decode;
    this.inputSize = inputSize;
    const floors = Object.values(decode.classMinScore ?? {}).filter((v): v is number => typeof v === 'number');
    this.#floor = Math.min(decode.minScore, ...floors);
  }

  /** Loads the converted backbone (sha256 checked against the manifest) into a one-thread session. */
  static async create(modelName: string, decode: DecodeOptions, inputSize?: number, dir: string = MODELS_DIR): Promise<OnnxDetectorRunner> {
    const o = loadOrt();
    const entry = modelEntry(modelName);
    const onnx = entry.onnx;
    if (!onnx) throw new InferenceError('INFERENCE_BACKEND_UNAVAILABLE', `model ${modelName} has no ONNX translation (manifest entry "onnx")`, { detail: { backend: 'onnx', model: modelName } });
    const file = join(dir, onnx.file);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (cause) {
      throw new ModelError('MODEL_FILE_MISSING', `model file ${file} is missing; run npm run setup (it translates ${modelName} to ONNX)`, { cause, detail: { file } });
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== onnx.sha256) throw new ModelError('MODEL_FILE_CORRUPT', `${file}: sha256 ${sha} does not match the manifest's ${onnx.sha256}`, { detail: { file } });
    // One thread per session: the engine runs one session per worker thread and scales with workers, which
    // measured cheaper in CPU than intra-op threads on a small machine.
    const session = await o.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    return new OnnxDetectorRunner(session, entry, decode, inputSize ?? entry.inputShape[1] ?? 512);
  }

  async detect(frame: FrameInput): Promise<Detection[]> {
    return (await this.detectBatch([frame]))[0]!;
  }

  /**
   * One backbone run over the whole frames of the batch, then the head per frame. A frame with a crop runs on
   * its own, at an input that keeps the whole frame's pixel scale (multiples of 32, the backbone's stride).
   */
  async detectBatch(frames: readonly FrameInput[]): Promise<Detection[][]> {
    const out: Detection[][] = new Array<Detection[]>(frames.length);
    const whole: number[] = [];
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      if (f.crop) out[i] = await this.#detectCrop(f, f.crop);
      else whole.push(i);
    }
    const dets = await this.#detectWhole(whole.map((i) => frames[i]!));
    whole.forEach((i, k) => { out[i] = dets[k]!; });
    return out;
  }

  async #detectCrop(f: FrameInput, crop: Box): Promise<Detection[]> {
    const o = loadOrt();
    check(f);
    const s = this.inputSize;
    const snap = (v: number): number => Math.max(CROP_STRIDE, Math.min(s, Math.ceil(v / CROP_STRIDE) * CROP_STRIDE));
    const iw = snap((crop.w * s) / f.width);
    const ih = snap((crop.h * s) / f.height);
    const input = new Float32Array(iw * ih * 3);
    resizeBilinearRgb(f.data, f.width, f.height, iw, input, 0, ih, crop);
    const res = await this.#session.run({ images: new o.Tensor('float32', input, [1, ih, iw, 3]) });
    const g = res['keypoints']!.dims[1]!;
    const gw = res['keypoints']!.dims[2]!;
    const rows = centernetHead(res['keypoints']!.data as Float32Array, res['wh']!.data as Float32Array, g, 0, 0, this.#floor, gw);
    return decodeCenternet(rows, this.entry.labels, s, f.width, f.height, this.#decode, { ...crop, iw, ih });
  }

  async #detectWhole(frames: readonly FrameInput[]): Promise<Detection[][]> {
    if (frames.length === 0) return [];
    const o = loadOrt();
    const s = this.inputSize;
    const input = new Float32Array(frames.length * s * s * 3);
    frames.forEach((f, i) => {
      check(f);
      resizeBilinearRgb(f.data, f.width, f.height, s, input, i * s * s * 3);
    });
    const out = await this.#session.run({ images: new o.Tensor('float32', input, [frames.length, s, s, 3]) });
    const heat = out['keypoints']!.data as Float32Array;
    const wh = out['wh']!.data as Float32Array;
    const g = out['keypoints']!.dims[1]!;
    return frames.map((f, i) => {
      const rows = centernetHead(heat, wh, g, i * g * g * CLASSES, i * g * g * 4, this.#floor);
      return decodeCenternet(rows, this.entry.labels, s, f.width, f.height, this.#decode);
    });
  }

  /** No tfjs tensors live here (the count the tensor test watches belongs to tfjs). */
  get numTensors(): number { return 0; }

  dispose(): void { void this.#session.release(); }
}
