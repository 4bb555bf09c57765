/**
 * The face-vector index: usearch HNSW over cosine with 8-bit quantised vectors, in its own thread
 * (vector-worker.ts). The graph only nominates candidates; the thread reads their face entries from RocksDB
 * (through the index's native handle), drops those the search's filter excludes and re-ranks the rest by
 * their exact float embeddings, so quantisation costs a little recall at the margin, not accuracy of the
 * similarities returned, and the caller's thread gets k ids back instead of a read and a decode per nominee.
 * Vector keys are the records' face sequence numbers (`F\0<seq>` in RocksDB).
 *
 * Inserting into the graph costs 0.3 to 0.9 ms of CPU a vector on this machine, too much for the ingest path.
 * So an added face first joins the tail, which search scans exactly, and the thread moves the tail into the
 * graph while the index's write path is quiet (`hold`; the growing/sealed split of Milvus). Search answers over graph and tail
 * and sees every add and remove posted before it (messages are handled in order).
 *
 * Persistence: none. The graph holds the embeddings (8-bit quantised), so a file of it would be biometric data
 * outside the sealed `F` entries; usearch loads and saves only by path, so it cannot be sealed without a clear
 * copy on disk. On open every face is added from the sealed entries to the tail (searchable at once) and the
 * graph is built in the background; a `faces-*.usearch` left by an earlier version is deleted.
 */
import { Worker } from 'node:worker_threads';
import type { DataKeyFile } from '../common/data-key.js';
import type { Logger } from '../common/log.js';
import type { VectorMessage, VectorReply } from './vector-protocol.js';
import type { FaceFilter } from './record.js';

export { HNSW } from './vector-protocol.js';

export interface VectorHit {
  seq: number;
  /** Cosine similarity as the graph sees it (approximate; exact for tail hits). */
  similarity: number;
}

export class FaceVectors {
  readonly dimensions: number;
  readonly #worker: Worker;
  readonly #log: Logger | undefined;
  readonly #waiting = new Map<number, { resolve: (r: VectorReply) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #size: number;
  #backlog = 0;
  #lastHold = 0;
  #graph: number;
  #failed: Error | null = null;
  #closed = false;

  private constructor(worker: Worker, dimensions: number, graph: number, log: Logger | undefined) {
    this.#worker = worker;
    this.dimensions = dimensions;
    this.#graph = graph;
    this.#size = graph;
    this.#log = log;
    worker.on('message', (m: VectorReply) => this.#onReply(m));
    worker.on('error', (err) => this.#fail(err));
    worker.on('exit', (code) => {
      if (!this.#closed) this.#fail(new Error(`the face graph thread exited (code ${code})`));
    });
  }

  /**
   * Starts the thread, which loads the newest graph file RocksDB can account for (faces up to `maxSeqInDb`).
   * `after`: the sequence after which faces must be added from RocksDB (0: all of them, a rebuild).
   * `db`: the native handle of the index's RocksDB, whose face entries `nearest` reads; it must stay open until
   * close() has resolved.
   */
  static open(dir: string, dimensions: number, maxSeqInDb: number, opts: { log?: Logger | undefined; db?: bigint; keys: DataKeyFile | null }): Promise<{ vectors: FaceVectors; after: number }> {
    const { log } = opts;
    const worker = new Worker(new URL('./vector-worker.js', import.meta.url), { workerData: { dir, dimensions, maxSeqInDb, db: opts.db ?? null, keys: opts.keys } });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      worker.once('error', onError);
      worker.once('message', (m: VectorReply) => {
        worker.off('error', onError);
        if (!m.opened) {
          void worker.terminate();
          reject(new Error(m.error ?? 'the face graph thread did not start'));
          return;
        }
        for (const w of m.warnings ?? []) log?.warn(w);
        resolve({ vectors: new FaceVectors(worker, dimensions, m.graph ?? 0, log), after: m.after ?? 0 });
      });
    });
  }

  #onReply(m: VectorReply): void {
    if (m.backlog !== undefined) this.#backlog = m.backlog;
    if (m.graph !== undefined) this.#graph = m.graph;
    if (m.id === undefined) {
      if (m.error !== undefined) this.#log?.error('face graph thread', { err: m.error });
      return;
    }
    const w = this.#waiting.get(m.id);
    if (!w) return;
    this.#waiting.delete(m.id);
    if (m.error !== undefined) w.reject(new Error(m.error));
    else w.resolve(m);
  }

  #fail(err: Error): void {
    this.#failed = err;
    this.#log?.error('face graph thread failed', { err });
    for (const w of this.#waiting.values()) w.reject(err);
    this.#waiting.clear();
  }

  #post(m: VectorMessage, transfer: ArrayBuffer[] = []): void {
    if (this.#failed) throw this.#failed;
    if (this.#closed) throw new Error('the face vectors are closed');
    this.#worker.postMessage(m, transfer);
  }

  #request(make: (id: number) => VectorMessage, transfer: ArrayBuffer[] = []): Promise<VectorReply> {
    const id = this.#nextId++;
    return new Promise<VectorReply>((resolve, reject) => {
      try {
        this.#post(make(id), transfer);
        this.#waiting.set(id, { resolve, reject });
      } catch (err) {
        reject(err as Error);
      }
    });
  }

  /** Vectors held (graph and tail), as far as this thread has told the graph's thread. */
  get size(): number {
    return this.#size;
  }

  /** Faces not yet in the graph and faces in it, as last reported by the thread. */
  backlog(): { graph: number; tail: number } {
    return { graph: this.#graph, tail: this.#backlog };
  }

  /** Adds unit vectors (rows of `flat`) under their ascending sequence numbers; searchable at once. */
  add(seqs: readonly number[], flat: Float32Array): void {
    if (seqs.length === 0) return;
    const rows = flat.slice(0, seqs.length * this.dimensions).buffer;
    this.#post({ op: 'add', seqs: [...seqs], rows }, [rows]);
    this.#size += seqs.length;
    this.#backlog += seqs.length;
  }

  remove(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.#post({ op: 'remove', seqs: [...seqs] });
    this.#size = Math.max(0, this.#size - seqs.length);
  }

  /**
   * Keeps the graph build off the CPU for `ms` from now (the write path is busy); searches are served as usual.
   * Cheap to call per batch: a message goes at most every ms/4.
   */
  hold(ms: number): void {
    const now = Date.now();
    if (this.#failed || this.#closed || now - this.#lastHold < ms / 4) return;
    this.#lastHold = now;
    this.#worker.postMessage({ op: 'hold', ms } satisfies VectorMessage);
  }

  /** Up to `count` nearest by cosine similarity, best first, over the graph and the tail. */
  async search(query: Float32Array, count: number): Promise<VectorHit[]> {
    if (this.#size === 0 || count <= 0) return [];
    const q = query.slice().buffer;
    const r = await this.#request((id) => ({ op: 'search', id, query: q, count }), [q]);
    return r.hits ?? [];
  }

  /**
   * The k faces most similar to the unit `query` among those passing `filter`, best first, as [record id, exact
   * similarity]: nominated by the graph and tail, filtered and re-ranked in the graph's thread from the face
   * entries in RocksDB. `complete` is false when `maxFetch` nominees held fewer than k passing faces (a narrow
   * filter): an exact scan of the faces it passes is then the answer. Needs the database given to open().
   */
  async nearest(query: Float32Array, k: number, filter: FaceFilter, maxFetch: number): Promise<{ matches: Array<[string, number]>; complete: boolean }> {
    if (this.#size === 0 || k <= 0) return { matches: [], complete: true };
    const q = query.slice().buffer;
    const r = await this.#request((id) => ({ op: 'nearest', id, query: q, k, filter, maxFetch }), [q]);
    return { matches: r.matches ?? [], complete: r.complete ?? true };
  }

  /**
   * Overwrites the graph's freed slots (removed vectors keep their 8-bit copy in memory until a slot is reused):
   * erasure calls it. Returns how many slots were overwritten.
   */
  async scrub(): Promise<number> {
    return (await this.#request((id) => ({ op: 'scrub', id }))).scrubbed ?? 0;
  }

  /** The ring's keys again (after a reload); the thread uses them from its next message on. */
  setKeys(keys: DataKeyFile | null): void {
    this.#post({ op: 'keys', keys });
  }

  /** Resolves when the tail is empty: every face added so far is in the graph. */
  async settle(): Promise<void> {
    await this.#request((id) => ({ op: 'settle', id }));
  }

  /** Stops the thread (without saving). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiting.values()) w.reject(new Error('the face vectors are closed'));
    this.#waiting.clear();
    if (this.#failed) {
      await this.#worker.terminate();
      return;
    }
    // The thread finishes its graph slice and exits; terminate() inside a native usearch call would abort.
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage({ op: 'close' } satisfies VectorMessage);
    const timer = setTimeout(() => void this.#worker.terminate(), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
