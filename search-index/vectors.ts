/**
 * The face-vector index: usearch HNSW over cosine with 8-bit quantised vectors. The graph only nominates
 * candidates; the index re-ranks them with the exact float embeddings kept in RocksDB, so quantisation costs
 * a little recall at the margin, not accuracy of the similarities returned, and the graph takes a quarter
 * of the memory and builds about twice as fast as with f32. Vector keys are the records' face sequence
 * numbers (`F\0<seq>` in RocksDB).
 *
 * Persistence: the graph is saved as `faces-<lastSeq>.usearch` (written to a temporary name, then renamed, so
 * a crash leaves either the old or the new file). On open the newest file is loaded and every face with a
 * larger sequence is added from RocksDB (catch-up after a crash); a missing, unreadable or newer-than-RocksDB
 * file is rebuilt from RocksDB. Vectors deleted after the last save may linger in the graph; search drops
 * them because their `F` entry is gone.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Index, MetricKind, ScalarKind } from 'usearch';
import type { Logger } from '../common/log.js';

const FILE_RE = /^faces-(\d+)\.usearch$/;

export const HNSW = {
  /** Graph degree and build/search beam widths; measured in test/index-ann-recall.test.ts and bench/index.ts. */
  connectivity: 16,
  expansionAdd: 128,
  expansionSearch: 128,
} as const;

export interface VectorHit {
  seq: number;
  /** Cosine similarity as the quantised graph sees it (approximate). */
  similarity: number;
}

export class FaceVectors {
  readonly dimensions: number;
  readonly #dir: string;
  readonly #log: Logger | undefined;
  #index: Index;
  /** Largest sequence added; names the saved file. */
  #lastSeq = 0;
  #dirty = false;

  constructor(dir: string, dimensions: number, log?: Logger) {
    this.#dir = dir;
    this.dimensions = dimensions;
    this.#log = log;
    this.#index = FaceVectors.#create(dimensions);
  }

  static #create(dimensions: number): Index {
    return new Index({
      dimensions,
      metric: MetricKind.Cos,
      quantization: ScalarKind.I8,
      connectivity: HNSW.connectivity,
      expansion_add: HNSW.expansionAdd,
      expansion_search: HNSW.expansionSearch,
      multi: false,
    });
  }

  static async open(dir: string, dimensions: number, maxSeqInDb: number, log?: Logger): Promise<{ vectors: FaceVectors; after: number }> {
    const v = new FaceVectors(dir, dimensions, log);
    return { vectors: v, after: v.load(maxSeqInDb) };
  }
  backlog(): { graph: number; tail: number } { return { graph: this.size, tail: 0 }; }
  async settle(): Promise<void> {}
  async close(): Promise<void> {}
  get size(): number {
    return this.#index.size();
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  /**
   * Loads the newest saved graph that RocksDB can account for. Returns the sequence after which faces must
   * be added from RocksDB (0: everything, a rebuild).
   */
  load(maxSeqInDb: number): number {
    const files = this.#files();
    const newest = files[0];
    for (const f of files.slice(1)) rmSync(join(this.#dir, f.name), { force: true });
    if (!newest) return 0;
    const path = join(this.#dir, newest.name);
    if (newest.seq > maxSeqInDb) {
      // The file knows faces RocksDB does not (a restored or replaced database): it cannot be trusted.
      this.#log?.warn('face vectors newer than the records; rebuilding', { file: newest.name, maxSeqInDb });
      rmSync(path, { force: true });
      return 0;
    }
    try {
      const index = FaceVectors.#create(this.dimensions);
      index.load(path);
      if (index.dimensions() !== this.dimensions) throw new Error(`file has ${index.dimensions()} dimensions`);
      this.#index = index;
      this.#lastSeq = newest.seq;
      return newest.seq;
    } catch (err) {
      this.#log?.warn('face vectors unreadable; rebuilding', { file: newest.name, err: err instanceof Error ? err.message : String(err) });
      rmSync(path, { force: true });
      this.#index = FaceVectors.#create(this.dimensions);
      return 0;
    }
  }

  /** Adds unit vectors (rows of `flat`) under their sequence numbers; keys already present are skipped. */
  add(seqs: readonly number[], flat: Float32Array): void {
    if (seqs.length === 0) return;
    const keys: bigint[] = [];
    const rows: Float32Array[] = [];
    const d = this.dimensions;
    seqs.forEach((seq, i) => {
      const key = BigInt(seq);
      if (this.#index.contains(key)) return;
      keys.push(key);
      rows.push(flat.subarray(i * d, (i + 1) * d));
      if (seq > this.#lastSeq) this.#lastSeq = seq;
    });
    if (keys.length === 0) return;
    const matrix = rows.length === seqs.length ? flat : concat(rows, d);
    this.#index.add(BigUint64Array.from(keys), matrix, 0);
    this.#dirty = true;
  }

  remove(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const keys = seqs.map((s) => BigInt(s)).filter((k) => this.#index.contains(k));
    if (keys.length === 0) return;
    this.#index.remove(BigUint64Array.from(keys));
    this.#dirty = true;
  }

  search(query: Float32Array, k: number): VectorHit[] {
    const size = this.#index.size();
    if (size === 0) return [];
    const m = this.#index.search(query, Math.min(k, size), 0);
    const out: VectorHit[] = [];
    for (let i = 0; i < m.keys.length; i++) {
      const d = m.distances[i]!;
      // usearch pads with sentinel keys when fewer than k were found.
      if (!Number.isFinite(d)) continue;
      out.push({ seq: Number(m.keys[i]!), similarity: 1 - d });
    }
    return out;
  }

  /** Writes the graph when it changed; atomic by rename, then older files go. */
  save(): void {
    if (!this.#dirty) return;
    const name = `faces-${this.#lastSeq}.usearch`;
    const tmp = join(this.#dir, name + '.tmp');
    this.#index.save(tmp);
    renameSync(tmp, join(this.#dir, name));
    for (const f of this.#files()) if (f.name !== name) rmSync(join(this.#dir, f.name), { force: true });
    this.#dirty = false;
  }

  #files(): Array<{ name: string; seq: number }> {
    if (!existsSync(this.#dir)) return [];
    return readdirSync(this.#dir)
      .map((name) => ({ name, m: FILE_RE.exec(name) }))
      .filter((f): f is { name: string; m: RegExpExecArray } => f.m !== null)
      .map((f) => ({ name: f.name, seq: Number(f.m[1]) }))
      .sort((a, b) => b.seq - a.seq);
  }
}

function concat(rows: Float32Array[], d: number): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(r, i * d));
  return out;
}

/** Exact inner product, for small filtered sets and for measuring recall. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
