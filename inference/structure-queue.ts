/**
 * Structuring waits for detection. Secondary models (faces, colours) run once per track on its best shot, in
 * the same worker threads as the detector; run first come first served, a burst of track ends (a crowd walking
 * out of view) would hold every thread while frames pile up in the cameras' queues. So structure tasks wait
 * here, start only on a thread detection is not using, never take the last thread from it, and the queue is
 * bounded: when it is full the oldest task is dropped (its record is still written, without attributes) and
 * counted. The frames the tasks hold are therefore bounded too.
 */
import { InferenceError } from '../common/errors.js';

export interface StructureQueueStats {
  /** Tasks waiting for a free thread. */
  readonly queued: number;
  readonly running: number;
  readonly done: number;
  /** Tasks dropped because the queue was full (oldest first) or the engine stopped. */
  readonly dropped: number;
}

/** Structure tasks that may wait for a thread; at 640x480 each holds one frame (0.9 MB). */
export const DEFAULT_STRUCTURE_QUEUE = 64;

interface Waiting<T> { readonly run: () => Promise<T>; readonly resolve: (v: T) => void; readonly reject: (e: unknown) => void }

export class StructureQueue {
  readonly #threads: number;
  readonly #max: number;
  /** Detection batches in the pool now (the engine tells). */
  #detecting = 0;
  #running = 0;
  #done = 0;
  #dropped = 0;
  #waiting: Waiting<unknown>[] = [];
  readonly #reserve: boolean;

  /**
   * `reserveForDetection` false: the threads are structuring's own (the webgpu engine detects on the GPU
   * thread), so every one of them may run a task.
   */
  constructor(threads: number, max = DEFAULT_STRUCTURE_QUEUE, o: { readonly reserveForDetection?: boolean } = {}) {
    this.#reserve = o.reserveForDetection ?? true;
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError('threads must be a positive integer');
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
    this.#threads = threads;
    this.#max = max;
  }

  /** Runs `task` when a thread is free of detection; rejects with INFERENCE_BUSY if it is dropped first. */
  submit<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#waiting.length >= this.#max) {
        const oldest = this.#waiting.shift()!;
        this.#dropped++;
        oldest.reject(new InferenceError('INFERENCE_BUSY', `structuring queue full (${this.#max} tasks): the oldest was dropped so detection keeps its threads`));
      }
      this.#waiting.push({ run: task, resolve: resolve as (v: unknown) => void, reject });
      this.#next();
    });
  }

  /** A detection batch entered (+1) or left (-1) the pool. */
  detecting(delta: 1 | -1): void {
    this.#detecting += delta;
    if (delta < 0) this.#next();
  }

  stats(): StructureQueueStats {
    return { queued: this.#waiting.length, running: this.#running, done: this.#done, dropped: this.#dropped };
  }

  /** Rejects everything still waiting (the engine is stopping). */
  close(): void {
    for (const w of this.#waiting.splice(0)) {
      this.#dropped++;
      w.reject(new InferenceError('INFERENCE_POOL_CLOSED', 'the inference engine has been stopped'));
    }
  }

  #next(): void {
    // A thread is free when detection and structuring together leave one; structuring never holds the last
    // thread, so with one thread it runs only while no detection is in the pool.
    while (this.#waiting.length > 0 && this.#detecting + this.#running < this.#threads && (!this.#reserve || this.#running < this.#threads - 1 || this.#detecting === 0 && this.#running === 0)) {
      const w = this.#waiting.shift()!;
      this.#running++;
      w.run().then(w.resolve, w.reject).finally(() => {
        this.#running--;
        this.#done++;
        this.#next();
      });
    }
  }
}
