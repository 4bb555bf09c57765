/**
 * Body keypoints of one person, inside one thread: MoveNet SinglePose Lightning (models/manifest.json,
 * `movenet-lightning`) on a square around the person box, so that clothing colour can be read from the torso
 * and along the legs instead of from fixed shares of the box. Facts about the graph (int32 RGB input at 192x192,
 * output [1,1,17,3] of y, x in 0..1 and a score, COCO keypoint order) were read from the graph's signature and
 * @vladmandic/human's dist; the code is ours. About 50 ms per person on tfjs-wasm: run once per track.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfconv from '@tensorflow/tfjs-converter';
import type { Box } from '../common/messages.js';
import { cropRgb, type RgbImage } from './face.js';
import { loadGraph } from './graph.js';

export interface Keypoint { readonly x: number; readonly y: number; readonly score: number }

/** COCO order, as MoveNet gives them (the subject's left before right). */
export const KEYPOINT = {
  nose: 0, leftShoulder: 5, rightShoulder: 6, leftElbow: 7, rightElbow: 8, leftHip: 11, rightHip: 12,
  leftKnee: 13, rightKnee: 14, leftAnkle: 15, rightAnkle: 16,
} as const;

const SIZE = 192;
/** Context around the box: MoveNet was trained on people with some room around them. */
const PAD = 1.15;

export class PoseModel {
  readonly #model: tfconv.GraphModel;

  private constructor(model: tfconv.GraphModel) {
    this.#model = model;
  }

  /** The backend must already be initialised in this thread. */
  static async load(): Promise<PoseModel> {
    return new PoseModel((await loadGraph('movenet-lightning')).model);
  }

  /** The 17 keypoints of the person in `box`, in the image's pixels. */
  async keypoints(img: RgbImage, box: Box): Promise<Keypoint[]> {
    return (await this.keypointsMany([{ img, box }]))[0]!;
  }

  /**
   * keypoints() for several people (the GPU's structuring batch): MoveNet's export has batch-1 post-processing,
   * so it runs once per person, but the outputs are joined on the backend and read back once.
   */
  async keypointsMany(items: readonly { readonly img: RgbImage; readonly box: Box }[]): Promise<Keypoint[][]> {
    if (items.length === 0) return [];
    const squares = items.map(({ img, box }) => {
      const side = Math.max(box.w, box.h) * PAD;
      const sq: Box = { x: box.x + box.w / 2 - side / 2, y: box.y + box.h / 2 - side / 2, w: side, h: side };
      return { sq, crop: cropRgb(img, sq) };
    });
    const out = tf.tidy(() => {
      const rows = squares.map(({ crop }) => {
        const t = tf.tensor3d(crop.data, [crop.height, crop.width, 3], 'float32');
        const x = tf.cast(tf.expandDims(tf.image.resizeBilinear(t, [SIZE, SIZE]), 0), 'int32');
        return this.#model.execute(x) as tf.Tensor;
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
    return squares.map(({ sq, crop }, i) => {
      const rows = all.subarray(i * per, (i + 1) * per);
      // cropRgb rounds the square to whole pixels; map back through the crop's real size.
      const sx = crop.width;
      const sy = crop.height;
      const ox = Math.round(sq.x);
      const oy = Math.round(sq.y);
      const kps: Keypoint[] = [];
      for (let k = 0; k < 17; k++) kps.push({ y: oy + rows[k * 3]! * sy, x: ox + rows[k * 3 + 1]! * sx, score: rows[k * 3 + 2]! });
      return kps;
    });
  }

  dispose(): void {
    this.#model.dispose();
  }
}
