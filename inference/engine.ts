/**
 * The inference engine: a piscina pool of worker threads, each with its own backend, detector and face models
 * (loaded at start when the caller structures people, else on first use). Start-up runs one warm-up task per thread so a missing model or backend fails
 * `start()` with its typed error instead of failing the first real frame. The same pool structures objects
 * (secondary models on a track's best shot), so no thread sits idle while another is busy.
 */
import { Piscina } from 'piscina';
import { InferenceError, ModelError } from '../common/errors.js';
import type { Detection, ObjectClass, PlatesHealth } from '../common/messages.js';
import { modelEntry } from '../models/index.js';
import { assertBackendAvailable, type BackendName } from './backends.js';
import type { DetectTaskResult, EmbedTaskResult, FaceTaskResult, StructureTaskResult, TaskError, WorkerConfig, WorkerResult, WorkerTask } from './worker.js';
import type { FrameInput } from './runner.js';
import type { FaceTaskInput, LiveFace, StructureInput, StructureResult } from './structure.js';
import { StructureQueue, type StructureQueueStats } from './structure-queue.js';

export interface EngineOptions {
  readonly backend: BackendName;
  readonly model: string;
  /** The detector's square input size (absent: the manifest's). */
  readonly inputSize?: number;
  readonly workers: number;
  readonly minScore: number;
  readonly iouThreshold: number;
  readonly classes: readonly ObjectClass[];
  /** Per-class minimum scores overriding minScore. */
  readonly classMinScore?: Partial<Record<ObjectClass, number>>;
  /**
   * Load the face models in every thread at start: for a caller that structures people's best shots (the
   * pipeline), so the first track ends do not hold a thread for seconds. Detection-only callers leave it off.
   */
  readonly warmFaces?: boolean;
  /**
   * Read vehicles' licence plates when structuring. The OCR models load in every thread at start; when they cannot
   * (missing or corrupt file) the engine starts anyway, plates are not read and `platesHealth` says why.
   */
  readonly plates?: boolean;
  /** Where the plate reader's models are read from (absent: models/files, or $CVCORE_MODELS_DIR). */
  readonly modelsDir?: string;
}

export interface BatchOutput { readonly detections: Detection[][]; readonly ms: number; readonly numTensors: number }

/** Runs the secondary models on one object's best shot. */
export interface Structurer {
  structure(input: StructureInput): Promise<StructureResult>;
}

/** Largest batch the model runs at once when its manifest entry names none. */
export const DEFAULT_MODEL_BATCH = 8;

export function rethrow(error: TaskError): never {
  const Cls = error.code.startsWith('MODEL_') ? ModelError : InferenceError;
  throw new Cls(error.code, error.message);
}

export class InferenceEngine implements Structurer {
  readonly options: EngineOptions;
  /** The model's own batch limit (manifest `maxBatch`): larger batches from the batcher run in chunks. */
  readonly modelBatch: number;
  #pool: Piscina<WorkerTask, WorkerResult>;
  #closed = false;
  readonly #structuring: StructureQueue;
  #plates: PlatesHealth;
  readonly #platesListeners = new Set<(h: PlatesHealth) => void>();

  private constructor(options: EngineOptions, pool: Piscina<WorkerTask, WorkerResult>, modelBatch: number) {
    this.options = options;
    this.#pool = pool;
    this.modelBatch = modelBatch;
    this.#structuring = new StructureQueue(options.workers);
    this.#plates = options.plates ? { state: 'ready' } : { state: 'disabled' };
  }

  static async start(options: EngineOptions): Promise<InferenceEngine> {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError('options.workers must be a positive integer');
    assertBackendAvailable(options.backend);
    const modelBatch = modelEntry(options.model).maxBatch ?? DEFAULT_MODEL_BATCH;
    const workerData: WorkerConfig = {
      backend: options.backend,
      model: options.model,
      ...(options.inputSize !== undefined ? { inputSize: options.inputSize } : {}),
      ...(options.plates ? { plates: true } : {}),
      ...(options.modelsDir !== undefined ? { modelsDir: options.modelsDir } : {}),
      decode: {
        minScore: options.minScore, iouThreshold: options.iouThreshold, classes: options.classes,
        ...(options.classMinScore ? { classMinScore: options.classMinScore } : {}),
      },
    };
    const pool = new Piscina<WorkerTask, WorkerResult>({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: 2 ** 31 - 1,
      workerData,
      // Each thread runs one batch at a time; the batcher keeps the queue short (backpressure to ingest).
      concurrentTasksPerWorker: 1,
    });
    const engine = new InferenceEngine(options, pool, modelBatch);
    try {
      const blank: FrameInput = { data: new Uint8Array(new SharedArrayBuffer(64 * 64 * 3)), width: 64, height: 64 };
      await Promise.all(Array.from({ length: options.workers }, () => engine.run([blank])));
      // Face models load now, in every thread, rather than inside the first track end, which would hold a thread
      // for seconds while the cameras' queues overflow.
      if (options.warmFaces) {
        const warm = await Promise.all(Array.from({ length: options.workers }, () => pool.run({ kind: 'warm-faces' }) as Promise<EmbedTaskResult>));
        const failed = warm.find((w) => w.error);
        if (failed?.error) rethrow(failed.error);
      }
      // The plate reader loads now too; unlike the face models its absence does not stop the engine.
      if (options.plates) {
        const warm = await Promise.all(Array.from({ length: options.workers }, () => pool.run({ kind: 'warm-plates' }) as Promise<EmbedTaskResult>));
        const failed = warm.find((w) => w.error);
        if (failed?.error) engine.#platesFailed(failed.error);
      }
    } catch (err) {
      await engine.stop();
      throw err;
    }
    return engine;
  }

  async run(frames: readonly FrameInput[]): Promise<BatchOutput> {
    if (this.#closed) throw new InferenceError('INFERENCE_POOL_CLOSED', 'the inference engine has been stopped');
    const t0 = performance.now();
    const detections: Detection[][] = [];
    let numTensors = 0;
    this.#structuring.detecting(1);
    try {
      for (let i = 0; i < frames.length; i += this.modelBatch) {
        // Only the views travel: a Uint8Array on a SharedArrayBuffer is shared with the worker, not cloned.
        const chunk = frames.slice(i, i + this.modelBatch).map((f) => ({ data: f.data, width: f.width, height: f.height, ...(f.crop ? { crop: f.crop } : {}) }));
        const res = (await this.#pool.run({ kind: 'detect', frames: chunk })) as DetectTaskResult;
        if (res.error) rethrow(res.error);
        detections.push(...res.detections);
        numTensors = res.numTensors;
      }
    } finally {
      this.#structuring.detecting(-1);
    }
    return { detections, ms: performance.now() - t0, numTensors };
  }

  /**
   * Secondary models on one object's best shot. Waits for a thread detection is not using (structure-queue.ts);
   * rejects with INFERENCE_BUSY when dropped from the full queue.
   */
  async structure(input: StructureInput): Promise<StructureResult> {
    if (this.#closed) throw new InferenceError('INFERENCE_POOL_CLOSED', 'the inference engine has been stopped');
    return this.#structuring.submit(async () => {
      const res = (await this.#pool.run({ kind: 'structure', input })) as StructureTaskResult;
      if (res.error || !res.result) rethrow(res.error ?? { code: 'INFERENCE_FAILED', message: 'structure task returned nothing' });
      const { plateError, ...result } = res.result;
      if (plateError) this.#platesFailed(plateError);
      return result;
    });
  }

  /**
   * A live person track's face (the alarm path): the face in the person box's head region, embedded, or null when
   * none of MIN_FACE_SIDE is there. Goes through the structuring queue, behind detection like structure(), so live
   * faces never take a thread from the cameras; rejects with INFERENCE_BUSY when dropped from the full queue.
   */
  async face(input: FaceTaskInput): Promise<LiveFace | null> {
    if (this.#closed) throw new InferenceError('INFERENCE_POOL_CLOSED', 'the inference engine has been stopped');
    return this.#structuring.submit(async () => {
      const res = (await this.#pool.run({ kind: 'face', input })) as FaceTaskResult;
      if (res.error) rethrow(res.error);
      return res.live;
    });
  }

  /** Whether plates are read: ready, disabled by config, or unavailable (the OCR models did not load) and why. */
  get platesHealth(): PlatesHealth { return this.#plates; }

  /** Called once when the plate reader becomes unavailable (for the caller's log); returns the unsubscribe. */
  onPlatesHealth(fn: (h: PlatesHealth) => void): () => void {
    this.#platesListeners.add(fn);
    return () => this.#platesListeners.delete(fn);
  }

  #platesFailed(error: TaskError): void {
    if (this.#plates.state === 'unavailable') return;
    this.#plates = { state: 'unavailable', code: error.code, reason: error.message, since: Date.now() };
    for (const fn of this.#platesListeners) fn(this.#plates);
  }

  /** The structuring queue: waiting, running, done and dropped tasks. */
  structureStats(): StructureQueueStats { return this.#structuring.stats(); }

  get threads(): number { return this.options.workers; }
  get queued(): number { return this.#pool.queueSize; }

  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#structuring.close();
    await this.#pool.destroy();
  }
}
