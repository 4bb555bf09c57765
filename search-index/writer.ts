/**
 * The main thread's side of the write thread (write-worker.ts): hands each batch over as one transferred
 * buffer and resolves when RocksDB has applied it. Batches are applied in the order they were handed over.
 */
import { Worker } from 'node:worker_threads';
import type { BatchOp } from './rocks.js';
import { encodeOps, encodedSizeBound } from './write-batch.js';

interface Reply {
  id?: number;
  buf?: ArrayBuffer;
  ready?: boolean;
  error?: string;
}

export class BatchWriter {
  readonly #worker: Worker;
  readonly #ready: Promise<void>;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  #nextId = 1;
  /** Buffers the thread handed back, for the next batches (no allocation and zero-filling per batch). */
  #spare: ArrayBuffer[] = [];
  #failed: Error | null = null;
  #isReady = false;
  /** A batch failed: the thread refuses the following ones until reset(). */
  #refusing = false;
  #closed = false;

  constructor(handle: bigint) {
    this.#worker = new Worker(new URL('./write-worker.js', import.meta.url), { workerData: { handle } });
    this.#ready = new Promise((resolve, reject) => {
      const onReady = (m: Reply): void => {
        if (!m.ready) return;
        this.#worker.off('message', onReady);
        this.#isReady = true;
        resolve();
      };
      this.#worker.on('message', onReady);
      this.#worker.once('error', reject);
    });
    this.#ready.catch(() => undefined);
    this.#worker.on('message', (m: Reply) => {
      if (m.id === undefined) return;
      if (m.buf && this.#spare.length < 4) this.#spare.push(m.buf);
      const w = this.#waiting.get(m.id);
      if (!w) return;
      this.#waiting.delete(m.id);
      if (m.error !== undefined) {
        this.#refusing = true;
        w.reject(new Error(m.error));
      } else {
        w.resolve();
      }
    });
    const fail = (err: Error): void => {
      this.#failed = err;
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => {
      if (!this.#closed) fail(new Error(`the index write thread exited (code ${code})`));
    });
  }

  /** Resolves once the worker has opened the database. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Hands the ops over, to be applied as one atomic RocksDB write batch after those handed over before; the
   * promise settles when it is on disk or failed. After a failure the thread refuses every batch already
   * handed over (so none is written on top of counts that assumed the failed one) until reset().
   */
  write(ops: readonly BatchOp[], sync = false): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(new Error('the index write thread is stopped'));
    if (!this.#isReady) return Promise.reject(new Error('the index write thread is not ready'));
    const need = encodedSizeBound(ops);
    const i = this.#spare.findIndex((b) => b.byteLength >= need);
    const buf = i >= 0 ? this.#spare.splice(i, 1)[0]! : new ArrayBuffer(Math.max(need, 1 << 20));
    const length = encodeOps(ops, buf);
    const id = this.#nextId++;
    const done = new Promise<void>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    this.#worker.postMessage({ id, buf, length, sync }, [buf]);
    return done;
  }

  /** True after a batch failed and until reset(). */
  get failed(): boolean {
    return this.#refusing;
  }

  /** Accepts batches again; call once every batch handed over before has settled. */
  reset(): void {
    this.#refusing = false;
    this.#worker.postMessage({ reset: true });
  }

  /** Stops the thread; call after the last write resolved and before the database closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
  }
}
