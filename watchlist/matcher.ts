/**
 * In-memory matching for the live path: synchronous, no I/O. Per department, the photo embeddings of the live face
 * entries sit in one contiguous Float32Array (a row per photo) with each row's threshold and expiry beside it, so a
 * match is one pass of dot products (the embeddings are L2-normalised: a dot product is the cosine similarity).
 * Plates: an exact map per department plus a scan of the department's fuzzy entries for one edit.
 * The store updates this before its calls resolve, so a removed entry or deleted list stops matching at once.
 */
import { createRequire } from 'node:module';
import type { FaceHit, PlateHit } from './types.js';

/** usearch's exact (SIMD, brute-force) search; it ships CommonJS, loaded as search-index does. */
interface ExactMatches { readonly keys: BigUint64Array; readonly distances: Float32Array }
const usearch = createRequire(import.meta.url)('usearch') as {
  exactSearch(dataset: Int8Array, query: Int8Array, dimensions: number, count: number, metric: unknown, threads: number): ExactMatches;
  MetricKind: { Cos: unknown };
};

/**
 * From this many rows a department is matched in two passes: usearch's SIMD brute-force search (exactSearch, no
 * graph) over 8-bit copies of the rows finds the candidates, and each is then scored here in float32 against its
 * row's threshold and expiry. Below it the float32 loop alone is as fast. There is no approximate index, so nothing
 * is missed for speed: the first pass only has to rank, and it goes on past the k-th candidate while that one is
 * within INT8_MARGIN of the lowest threshold (bench/watchlist.ts has the figures).
 */
export const SIMD_MIN_ROWS = 256;
/** Candidates asked of the first pass first; doubled while the last one could still reach a threshold. */
const FIRST_K = 32;
/**
 * How far an 8-bit cosine may sit below the float32 one. Each row is scaled by its own largest component, so a
 * component is off by at most 1/254 of it; on 1024-d unit vectors that moves a cosine by about 0.001. 0.05 is
 * far outside that.
 */
const INT8_MARGIN = 0.05;

/** `v` scaled so its largest component is 127 (cosine does not see the scale), rounded into `out` at `offset`. */
function quantise(v: Float32Array, out: Int8Array, offset: number): void {
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]!));
  const k = max > 0 ? 127 / max : 0;
  for (let i = 0; i < v.length; i++) out[offset + i] = Math.round(v[i]! * k);
}

interface FaceSlot {
  readonly id: string;
  readonly list: string;
  readonly department: string;
  threshold: number;
  /** ms since the epoch; Infinity: never. */
  expiresAt: number;
  /** Rows of the department table holding this entry's photos (kept current when rows move). */
  readonly rows: number[];
  readonly table: FaceTable;
}

interface PlateSlot {
  readonly id: string;
  readonly list: string;
  readonly department: string;
  readonly plate: string;
  readonly fuzzy: boolean;
  expiresAt: number;
}

const INITIAL_ROWS = 64;

/** One department's face rows: embeddings, and per row its threshold, expiry and owner. */
class FaceTable {
  readonly dim: number;
  vecs: Float32Array;
  /** The rows in 8 bits, for the first pass over large tables. */
  q8: Int8Array;
  thresholds: Float32Array;
  expires: Float64Array;
  owners: FaceSlot[] = [];
  count = 0;

  constructor(dim: number) {
    this.dim = dim;
    this.vecs = new Float32Array(INITIAL_ROWS * dim);
    this.q8 = new Int8Array(INITIAL_ROWS * dim);
    this.thresholds = new Float32Array(INITIAL_ROWS);
    this.expires = new Float64Array(INITIAL_ROWS);
  }

  #grow(): void {
    const cap = this.thresholds.length * 2;
    const v = new Float32Array(cap * this.dim);
    v.set(this.vecs);
    const q = new Int8Array(cap * this.dim);
    q.set(this.q8);
    this.q8 = q;
    const t = new Float32Array(cap);
    t.set(this.thresholds);
    const e = new Float64Array(cap);
    e.set(this.expires);
    this.vecs = v;
    this.thresholds = t;
    this.expires = e;
  }

  add(slot: FaceSlot, embedding: Float32Array): void {
    if (this.count === this.thresholds.length) this.#grow();
    const r = this.count++;
    this.vecs.set(embedding, r * this.dim);
    quantise(embedding, this.q8, r * this.dim);
    this.thresholds[r] = slot.threshold;
    this.expires[r] = slot.expiresAt;
    this.owners[r] = slot;
    slot.rows.push(r);
    this.changed();
  }

  /** Drops the slot's rows, moving the last rows into the holes (the array stays contiguous). */
  remove(slot: FaceSlot): void {
    for (const r of [...slot.rows].sort((a, b) => b - a)) {
      const last = --this.count;
      if (r !== last) {
        const moved = this.owners[last]!;
        this.vecs.copyWithin(r * this.dim, last * this.dim, (last + 1) * this.dim);
        this.q8.copyWithin(r * this.dim, last * this.dim, (last + 1) * this.dim);
        this.thresholds[r] = this.thresholds[last]!;
        this.expires[r] = this.expires[last]!;
        this.owners[r] = moved;
        moved.rows[moved.rows.indexOf(last)] = r;
      }
      this.owners.length = last;
    }
    slot.rows.length = 0;
    this.changed();
  }

  #minThreshold: number | null = null;

  /** The lowest threshold of any row (the exact search's stopping rule); cached until a row changes. */
  minThreshold(): number {
    if (this.#minThreshold === null) {
      let m = Infinity;
      for (let r = 0; r < this.count; r++) m = Math.min(m, this.thresholds[r]!);
      this.#minThreshold = m;
    }
    return this.#minThreshold;
  }

  changed(): void { this.#minThreshold = null; }

  dot(row: number, q: Float32Array): number {
    const v = this.vecs;
    const o = row * this.dim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const n = this.dim & ~3;
    let i = 0;
    // Four accumulators: the adds do not wait on each other.
    for (; i < n; i += 4) {
      s0 += v[o + i]! * q[i]!;
      s1 += v[o + i + 1]! * q[i + 1]!;
      s2 += v[o + i + 2]! * q[i + 2]!;
      s3 += v[o + i + 3]! * q[i + 3]!;
    }
    for (; i < this.dim; i++) s0 += v[o + i]! * q[i]!;
    return s0 + s1 + s2 + s3;
  }
}

/** Whether a and b differ by exactly one substitution, insertion or deletion (code points). */
export function oneEditApart(a: string, b: string): boolean {
  const x = [...a];
  const y = [...b];
  if (Math.abs(x.length - y.length) > 1) return false;
  if (x.length === y.length) {
    let diff = 0;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && ++diff > 1) return false;
    return diff === 1;
  }
  const [s, l] = x.length < y.length ? [x, y] : [y, x];
  let i = 0;
  while (i < s.length && s[i] === l[i]) i++;
  for (let j = i; j < s.length; j++) if (s[j] !== l[j + 1]) return false;
  return true;
}

export class Matcher {
  readonly #dim: number;
  readonly #faceTables = new Map<string, FaceTable>();
  readonly #faces = new Map<string, FaceSlot>();
  readonly #byList = new Map<string, Set<FaceSlot>>();
  readonly #plates = new Map<string, PlateSlot>();
  /** department -> canonical plate -> slots. */
  readonly #exact = new Map<string, Map<string, Set<PlateSlot>>>();
  readonly #fuzzy = new Map<string, Set<PlateSlot>>();

  constructor(dim: number) {
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError('dim must be a positive integer');
    this.#dim = dim;
  }

  get dim(): number { return this.#dim; }

  /** Adds (or replaces) a face entry with its photos' embeddings. */
  putFace(e: { id: string; list: string; department: string; threshold: number; expiresAt: number | null }, embeddings: readonly Float32Array[]): void {
    this.remove(e.id);
    for (const v of embeddings) if (v.length !== this.#dim) throw new RangeError(`embedding has ${v.length} dimensions, the matcher ${this.#dim}`);
    let table = this.#faceTables.get(e.department);
    if (!table) this.#faceTables.set(e.department, (table = new FaceTable(this.#dim)));
    const slot: FaceSlot = { id: e.id, list: e.list, department: e.department, threshold: e.threshold, expiresAt: e.expiresAt ?? Infinity, rows: [], table };
    for (const v of embeddings) table.add(slot, v);
    this.#faces.set(e.id, slot);
    let set = this.#byList.get(e.list);
    if (!set) this.#byList.set(e.list, (set = new Set()));
    set.add(slot);
  }

  putPlate(e: { id: string; list: string; department: string; plate: string; match: 'exact' | 'fuzzy'; expiresAt: number | null }): void {
    this.remove(e.id);
    const slot: PlateSlot = { id: e.id, list: e.list, department: e.department, plate: e.plate, fuzzy: e.match === 'fuzzy', expiresAt: e.expiresAt ?? Infinity };
    this.#plates.set(e.id, slot);
    let byPlate = this.#exact.get(e.department);
    if (!byPlate) this.#exact.set(e.department, (byPlate = new Map()));
    let set = byPlate.get(e.plate);
    if (!set) byPlate.set(e.plate, (set = new Set()));
    set.add(slot);
    if (slot.fuzzy) {
      let f = this.#fuzzy.get(e.department);
      if (!f) this.#fuzzy.set(e.department, (f = new Set()));
      f.add(slot);
    }
  }

  /** New threshold or expiry of a face entry, or expiry of a plate entry; unknown ids are ignored. */
  update(id: string, patch: { threshold?: number; expiresAt?: number | null }): void {
    const f = this.#faces.get(id);
    if (f) {
      if (patch.threshold !== undefined) f.threshold = patch.threshold;
      if (patch.expiresAt !== undefined) f.expiresAt = patch.expiresAt ?? Infinity;
      for (const r of f.rows) {
        f.table.thresholds[r] = f.threshold;
        f.table.expires[r] = f.expiresAt;
      }
      f.table.changed();
    }
    const p = this.#plates.get(id);
    if (p && patch.expiresAt !== undefined) p.expiresAt = patch.expiresAt ?? Infinity;
  }

  remove(id: string): void {
    const f = this.#faces.get(id);
    if (f) {
      f.table.remove(f);
      this.#faces.delete(id);
      this.#byList.get(f.list)?.delete(f);
      if (this.#byList.get(f.list)?.size === 0) this.#byList.delete(f.list);
    }
    const p = this.#plates.get(id);
    if (p) {
      this.#plates.delete(id);
      const byPlate = this.#exact.get(p.department);
      byPlate?.get(p.plate)?.delete(p);
      if (byPlate?.get(p.plate)?.size === 0) byPlate.delete(p.plate);
      this.#fuzzy.get(p.department)?.delete(p);
    }
  }

  matchFace(department: string, embedding: Float32Array, at: number): FaceHit[] {
    const table = this.#faceTables.get(department);
    if (!table || table.count === 0) return [];
    if (embedding.length !== this.#dim) throw new RangeError(`embedding has ${embedding.length} dimensions, the matcher ${this.#dim}`);
    const best = new Map<FaceSlot, number>();
    const { thresholds, expires, owners } = table;
    const consider = (r: number, s: number): void => {
      if (s < thresholds[r]! || expires[r]! <= at) return;
      const o = owners[r]!;
      const prev = best.get(o);
      if (prev === undefined || s > prev) best.set(o, s);
    };
    if (table.count < SIMD_MIN_ROWS) {
      for (let r = 0; r < table.count; r++) consider(r, table.dot(r, embedding));
    } else {
      const q = new Int8Array(this.#dim);
      quantise(embedding, q, 0);
      // A view from offset 0: usearch reads typed arrays from the start of their buffer, for their length.
      const data = table.q8.subarray(0, table.count * this.#dim);
      const floor = table.minThreshold() - INT8_MARGIN;
      for (let k = Math.min(FIRST_K, table.count); ; k = Math.min(k * 2, table.count)) {
        const m = usearch.exactSearch(data, q, this.#dim, k, usearch.MetricKind.Cos, 1);
        best.clear();
        let last = Infinity;
        for (let i = 0; i < m.keys.length; i++) {
          const r = Number(m.keys[i]);
          if (r >= table.count) continue;
          // The candidate's similarity in float32: the same sum the small-table path takes, so one face scores
          // the same whichever path found it.
          const s = table.dot(r, embedding);
          last = Math.min(last, 1 - m.distances[i]!);
          consider(r, s);
        }
        // Everything past the k-th ranks below it; if even that one could reach the lowest threshold, look further.
        if (k >= table.count || last < floor) break;
      }
    }
    const hits: FaceHit[] = [];
    for (const [o, similarity] of best) hits.push({ list: o.list, entry: o.id, department: o.department, similarity, threshold: o.threshold });
    return hits.sort((a, b) => b.similarity - a.similarity);
  }

  bestOf(lists: readonly string[], embedding: Float32Array, at: number): { entry: string; list: string; similarity: number; threshold: number } | null {
    if (embedding.length !== this.#dim) throw new RangeError(`embedding has ${embedding.length} dimensions, the matcher ${this.#dim}`);
    let out: { entry: string; list: string; similarity: number; threshold: number } | null = null;
    for (const list of lists) {
      for (const o of this.#byList.get(list) ?? []) {
        if (o.expiresAt <= at) continue;
        for (const r of o.rows) {
          const s = o.table.dot(r, embedding);
          if (!out || s > out.similarity) out = { entry: o.id, list: o.list, similarity: s, threshold: o.threshold };
        }
      }
    }
    return out;
  }

  /** `plate` must be canonical (common/plates.ts canonicalPlate). Exact hits first. */
  matchPlate(department: string, plate: string, at: number): PlateHit[] {
    const hits: PlateHit[] = [];
    for (const s of this.#exact.get(department)?.get(plate) ?? []) {
      if (s.expiresAt > at) hits.push({ list: s.list, entry: s.id, department: s.department, plate: s.plate, edits: 0 });
    }
    for (const s of this.#fuzzy.get(department) ?? []) {
      if (s.expiresAt > at && s.plate !== plate && oneEditApart(s.plate, plate)) hits.push({ list: s.list, entry: s.id, department: s.department, plate: s.plate, edits: 1 });
    }
    return hits;
  }

  hasFaceEntries(department: string, at: number): boolean {
    const table = this.#faceTables.get(department);
    if (!table) return false;
    for (let r = 0; r < table.count; r++) if (table.expires[r]! > at) return true;
    return false;
  }

  /** Face photo rows held for the department (the benchmark reports it). */
  faceRows(department: string): number {
    return this.#faceTables.get(department)?.count ?? 0;
  }
}
