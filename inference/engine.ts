/**
 * The inference engine: a piscina pool of worker threads, each with its own backend and detector. Start-up
 * runs one warm-up task per thread so a missing model or backend fails `start()` with its typed error instead
 * of failing the first real frame.
 */
import { Piscina } from 'piscina';
import { InferenceError, ModelError } from '../common/errors.js';
import type { Detection, ObjectClass } from '../common/messages.js';
import { assertBackendAvailable, type BackendName } from './backends.js';
import type { DetectTask, DetectTaskResult, WorkerConfig } from './worker.js';
import type { FrameInput } from './runner.js';

export interface EngineOptions {
  readonly backend: BackendName;
  readonly model: string;
  readonly workers: number;
  readonly minScore: number;
  readonly iouThreshold: number;
  readonly classes: readonly ObjectClass[];
}

export interface BatchOutput { readonly detections: Detection[][]; readonly ms: number; readonly numTensors: number }

export class InferenceEngine {
  readonly options: EngineOptions;
  #pool: Piscina<DetectTask, DetectTaskResult>;
  #closed = false;

  private constructor(options: EngineOptions, pool: Piscina<DetectTask, DetectTaskResult>) {
    this.options = options;
    this.#pool = pool;
  }

  static async start(options: EngineOptions): Promise<InferenceEngine> {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError('options.workers must be a positive integer');
    assertBackendAvailable(options.backend);
    const workerData: WorkerConfig = {
      backend: options.backend,
      model: options.model,
      decode: { minScore: options.minScore, iouThreshold: options.iouThreshold, classes: options.classes },
    };
    const pool = new Piscina<DetectTask, DetectTaskResult>({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: 2 ** 31 - 1,
      workerData,
      // Each thread runs one batch at a time; the batcher keeps the queue short (backpressure to ingest).
      concurrentTasksPerWorker: 1,
    });
    const engine = new InferenceEngine(options, pool);
    try {
      const blank: FrameInput = { data: new Uint8Array(new SharedArrayBuffer(64 * 64 * 3)), width: 64, height: 64 };
      await Promise.all(Array.from({ length: options.workers }, () => engine.run([blank])));
    } catch (err) {
      await engine.stop();
      throw err;
    }
    return engine;
  }

  async run(frames: readonly FrameInput[]): Promise<BatchOutput> {
    if (this.#closed) throw new InferenceError('INFERENCE_POOL_CLOSED', 'the inference engine has been stopped');
    const res = await this.#pool.run({ frames: frames.map((f) => ({ data: f.data, width: f.width, height: f.height })) });
    if (res.error) {
      const Cls = res.error.code.startsWith('MODEL_') ? ModelError : InferenceError;
      throw new Cls(res.error.code, res.error.message);
    }
    return res;
  }

  get threads(): number { return this.options.workers; }
  get queued(): number { return this.#pool.queueSize; }

  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.destroy();
  }
}
