/**
 * Face structuring inside one thread: blazeface (back model, 256x256) finds faces and six keypoints in a region,
 * faceres turns a face crop into gender, age and a 1024-d descriptor. Facts about the models' inputs and
 * outputs (normalisation, anchors, output layout) were read from @vladmandic/human's dist; the code is ours.
 *
 * blazeface: input RGB scaled to -1..1; output [1,896,17] per anchor: score logit, centre offset (x, y), size
 * (w, h), six keypoints (x, y) as offsets from the anchor, all in input pixels. Anchors: a 16x16 grid of stride
 * 16 with 2 per cell, then an 8x8 grid of stride 32 with 6 per cell, centred in their cells.
 * faceres: input RGB 0..255 at 224x224; gender sigmoid (<= 0.5 female), age softmax over 0..99 years,
 * descriptor from global pooling (we L2-normalise it so that a dot product is the cosine similarity).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfconv from '@tensorflow/tfjs-converter';
import { InferenceError } from '../common/errors.js';
import type { Box } from '../common/messages.js';
import { loadGraph } from './graph.js';

export interface Point { readonly x: number; readonly y: number }
export interface FaceBox {
  readonly box: Box;
  readonly score: number;
  /** right eye, left eye, nose, mouth, right ear, left ear (the subject's sides), in the image's pixels. */
  readonly keypoints: readonly Point[];
}
export interface FaceAttributes {
  readonly gender: 'female' | 'male';
  /** Distance of the gender output from 0.5, doubled: 0 undecided, 1 certain. */
  readonly genderScore: number;
  readonly age: number;
  readonly embedding: Float32Array;
}
export interface RgbImage { readonly data: Uint8Array; readonly width: number; readonly height: number }

/** Lowest blazeface score taken as a face. */
export const FACE_MIN_SCORE = 0.6;
/** The detector box is tight on eyes and mouth; faceres was trained on crops with forehead and chin. */
export const FACE_CROP_SCALE = 1.3;
const BLAZE_SIZE = 256;
const FACERES_SIZE = 224;

function anchors(): Float32Array {
  const out: number[] = [];
  for (const [stride, per] of [[16, 2], [32, 6]] as const) {
    const cells = Math.ceil(BLAZE_SIZE / stride);
    for (let y = 0; y < cells; y++) for (let x = 0; x < cells; x++) for (let k = 0; k < per; k++) out.push(stride * (x + 0.5), stride * (y + 0.5));
  }
  return Float32Array.from(out);
}
const ANCHORS = anchors();

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function iou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const h = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const i = w * h;
  return i > 0 ? i / (a.w * a.h + b.w * b.h - i) : 0;
}

/** Copies a box (clamped to the image; outside is black) into a new square-or-not RGB24 image. */
export function cropRgb(img: RgbImage, box: Box): RgbImage {
  const x0 = Math.round(box.x);
  const y0 = Math.round(box.y);
  const w = Math.max(1, Math.round(box.w));
  const h = Math.max(1, Math.round(box.h));
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = y0 + y;
    if (sy < 0 || sy >= img.height) continue;
    const sx0 = Math.max(0, x0);
    const sx1 = Math.min(img.width, x0 + w);
    if (sx1 <= sx0) continue;
    out.set(img.data.subarray((sy * img.width + sx0) * 3, (sy * img.width + sx1) * 3), (y * w + (sx0 - x0)) * 3);
  }
  return { data: out, width: w, height: h };
}

/** One region's blazeface rows [896,17] -> faces in the image's pixels, best first, after NMS. */
function decodeBlaze(rows: Float32Array, sq: Box, scale: number, minScore: number): FaceBox[] {
  const found: FaceBox[] = [];
  for (let a = 0; a < ANCHORS.length / 2; a++) {
    const o = a * 17;
    const score = sigmoid(rows[o]!);
    if (score < minScore) continue;
    const ax = ANCHORS[a * 2]!;
    const ay = ANCHORS[a * 2 + 1]!;
    const cx = ax + rows[o + 1]!;
    const cy = ay + rows[o + 2]!;
    const w = rows[o + 3]!;
    const h = rows[o + 4]!;
    const keypoints: Point[] = [];
    for (let k = 0; k < 6; k++) keypoints.push({ x: sq.x + (ax + rows[o + 5 + k * 2]!) * scale, y: sq.y + (ay + rows[o + 6 + k * 2]!) * scale });
    found.push({ box: { x: sq.x + (cx - w / 2) * scale, y: sq.y + (cy - h / 2) * scale, w: w * scale, h: h * scale }, score, keypoints });
  }
  found.sort((p, q) => q.score - p.score);
  const kept: FaceBox[] = [];
  for (const f of found) if (kept.every((k) => iou(k.box, f.box) < 0.3)) kept.push(f);
  return kept;
}

export class FaceModels {
  readonly #blaze: tfconv.GraphModel;
  readonly #faceres: tfconv.GraphModel;

  private constructor(blaze: tfconv.GraphModel, faceres: tfconv.GraphModel) {
    this.#blaze = blaze;
    this.#faceres = faceres;
  }

  /** The backend must already be initialised in this thread. */
  static async load(): Promise<FaceModels> {
    const [b, f] = await Promise.all([loadGraph('blazeface'), loadGraph('faceres')]);
    return new FaceModels(b.model, f.model);
  }

  /**
   * Faces in `region` of `img`, best first, after NMS. The region is letterboxed into a square so faces keep
   * their aspect ratio; boxes and keypoints come back in `img`'s pixels.
   */
  async detect(img: RgbImage, region: Box = { x: 0, y: 0, w: img.width, h: img.height }, minScore = FACE_MIN_SCORE): Promise<FaceBox[]> {
    return (await this.detectMany([{ img, region }], minScore))[0] ?? [];
  }

  /**
   * detect() over several regions (the GPU's structuring batch): blazeface's export has batch-1 reshapes, so it
   * runs once per region, but the outputs are joined on the backend and read back once for all of them.
   */
  async detectMany(items: readonly { readonly img: RgbImage; readonly region: Box }[], minScore = FACE_MIN_SCORE): Promise<FaceBox[][]> {
    if (items.length === 0) return [];
    const squares = items.map(({ img, region }) => {
      const side = Math.max(region.w, region.h);
      const sq: Box = { x: region.x + (region.w - side) / 2, y: region.y + (region.h - side) / 2, w: side, h: side };
      return { sq, crop: cropRgb(img, sq) };
    });
    const out = tf.tidy(() => {
      const rows = squares.map(({ crop }) => {
        const t = tf.tensor3d(crop.data, [crop.height, crop.width, 3], 'float32');
        const x = tf.expandDims(tf.sub(tf.div(tf.image.resizeBilinear(t, [BLAZE_SIZE, BLAZE_SIZE]), 127.5), 1), 0);
        const r = this.#blaze.execute(x);
        if (!Array.isArray(r)) return r;
        // This export returns four heads: scores [1,512,1], [1,384,1] and regressors [1,512,16], [1,384,16]
        // (the stride-16 grid has 512 anchors, the stride-32 grid 384); join them into [1,896,17].
        const pick = (n: number, c: number): tf.Tensor => {
          const t = r.find((o) => o.shape[1] === n && o.shape[2] === c);
          if (!t) throw new InferenceError('INFERENCE_FAILED', `blazeface returned no [1,${n},${c}] output`);
          return t;
        };
        return tf.concat([tf.concat([pick(512, 1), pick(512, 16)], 2), tf.concat([pick(384, 1), pick(384, 16)], 2)], 1);
      });
      return rows.length === 1 ? rows[0]! : tf.concat(rows, 0);
    });
    let all: Float32Array;
    try {
      all = (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
    const per = all.length / items.length;
    return squares.map(({ sq, crop }, i) => decodeBlaze(all.subarray(i * per, (i + 1) * per), sq, crop.width / BLAZE_SIZE, minScore));
  }

  /** The square crop faceres sees for a detected face, in the image's pixels. */
  static cropBox(face: FaceBox): Box {
    const side = Math.max(face.box.w, face.box.h) * FACE_CROP_SCALE;
    return { x: face.box.x + face.box.w / 2 - side / 2, y: face.box.y + face.box.h / 2 - side / 2, w: side, h: side };
  }

  /** Gender, age and the L2-normalised descriptor of the face in `box` (a square around the face). */
  async describe(img: RgbImage, box: Box): Promise<FaceAttributes> {
    return (await this.describeMany([{ img, box }]))[0]!;
  }

  /** describe() over several faces in one faceres run (its graph takes any batch) and one read-back per output. */
  async describeMany(items: readonly { readonly img: RgbImage; readonly box: Box }[]): Promise<FaceAttributes[]> {
    if (items.length === 0) return [];
    const crops = items.map(({ img, box }) => cropRgb(img, box));
    const outs = tf.tidy(() => {
      const xs = crops.map((crop) => tf.expandDims(tf.image.resizeBilinear(tf.tensor3d(crop.data, [crop.height, crop.width, 3], 'float32'), [FACERES_SIZE, FACERES_SIZE]), 0));
      const x = xs.length === 1 ? xs[0]! : tf.concat(xs, 0);
      return this.#faceres.execute(x, ['gender_pred/Sigmoid:0', 'age_pred/Softmax:0', 'global_pooling/Mean']) as tf.Tensor[];
    });
    try {
      const [g, a, e] = await Promise.all(outs.map((o) => o.data() as Promise<Float32Array>));
      const n = items.length;
      return items.map((_, i) => {
        const ages = a!.subarray(i * (a!.length / n), (i + 1) * (a!.length / n));
        const desc = e!.subarray(i * (e!.length / n), (i + 1) * (e!.length / n));
        const gv = g![i * (g!.length / n)]!;
        // Expected age under the softmax: steadier across crops than the arg-max bin.
        let age = 0;
        for (let k = 0; k < ages.length; k++) age += k * ages[k]!;
        let norm = 0;
        for (const v of desc) norm += v * v;
        norm = Math.sqrt(norm) || 1;
        const embedding = new Float32Array(desc.length);
        for (let k = 0; k < desc.length; k++) embedding[k] = desc[k]! / norm;
        return { gender: gv <= 0.5 ? 'female' : 'male', genderScore: Math.abs(gv - 0.5) * 2, age, embedding } as const;
      });
    } finally {
      tf.dispose(outs);
    }
  }

  dispose(): void {
    this.#blaze.dispose();
    this.#faceres.dispose();
  }
}

/** Variance of the 4-neighbour Laplacian over the grey crop: low when blurred. */
export function laplacianVariance(img: RgbImage): number {
  const { width: w, height: h, data } = img;
  if (w < 3 || h < 3) return 0;
  const grey = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) grey[i] = 0.299 * data[i * 3]! + 0.587 * data[i * 3 + 1]! + 0.114 * data[i * 3 + 2]!;
  let sum = 0;
  let sq = 0;
  let n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const l = grey[i - 1]! + grey[i + 1]! + grey[i - w]! + grey[i + w]! - 4 * grey[i]!;
      sum += l;
      sq += l * l;
      n++;
    }
  }
  const mean = sum / n;
  return sq / n - mean * mean;
}

/** Face side (px) at which the size term is full: faceres's input is 224, but 96 px already gives a good descriptor. */
export const FACE_GOOD_SIDE = 96;

/**
 * Quality in [0, 1] for choosing a best shot: size, sharpness and frontalness, multiplied so that a face weak
 * on any one of them ranks low. Frontalness: in a frontal face the nose sits midway between the eyes.
 */
export function faceQuality(img: RgbImage, face: FaceBox): { quality: number; size: number; sharpness: number; frontal: number } {
  const side = Math.min(face.box.w, face.box.h);
  const size = Math.min(1, side / FACE_GOOD_SIDE);
  const crop = cropRgb(img, face.box);
  const lv = laplacianVariance(crop);
  // Variance ~ 100 is a soft but usable face at surveillance resolution; saturate smoothly above it.
  const sharpness = lv / (lv + 100);
  const [re, le, nose] = face.keypoints;
  let frontal = 0.5;
  if (re && le && nose) {
    const half = Math.abs(le.x - re.x) / 2;
    const mid = (le.x + re.x) / 2;
    frontal = half > 0 ? Math.max(0, 1 - Math.abs(nose.x - mid) / half) : 0;
  }
  return { quality: size * (0.3 + 0.7 * sharpness) * (0.3 + 0.7 * frontal), size, sharpness, frontal };
}
