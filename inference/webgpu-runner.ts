/**
 * The detector on the GPU, one batch at a time. What makes it worth a GPU is that a whole batch crosses the
 * bus twice: pixels go up once (one upload per frame size), resize and float conversion run on the GPU, and
 * every frame's detections come back in one read.
 *
 * centernet's backbone takes any batch once its input Placeholder's batch dimension is -1, but its detection
 * head has batch-1 constants (reshapes, top-k), so the head runs per frame on GPU-resident slices of the
 * backbone's keypoints/wh maps; the per-frame [1,100,6] outputs are concatenated on the GPU before the read.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfconv from '@tensorflow/tfjs-converter';
// Types only: the package itself is imported by webgpu-backend.ts once Dawn's navigator.gpu is in place.
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import type { Detection } from '../common/messages.js';
import { readModel, type ModelEntry } from '../models/index.js';
import { decodeCenternet, type DecodeOptions } from './detector.js';
import { freeSpatialSize, scaledWeights, type WeightSpec } from './input-size.js';
import type { FrameInput } from './runner.js';
import { configureWebgpu, describeAdapter, shutdownWebgpu, webgpuBackend, type AdapterInfo, type WebgpuOptions } from './webgpu-backend.js';

export interface WebgpuRunnerOptions {
  /** Largest batch one backbone run takes; longer task lists are split. Bounds GPU memory. */
  readonly maxBatch: number;
  readonly webgpu?: Partial<WebgpuOptions>;
  /** The square input size frames are resized to (one of the model's inputSizes; absent: the manifest's, 512). */
  readonly inputSize?: number;
}

const INPUT = 'tower_0/images';
const BACKBONE_OUT = ['tower_0/keypoints', 'tower_0/wh'] as const;
const HEAD_OUT = 'tower_0/detections';

interface GraphNode { name?: string; op?: string; attr?: { shape?: { shape?: { dim?: { size?: string | number }[] } } } }

/** A copy of the topology whose input batch dimension is -1, so one backbone run takes the whole batch. */
export function withDynamicBatch(topology: unknown): unknown {
  const copy = structuredClone(topology) as { node?: GraphNode[] };
  const input = copy.node?.find((n) => n.name === INPUT && n.op === 'Placeholder');
  const dim0 = input?.attr?.shape?.shape?.dim?.[0];
  if (!dim0) throw new TypeError(`model has no Placeholder ${INPUT} with a shape; it is not the centernet graph this runner knows`);
  dim0.size = '-1';
  return copy;
}

/**
 * Unpacks RGB bytes that went up four to an int32 word (little-endian, as the bytes lie in memory) into one float
 * per byte, on the GPU. tfjs has no 8-bit dtype and its webgpu backend no bitwise kernels, so this is a program of
 * its own: WGSL has shifts and masks on u32.
 */
class UnpackBytesProgram implements WebGPUProgram {
  readonly variableNames = ['A'];
  readonly size = true;
  readonly workgroupSize: [number, number, number] = [128, 1, 1];
  readonly outputShape: number[];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = 'cvcore_unpack_bytes';

  constructor(bytes: number) {
    this.outputShape = [bytes];
    // One thread per byte; the backend folds a dispatch over its per-dimension limit into y and z.
    this.dispatchLayout = { x: [0] };
    this.dispatch = [Math.ceil(bytes / this.workgroupSize[0]), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let word = bitcast<u32>(A[index / 4]);
          let byte = (word >> (8u * u32(index % 4))) & 255u;
          setOutputAtIndex(index, f32(byte));
        }
      }
    `;
  }
}

/** Bytes as int32 words for the upload: the frames side by side, padded to a whole word. */
export function packBytes(parts: readonly Uint8Array[]): Int32Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const padded = Math.ceil(total / 4) * 4;
  // Not zero-filled first (every byte is written below, the pad after): a batch of 1080p frames is tens of MB.
  const bytes = Buffer.allocUnsafeSlow(padded);
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  bytes.fill(0, total);
  return new Int32Array(bytes.buffer, bytes.byteOffset, padded / 4);
}

/**
 * The frames' bytes as float32 [n * h * w * 3] on the GPU: on webgpu they go up packed, a quarter of the
 * widened size (one byte copy on the CPU, no widening); on another backend (tests) widened to int32 and cast.
 */
export function uploadBytes(parts: readonly Uint8Array[]): tf.Tensor1D {
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (tf.getBackend() !== 'webgpu') {
    const buf = new Int32Array(total);
    let at = 0;
    for (const p of parts) { buf.set(p, at); at += p.length; }
    return tf.cast(tf.tensor1d(buf, 'int32'), 'float32');
  }
  const packed = tf.tensor1d(packBytes(parts), 'int32');
  const backend = tf.backend() as unknown as { runWebGPUProgram(p: WebGPUProgram, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo };
  const info = backend.runWebGPUProgram(new UnpackBytesProgram(total), [packed], 'float32');
  packed.dispose();
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor1D;
}

/**
 * [B, size, size, 3] float32 on the current backend (the GPU here), frames in the caller's order; call inside
 * tf.tidy. Frames of one size go up as one tensor of packed bytes (uploadBytes), unpacked, resized bilinearly
 * and cast on the GPU.
 */
export function preprocessBatch(frames: readonly FrameInput[], size: number): tf.Tensor4D {
  const groups = new Map<string, number[]>();
  frames.forEach((f, i) => {
    if (f.data.length !== f.width * f.height * 3) throw new RangeError(`frame ${i}: data has ${f.data.length} bytes, expected width*height*3 = ${f.width * f.height * 3}`);
    const k = `${f.width}x${f.height}`;
    const g = groups.get(k);
    if (g) g.push(i); else groups.set(k, [i]);
  });
  const parts: tf.Tensor4D[] = [];
  const order: number[] = [];
  for (const idx of groups.values()) {
    const f0 = frames[idx[0]!]!;
    const raw = tf.reshape(uploadBytes(idx.map((fi) => frames[fi]!.data)), [idx.length, f0.height, f0.width, 3]) as tf.Tensor4D;
    parts.push(tf.image.resizeBilinear(raw, [size, size]));
    order.push(...idx);
  }
  const all = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
  if (order.every((v, i) => v === i)) return all;
  // Mixed sizes: put frames back in the caller's order (gather by each frame's position in `order`).
  const back = new Int32Array(order.length);
  order.forEach((fi, pos) => { back[fi] = pos; });
  return tf.gather(all, tf.tensor1d(back, 'int32'));
}

export class WebgpuDetectorRunner {
  readonly entry: ModelEntry;
  readonly adapter: AdapterInfo;
  readonly #model: tfconv.GraphModel;
  readonly #decode: DecodeOptions;
  readonly #size: number;
  readonly #maxBatch: number;

  private constructor(model: tfconv.GraphModel, entry: ModelEntry, decode: DecodeOptions, maxBatch: number, adapter: AdapterInfo, size: number) {
    this.#model = model;
    this.entry = entry;
    this.#decode = decode;
    this.#size = size;
    this.#maxBatch = maxBatch;
    this.adapter = adapter;
  }

  static async create(modelName: string, decode: DecodeOptions, options: WebgpuRunnerOptions): Promise<WebgpuDetectorRunner> {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1 || options.maxBatch > 64) throw new RangeError('options.maxBatch must be an integer from 1 to 64');
    const art = await readModel(modelName);
    const native = art.entry.inputShape[1] ?? 512;
    const size = options.inputSize ?? native;
    if (size !== native && !(art.entry.inputSizes ?? []).includes(size)) throw new RangeError(`options.inputSize must be one of ${(art.entry.inputSizes ?? [native]).join(', ')} for ${modelName}`);
    configureWebgpu({ ...options.webgpu, maxBatch: options.maxBatch, inputSize: size });
    await webgpuBackend.init();
    const resized = size !== native;
    const model = await tfconv.loadGraphModel(tf.io.fromMemory({
      modelTopology: withDynamicBatch(resized ? freeSpatialSize(art.modelTopology) : art.modelTopology) as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: art.weightSpecs as tf.io.WeightsManifestEntry[],
      weightData: resized ? scaledWeights(modelName, art.weightSpecs as WeightSpec[], art.weightData, native, size) : art.weightData,
    }));
    const adapter = describeAdapter();
    if (!adapter) throw new TypeError('webgpu backend initialised without an adapter');
    return new WebgpuDetectorRunner(model, art.entry, decode, options.maxBatch, adapter, size);
  }

  /** Detections per frame, in the order given. Batches over maxBatch run as several GPU batches. */
  async detectBatch(frames: readonly FrameInput[]): Promise<Detection[][]> {
    const out: Detection[][] = [];
    for (let i = 0; i < frames.length; i += this.#maxBatch) out.push(...(await this.#runBatch(frames.slice(i, i + this.#maxBatch))));
    return out;
  }

  async detect(frame: FrameInput): Promise<Detection[]> {
    return (await this.#runBatch([frame]))[0] ?? [];
  }

  /** The raw [B,100,6] rows (input-square pixels), for conformance checks that compare before decoding. */
  async rawBatch(frames: readonly FrameInput[]): Promise<Float32Array> {
    const t = tf.tidy(() => this.#forward(frames));
    try { return (await t.data()) as Float32Array; } finally { t.dispose(); }
  }

  async #runBatch(frames: readonly FrameInput[]): Promise<Detection[][]> {
    if (frames.length === 0) return [];
    const rows = await this.rawBatch(frames);
    const per = rows.length / frames.length;
    return frames.map((f, i) => decodeCenternet(rows.subarray(i * per, (i + 1) * per), this.entry.labels, this.#size, f.width, f.height, this.#decode));
  }

  /** Inside tf.tidy: every intermediate tensor is released when it returns. */
  #forward(frames: readonly FrameInput[]): tf.Tensor {
    const input = preprocessBatch(frames, this.#size);
    const [kp, wh] = this.#model.execute(input, [...BACKBONE_OUT]) as tf.Tensor[];
    if (!kp || !wh) throw new TypeError('centernet backbone did not return keypoints and wh');
    const heads: tf.Tensor[] = [];
    for (let b = 0; b < frames.length; b++) {
      const feeds = {
        [BACKBONE_OUT[0]]: tf.slice(kp, [b, 0, 0, 0], [1, -1, -1, -1]),
        [BACKBONE_OUT[1]]: tf.slice(wh, [b, 0, 0, 0], [1, -1, -1, -1]),
      };
      heads.push(this.#model.execute(feeds, HEAD_OUT) as tf.Tensor);
    }
    return heads.length === 1 ? heads[0]! : tf.concat(heads, 0);
  }

  get numTensors(): number { return tf.memory().numTensors; }
  get inputSize(): number { return this.#size; }
  get maxBatch(): number { return this.#maxBatch; }

  /** Releases the model and the GPU, so the thread can exit. */
  dispose(): void {
    this.#model.dispose();
    shutdownWebgpu();
  }
}
