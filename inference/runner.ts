/**
 * The detector as it runs inside one thread: a tfjs graph model loaded from verified files, frames in, typed
 * detections out. Every tensor is created inside `tf.tidy` or disposed explicitly, so the tensor count stays
 * flat however long it runs (a test checks it).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfconv from '@tensorflow/tfjs-converter';
import type { Detection } from '../common/messages.js';
import { readModel, type ModelEntry } from '../models/index.js';
import { getBackend, type BackendName } from './backends.js';
import { decodeCenternet, type DecodeOptions } from './detector.js';

export interface FrameInput { readonly data: Uint8Array; readonly width: number; readonly height: number }

export class DetectorRunner {
  readonly entry: ModelEntry;
  readonly #model: tfconv.GraphModel;
  readonly #decode: DecodeOptions;
  readonly #inputSize: number;

  private constructor(model: tfconv.GraphModel, entry: ModelEntry, decode: DecodeOptions) {
    this.#model = model;
    this.entry = entry;
    this.#decode = decode;
    this.#inputSize = entry.inputShape[1] ?? 512;
  }

  static async create(backend: BackendName, modelName: string, decode: DecodeOptions): Promise<DetectorRunner> {
    await getBackend(backend).init();
    const art = await readModel(modelName);
    const model = await tfconv.loadGraphModel(tf.io.fromMemory({
      modelTopology: art.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: art.weightSpecs as tf.io.WeightsManifestEntry[],
      weightData: art.weightData,
    }));
    return new DetectorRunner(model, art.entry, decode);
  }

  /** Runs the model on one frame; the raw [N,6] rows are decoded on the CPU. */
  async detect(frame: FrameInput): Promise<Detection[]> {
    const size = this.#inputSize;
    const out = tf.tidy(() => {
      const img = tf.tensor3d(frame.data, [frame.height, frame.width, 3], 'float32');
      const input = tf.expandDims(tf.image.resizeBilinear(img, [size, size]), 0);
      return this.#model.execute(input, 'tower_0/detections') as tf.Tensor;
    });
    try {
      const rows = (await out.data()) as Float32Array;
      return decodeCenternet(rows, this.entry.labels, size, frame.width, frame.height, this.#decode);
    } finally {
      out.dispose();
    }
  }

  get numTensors(): number { return tf.memory().numTensors; }

  dispose(): void { this.#model.dispose(); }
}
