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
import type { FaceTaskInput, LiveFace, PersonShot, PersonShotResult, StructureInput, StructureResult } from './structure.js';
import { GpuScheduler, type GpuSchedulerStats, type Settled } from './gpu-scheduler.js';
import { StructureQueue, type StructureQueueStats } from './structure-queue.js';
import type { AdapterInfo, WebgpuOptions } from './webgpu-backend.js';
import { webgpuPoolOptions } from './webgpu-pool.js';
import type { GpuDeviceStats, WebgpuStructureResult, WebgpuTask, WebgpuTaskResult } from './webgpu-worker.js';

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
  /**
   * webgpu only: the largest batch one GPU run takes (the batcher's `inference.maxBatch`; default 8). The adapter's
   * limits must fit it (else start fails with INFERENCE_WEBGPU_MISSING_FEATURE naming the limit); larger batches
   * from a caller are split into runs of this size.
   */
  readonly maxBatch?: number;
  /** webgpu only: Dawn's options (`inference.webgpu`). */
  readonly webgpu?: Partial<WebgpuOptions>;
  /** Tests only: enables `loseGpuDevice()`. */
  readonly testHooks?: boolean;
}

/**
 * What the engine knows of its GPU (webgpu only): the adapter, the devices lost and recreated, and the GPU's
 * turns (`scheduler`: detection batches, structuring batches and shots; `structuring` false when
 * `inference.webgpu.structure` is off and people are structured on the CPU threads).
 */
export interface GpuStatus {
  readonly adapter: AdapterInfo | null;
  readonly device: GpuDeviceStats;
  readonly structuring: boolean;
  readonly scheduler: GpuSchedulerStats;
  /** The tfjs backend the last structuring batch ran on ('webgpu'); null before the first. */
  readonly structureBackend: string | null;
}

export interface BatchOutput { readonly detections: Detection[][]; readonly ms: number; readonly numTensors: number }

/** Runs the secondary models on one object's best shot. */
export interface Structurer {
  structure(input: StructureInput): Promise<StructureResult>;
}

/** Largest batch the model runs at once when its manifest entry names none. */
export const DEFAULT_MODEL_BATCH = 8;

/** A failure that crossed the thread boundary as data, as its typed error again. */
export function asError(error: TaskError): InferenceError | ModelError {
  const Cls = error.code.startsWith('MODEL_') ? ModelError : InferenceError;
  return new Cls(error.code, error.message);
}

export function rethrow(error: TaskError): never {
  throw asError(error);
}

export class InferenceEngine implements Structurer {
  readonly options: EngineOptions;
  /** The model's own batch limit (manifest `maxBatch`): larger batches from the batcher run in chunks. */
  readonly modelBatch: number;
  #pool: Piscina<WorkerTask, WorkerResult>;
  /**
   * webgpu: the one GPU thread (webgpu-worker.ts) that detects; #pool then only structures (on wasm, in CPU
   * threads). Null for the other backends, whose threads do both.
   */
  #gpu: Piscina<WebgpuTask, WebgpuTaskResult | WebgpuStructureResult> | null;
  #gpuStatus: Pick<GpuStatus, 'adapter' | 'device'> | null = null;
  /** webgpu: the GPU's turns (gpu-scheduler.ts). People are structured there unless `webgpu.structure` is false. */
  readonly #gpuTurns: GpuScheduler<PersonShot, PersonShotResult> | null;
  readonly #gpuStructures: boolean;
  #gpuStructureBackend: string | null = null;
  #closed = false;
  readonly #structuring: StructureQueue;
  #plates: PlatesHealth;
  readonly #platesListeners = new Set<(h: PlatesHealth) => void>();

  private constructor(options: EngineOptions, pool: Piscina<WorkerTask, WorkerResult>, modelBatch: number, gpu: Piscina<WebgpuTask, WebgpuTaskResult | WebgpuStructureResult> | null) {
    this.options = options;
    this.#pool = pool;
    this.#gpu = gpu;
    this.#gpuStructures = gpu !== null && options.webgpu?.structure !== false;
    this.#gpuTurns = gpu ? new GpuScheduler<PersonShot, PersonShotResult>((shots) => this.#structureOnGpu(shots)) : null;
    this.modelBatch = modelBatch;
    // With a GPU, structuring has the CPU threads to itself: detection never waits for them.
    this.#structuring = new StructureQueue(options.workers, undefined, { reserveForDetection: gpu === null });
    this.#plates = options.plates ? { state: 'ready' } : { state: 'disabled' };
  }

  static async start(options: EngineOptions): Promise<InferenceEngine> {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError('options.workers must be a positive integer');
    assertBackendAvailable(options.backend);
    const gpuBatch = options.maxBatch ?? DEFAULT_MODEL_BATCH;
    const onGpu = options.backend === 'webgpu';
    const modelBatch = onGpu ? gpuBatch : modelEntry(options.model).maxBatch ?? DEFAULT_MODEL_BATCH;
    const decode = {
      minScore: options.minScore, iouThreshold: options.iouThreshold, classes: options.classes,
      ...(options.classMinScore ? { classMinScore: options.classMinScore } : {}),
    };
    const workerData: WorkerConfig = {
      // webgpu: the CPU threads structure best shots on wasm (the GPU runner has only the detector).
      backend: onGpu ? 'wasm' : options.backend,
      model: options.model,
      ...(options.inputSize !== undefined ? { inputSize: options.inputSize } : {}),
      ...(options.plates ? { plates: true } : {}),
      ...(options.modelsDir !== undefined ? { modelsDir: options.modelsDir } : {}),
      decode,
    };
    // webgpu: one GPU thread takes the batcher's batches whole (webgpu-runner.ts: one upload, one backbone run,
    // one read-back per batch); a bad maxBatch is a RangeError here, before any thread starts.
    const gpu = onGpu
      ? new Piscina<WebgpuTask, WebgpuTaskResult | WebgpuStructureResult>({
        ...webgpuPoolOptions({
          model: options.model, decode, maxBatch: gpuBatch, ...(options.webgpu ? { webgpu: options.webgpu } : {}),
          ...(options.inputSize !== undefined ? { inputSize: options.inputSize } : {}), ...(options.testHooks ? { testHooks: true } : {}),
        }),
        idleTimeout: 2 ** 31 - 1,
        concurrentTasksPerWorker: 1,
      })
      : null;
    const pool = new Piscina<WorkerTask, WorkerResult>({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: 2 ** 31 - 1,
      workerData,
      // Each thread runs one batch at a time; the batcher keeps the queue short (backpressure to ingest).
      concurrentTasksPerWorker: 1,
    });
    const engine = new InferenceEngine(options, pool, modelBatch, gpu);
    try {
      const blank: FrameInput = { data: new Uint8Array(new SharedArrayBuffer(64 * 64 * 3)), width: 64, height: 64 };
      await Promise.all(Array.from({ length: gpu ? 1 : options.workers }, () => engine.run([blank])));
      // Face models load now, in every thread, rather than inside the first track end, which would hold a thread
      // for seconds while the cameras' queues overflow.
      // With structuring on the GPU they load there instead (people never reach the CPU threads then).
      if (options.warmFaces && engine.#gpuStructures && gpu) {
        const warm = (await gpu.run({ kind: 'warm-faces' })) as WebgpuStructureResult;
        if (warm.error) rethrow(warm.error);
      } else if (options.warmFaces) {
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
    // The GPU thread is not one of the structuring threads: detection there holds none of them.
    if (!this.#gpu) this.#structuring.detecting(1);
    try {
      for (let i = 0; i < frames.length; i += this.modelBatch) {
        // Only the views travel: a Uint8Array on a SharedArrayBuffer is shared with the worker, not cloned.
        const chunk = frames.slice(i, i + this.modelBatch).map((f) => ({ data: f.data, width: f.width, height: f.height, ...(f.crop ? { crop: f.crop } : {}) }));
        let res: DetectTaskResult;
        const gpu = this.#gpu;
        if (gpu && this.#gpuTurns) {
          // Detection's turn on the GPU comes before structuring's, except the one turn structuring is owed.
          const g = await this.#gpuTurns.detect(() => gpu.run({ kind: 'detect', frames: chunk }) as Promise<WebgpuTaskResult>);
          this.#gpuStatus = { adapter: g.adapter ?? this.#gpuStatus?.adapter ?? null, device: g.device };
          res = g;
        } else {
          res = (await this.#pool.run({ kind: 'detect', frames: chunk })) as DetectTaskResult;
        }
        if (res.error) rethrow(res.error);
        detections.push(...res.detections);
        numTensors = res.numTensors;
      }
    } finally {
      if (!this.#gpu) this.#structuring.detecting(-1);
    }
    return { detections, ms: performance.now() - t0, numTensors };
  }

  /**
   * Secondary models on one object's best shot. Waits for a thread detection is not using (structure-queue.ts);
   * rejects with INFERENCE_BUSY when dropped from the full queue.
   */
  async structure(input: StructureInput): Promise<StructureResult> {
    if (this.#closed) throw new InferenceError('INFERENCE_POOL_CLOSED', 'the inference engine has been stopped');
    // webgpu: people (faces, pose, clothing) on the GPU in batches; vehicles (colour maths, plates on onnxruntime) stay on the CPU threads.
    if (this.#gpuStructures && this.#gpuTurns && input.cls === 'person') {
      const r = await this.#gpuTurns.structure({ kind: 'structure', input });
      if (r.kind !== 'structure') throw new InferenceError('INFERENCE_FAILED', 'the GPU answered a structure shot with another kind');
      return r.result;
    }
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
    if (this.#gpuStructures && this.#gpuTurns) {
      const r = await this.#gpuTurns.structure({ kind: 'face', input });
      if (r.kind !== 'face') throw new InferenceError('INFERENCE_FAILED', 'the GPU answered a face shot with another kind');
      return r.live;
    }
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

  /** webgpu: the adapter (from the last batch), the devices lost and recreated, and the GPU's turns; null for the other backends. */
  get gpu(): GpuStatus | null {
    if (!this.#gpu || !this.#gpuStatus || !this.#gpuTurns) return null;
    return { ...this.#gpuStatus, structuring: this.#gpuStructures, scheduler: this.#gpuTurns.stats(), structureBackend: this.#gpuStructureBackend };
  }

  /** One structuring batch on the GPU thread: a shot-level failure costs that shot; a batch-level one (a lost device) all of them. */
  async #structureOnGpu(shots: readonly PersonShot[]): Promise<Settled<PersonShotResult>[]> {
    if (!this.#gpu) throw new InferenceError('INFERENCE_POOL_CLOSED', 'the inference engine has no GPU thread');
    const res = (await this.#gpu.run({ kind: 'structure-batch', shots })) as WebgpuStructureResult;
    if (this.#gpuStatus) this.#gpuStatus = { ...this.#gpuStatus, device: res.device };
    this.#gpuStructureBackend = res.backend;
    const batchError = res.error;
    if (batchError) return shots.map(() => ({ error: asError(batchError) }));
    return shots.map((_, i) => {
      const r = res.results[i];
      if (!r) return { error: new InferenceError('INFERENCE_FAILED', 'the GPU structuring batch returned no result for this shot') };
      return r.kind === 'error' ? { error: asError(r.error) } : { ok: r };
    });
  }

  /**
   * Test hook (engine started with `testHooks`): destroys the GPU device as a driver reset would. The next batch
   * fails with INFERENCE_WEBGPU_DEVICE_LOST and the GPU thread creates a new device for the ones after it.
   */
  async loseGpuDevice(): Promise<void> {
    if (!this.#gpu) throw new InferenceError('INFERENCE_BAD_INPUT', 'loseGpuDevice() needs the webgpu backend');
    const res = await this.#gpu.run({ kind: 'lose-device' });
    if (res.error) rethrow(res.error);
  }

  /** The structuring queues (the CPU threads', plus the GPU's under webgpu): waiting, running, done and dropped tasks. */
  structureStats(): StructureQueueStats {
    const cpu = this.#structuring.stats();
    const g = this.#gpuStructures ? this.#gpuTurns?.stats() : undefined;
    if (!g) return cpu;
    return { queued: cpu.queued + g.queued, running: cpu.running + (g.running === 'structure' ? 1 : 0), done: cpu.done + g.done, dropped: cpu.dropped + g.dropped };
  }

  get threads(): number { return this.options.workers; }
  get queued(): number { return (this.#gpu ?? this.#pool).queueSize; }

  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#structuring.close();
    this.#gpuTurns?.close();
    // The GPU thread disposes nothing itself; destroying its pool ends the thread and, with it, Dawn's hold on
    // the process (the clean-shutdown test checks the process exits after stop()).
    await Promise.all([this.#pool.destroy(), this.#gpu?.destroy()]);
  }
}
