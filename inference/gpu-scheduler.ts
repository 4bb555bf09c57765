/**
 * Turns on the GPU thread (webgpu): detection batches and structuring batches share one device, one task at a
 * time. Detection goes first; structuring has a bounded share: when both wait, they alternate, so a detection
 * batch waits for at most one structuring batch of at most `maxStructureBatch` shots, and a saturated detector
 * still leaves structuring every other turn (it is not starved either). Structure shots that arrive while the
 * GPU is busy wait here and leave together as one batch (no timer: an idle GPU takes a lone shot at once).
 * The wait is bounded like StructureQueue's: when `maxQueue` shots wait, the oldest is dropped with
 * INFERENCE_BUSY (its record is still written, without attributes) and counted.
 */
import { InferenceError } from '../common/errors.js';
import { DEFAULT_STRUCTURE_QUEUE } from './structure-queue.js';

/** Shots in one structuring batch on the GPU: bounds both the GPU memory of a batch and detection's wait. */
export const DEFAULT_GPU_STRUCTURE_BATCH = 8;

/** Per shot: its value or its (typed) failure. */
export type Settled<R> = { readonly ok: R } | { readonly error: unknown };

export interface GpuSchedulerStats {
  /** Structure shots waiting for a turn. */
  readonly queued: number;
  /** What the GPU runs now. */
  readonly running: 'detect' | 'structure' | null;
  /** Structure shots run (done, failed or not), and dropped (queue full or the engine stopped). */
  readonly done: number;
  readonly dropped: number;
  /** Structuring batches run, and the largest one. */
  readonly batches: number;
  readonly largestBatch: number;
  /** Detection batches run. */
  readonly detections: number;
}

interface Waiting<S, R> { readonly item: S; readonly resolve: (v: R) => void; readonly reject: (e: unknown) => void }
interface DetectJob { readonly run: () => Promise<void> }

export class GpuScheduler<S, R> {
  readonly #runStructure: (items: readonly S[]) => Promise<readonly Settled<R>[]>;
  readonly #maxQueue: number;
  readonly #maxBatch: number;
  #detect: DetectJob[] = [];
  #waiting: Waiting<S, R>[] = [];
  #running: 'detect' | 'structure' | null = null;
  #last: 'detect' | 'structure' | null = null;
  #done = 0;
  #dropped = 0;
  #batches = 0;
  #largest = 0;
  #detections = 0;

  constructor(runStructure: (items: readonly S[]) => Promise<readonly Settled<R>[]>, o: { readonly maxQueue?: number; readonly maxStructureBatch?: number } = {}) {
    const maxQueue = o.maxQueue ?? DEFAULT_STRUCTURE_QUEUE;
    const maxBatch = o.maxStructureBatch ?? DEFAULT_GPU_STRUCTURE_BATCH;
    if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new RangeError('options.maxQueue must be a positive integer');
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 64) throw new RangeError('options.maxStructureBatch must be an integer from 1 to 64');
    this.#runStructure = runStructure;
    this.#maxQueue = maxQueue;
    this.#maxBatch = maxBatch;
  }

  /** Runs a detection batch on its turn (before structuring unless structuring is owed one). */
  detect<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#detect.push({ run: () => run().then(resolve, reject) });
      this.#next();
    });
  }

  /** One shot to structure on the GPU; rejects with INFERENCE_BUSY if dropped from the full queue. */
  structure(item: S): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.#waiting.length >= this.#maxQueue) {
        const oldest = this.#waiting.shift()!;
        this.#dropped++;
        oldest.reject(new InferenceError('INFERENCE_BUSY', `GPU structuring queue full (${this.#maxQueue} shots): the oldest was dropped so detection keeps the GPU`));
      }
      this.#waiting.push({ item, resolve, reject });
      this.#next();
    });
  }

  stats(): GpuSchedulerStats {
    return { queued: this.#waiting.length, running: this.#running, done: this.#done, dropped: this.#dropped, batches: this.#batches, largestBatch: this.#largest, detections: this.#detections };
  }

  /** Rejects every structure shot still waiting (the engine is stopping); detection jobs still run. */
  close(): void {
    for (const w of this.#waiting.splice(0)) {
      this.#dropped++;
      w.reject(new InferenceError('INFERENCE_POOL_CLOSED', 'the inference engine has been stopped'));
    }
  }

  #next(): void {
    if (this.#running) return;
    const detectWaits = this.#detect.length > 0;
    const structureWaits = this.#waiting.length > 0;
    if (detectWaits && (!structureWaits || this.#last !== 'detect')) {
      const job = this.#detect.shift()!;
      this.#turn('detect', job.run());
    } else if (structureWaits) {
      const batch = this.#waiting.splice(0, this.#maxBatch);
      this.#batches++;
      this.#largest = Math.max(this.#largest, batch.length);
      this.#turn('structure', this.#runStructure(batch.map((w) => w.item)).then(
        (results) => batch.forEach((w, i) => {
          const r = results[i];
          if (!r) w.reject(new InferenceError('INFERENCE_FAILED', 'the GPU structuring batch returned no result for this shot'));
          else if ('ok' in r) w.resolve(r.ok);
          else w.reject(r.error);
        }),
        (err: unknown) => { for (const w of batch) w.reject(err); },
      ).finally(() => { this.#done += batch.length; }));
    }
  }

  #turn(kind: 'detect' | 'structure', p: Promise<void>): void {
    this.#running = kind;
    this.#last = kind;
    void p.finally(() => {
      if (kind === 'detect') this.#detections++;
      this.#running = null;
      this.#next();
    });
  }
}
