/**
 * The detector as it runs inside one thread: a tfjs graph model loaded from verified files, frames in, typed
 * detections out. Every tensor is created inside `tf.tidy` or disposed explicitly, so the tensor count stays
 * flat however long it runs (a test checks it).
 *
 * Batching: centernet's backbone takes any batch once its Placeholder says so, but its post-processing head
 * (top-k over the heat map, gathers, reshapes) was exported with batch-1 constants. So a batch runs the
 * backbone once for every frame (`tower_0/keypoints`, `tower_0/wh`) and then the small head once per frame,
 * fed with that frame's slice. The head is cheap next to the backbone, and per-frame results are the same as
 * a batch of one (a test checks that the detections are identical).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfconv from '@tensorflow/tfjs-converter';
import type { Box, Detection } from '../common/messages.js';
import type { ModelEntry } from '../models/index.js';
import { getBackend, type BackendName } from './backends.js';
import { decodeCenternet, type DecodeOptions } from './detector.js';
import { loadGraph } from './graph.js';

export interface FrameInput {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  /**
   * Detect inside this part of the frame only (frame pixels; the motion gate's crop). The onnx runner runs it at
   * a smaller input with the same pixel scale; tfjs runners detect on the whole frame (their graphs take fixed
   * square sizes), which finds the same people and saves nothing.
   */
  readonly crop?: Box;
}

/** A detector in one thread, on tfjs (this file) or on onnxruntime (onnx-runner.ts). */
export interface Detector {
  readonly inputSize: number;
  detect(frame: FrameInput): Promise<Detection[]>;
  detectBatch(frames: readonly FrameInput[]): Promise<Detection[][]>;
  readonly numTensors: number;
  dispose(): void;
}

/** The detector the backend runs: onnxruntime for `onnx` (faces stay on tfjs-wasm there), tfjs for the rest. */
export async function createDetector(backend: BackendName, model: string, decode: DecodeOptions, inputSize?: number): Promise<Detector> {
  await getBackend(backend).init();
  if (backend === 'onnx') {
    const { OnnxDetectorRunner } = await import('./onnx-runner.js');
    return OnnxDetectorRunner.create(model, decode, inputSize);
  }
  return DetectorRunner.create(backend, model, decode, inputSize);
}

const INPUT = 'tower_0/images';
const HEAT = 'tower_0/keypoints';
const WH = 'tower_0/wh';
const DETECTIONS = 'tower_0/detections';

export class DetectorRunner implements Detector {
  readonly entry: ModelEntry;
  readonly #model: tfconv.GraphModel;
  readonly #decode: DecodeOptions;
  readonly #inputSize: number;

  private constructor(model: tfconv.GraphModel, entry: ModelEntry, decode: DecodeOptions, inputSize: number) {
    this.#model = model;
    this.entry = entry;
    this.#decode = decode;
    this.#inputSize = inputSize;
  }

  /** `inputSize`: the square input the frames are resized to (absent: the manifest's). */
  static async create(backend: BackendName, modelName: string, decode: DecodeOptions, inputSize?: number): Promise<DetectorRunner> {
    await getBackend(backend).init();
    const { model, entry } = await loadGraph(modelName, { batchable: true, ...(inputSize !== undefined ? { inputSize } : {}) });
    return new DetectorRunner(model, entry, decode, inputSize ?? entry.inputShape[1] ?? 512);
  }

  get inputSize(): number { return this.#inputSize; }

  #input(frames: readonly FrameInput[]): tf.Tensor4D {
    const size = this.#inputSize;
    // The worker reads the frame straight from its SharedArrayBuffer view; only tfjs's own upload copies it.
    return tf.stack(frames.map((f) => tf.image.resizeBilinear(tf.tensor3d(f.data, [f.height, f.width, 3], 'float32'), [size, size]))) as tf.Tensor4D;
  }

  /** Runs the model on one frame through the whole graph (the reference path). */
  async detect(frame: FrameInput): Promise<Detection[]> {
    const out = tf.tidy(() => this.#model.execute({ [INPUT]: this.#input([frame]) }, DETECTIONS) as tf.Tensor);
    try {
      const rows = (await out.data()) as Float32Array;
      return decodeCenternet(rows, this.entry.labels, this.#inputSize, frame.width, frame.height, this.#decode);
    } finally {
      out.dispose();
    }
  }

  /** Runs a batch: the backbone once over all frames, then the batch-1 head per frame. */
  async detectBatch(frames: readonly FrameInput[]): Promise<Detection[][]> {
    if (frames.length === 0) return [];
    if (frames.length === 1) return [await this.detect(frames[0]!)];
    const outs = tf.tidy(() => {
      const [heat, wh] = this.#model.execute({ [INPUT]: this.#input(frames) }, [HEAT, WH]) as tf.Tensor[];
      return frames.map((_, i) => {
        const k = tf.slice(heat!, [i, 0, 0, 0], [1, -1, -1, -1]);
        const w = tf.slice(wh!, [i, 0, 0, 0], [1, -1, -1, -1]);
        return this.#model.execute({ [HEAT]: k, [WH]: w }, DETECTIONS) as tf.Tensor;
      });
    });
    try {
      const rows = await Promise.all(outs.map((o) => o.data() as Promise<Float32Array>));
      return rows.map((r, i) => decodeCenternet(r, this.entry.labels, this.#inputSize, frames[i]!.width, frames[i]!.height, this.#decode));
    } finally {
      tf.dispose(outs);
    }
  }

  get numTensors(): number { return tf.memory().numTensors; }

  dispose(): void { this.#model.dispose(); }
}
