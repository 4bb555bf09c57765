/**
 * The index store: batched, atomic writes of records with their index entries, and the reads behind query,
 * get and face search. Every write batch carries the entry counts and the face sequence with it, so after a
 * crash (SIGKILL included) the database holds whole batches only: no index entry without its record, no
 * record without its entries, counts that match. Writes and sweeps run one at a time on one chain.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CvcoreError, IndexError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { AuditLog } from './audit.js';
import { encodeCursor } from './cursor.js';
import { META_COUNTS, prefixEnd, embeddingKey, expiryKey, faceKey, facePrefix, faceSeqOf, orderSuffix, recordKey, thumbnailKey } from './keys.js';
import { digestFilter, plan, scan } from './planner.js';
import { QUERY_LIMITS, parseFaceOptions, parseQuery } from './query.js';
import {
  decodeJson, digestOf, embeddingBytes, embeddingFromBytes, encodeJson, expiryKindOf, indexPrefixes, normalise, ownedKeys,
  toStored, toSummary, validateRecord, type FaceDigest, type StoredRecord,
} from './record.js';
import { RETENTION_DEFAULTS, checkRetention, expiredIds, type Retention } from './retention.js';
import { ROCKS_OPEN_OPTIONS, createRocks, readRange, type BatchOp, type RocksDb } from './rocks.js';
import type {
  AuditEntry, AuditPage, FaceMatch, FaceSearchOptions, IndexOptions, IndexStats, ReadAuditOptions, Scope, SearchIndex,
  SearchPage, SearchQuery, TrackRecord,
} from './types.js';
import { FaceVectors, dot } from './vectors.js';

export const INDEX_DEFAULTS = {
  batchSize: 512,
  flushMs: 200,
  sweepIntervalMs: 10 * 60_000,
  vectorSaveIntervalMs: 5 * 60_000,
  dimensions: 1024,
  /** Queued records beyond this many batches make put() wait for the write in flight. */
  maxPendingBatches: 4,
  /** Face search over-fetches from the graph up to this many candidates before it falls back to an exact scan. */
  faceOverfetchMax: 4096,
  sweepChunk: 512,
  /**
   * Index entries one query page may examine. A page whose filter rejects most of the chosen range stops
   * here with fewer records (possibly none) and a cursor to go on from, so no page scans without bound.
   */
  scanBudget: 20_000,
  /** Face search scans exactly when the cameras/scope/time asked for hold at most this many records. */
  faceExactMax: 5000,
} as const;

interface StoredCounts {
  records: number;
  faces: number;
  /** Next face sequence to hand out; kept so a sequence is never reused, even after its record is swept. */
  faceSeq: number;
  prefixes: Record<string, number>;
}

interface Resolved {
  dir: string;
  batchSize: number;
  flushMs: number;
  retention: Retention;
  sweepIntervalMs: number;
  vectorSaveIntervalMs: number;
  dimensions: number;
  scanBudget: number;
  log: Logger | undefined;
}

function intOption(v: unknown, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RangeError(`options.${name} must be an integer in ${min}..${max}`);
  return v;
}

function resolveOptions(o: IndexOptions): Resolved {
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object');
  if (typeof o.dir !== 'string' || o.dir.length === 0) throw new TypeError('options.dir must be a non-empty string');
  return {
    dir: o.dir,
    batchSize: intOption(o.batchSize, 'batchSize', 1, 100_000, INDEX_DEFAULTS.batchSize),
    flushMs: intOption(o.flushMs, 'flushMs', 0, 60_000, INDEX_DEFAULTS.flushMs),
    retention: o.retention === undefined ? { ...RETENTION_DEFAULTS } : checkRetention(o.retention),
    sweepIntervalMs: intOption(o.sweepIntervalMs, 'sweepIntervalMs', 0, 2 ** 31 - 1, INDEX_DEFAULTS.sweepIntervalMs),
    vectorSaveIntervalMs: intOption(o.vectorSaveIntervalMs, 'vectorSaveIntervalMs', 0, 2 ** 31 - 1, INDEX_DEFAULTS.vectorSaveIntervalMs),
    dimensions: intOption(o.dimensions, 'dimensions', 1, 8192, INDEX_DEFAULTS.dimensions),
    scanBudget: intOption(o.scanBudget, 'scanBudget', 1, 10_000_000, INDEX_DEFAULTS.scanBudget),
    log: o.log,
  };
}

function checkScope(scope: Scope): Set<string> | null {
  if (scope === 'all') return null;
  if (typeof scope !== 'object' || scope === null || !Array.isArray(scope.departments) || !scope.departments.every((d) => typeof d === 'string')) {
    throw new TypeError("scope must be 'all' or { departments: string[] }");
  }
  return new Set(scope.departments);
}

function ioError(err: unknown, what: string): CvcoreError {
  if (err instanceof CvcoreError) return err;
  return new IndexError('INDEX_IO', `RocksDB failed to ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export class SearchIndexImpl implements SearchIndex {
  readonly #o: Resolved;
  readonly #db: RocksDb;
  readonly #vectors: FaceVectors;
  readonly #audit: AuditLog;
  readonly #counts: Map<string, number>;
  #records: number;
  #faces: number;
  #nextFaceSeq: number;
  #pending = new Map<string, TrackRecord>();
  #flushTimer: NodeJS.Timeout | null = null;
  #sweepTimer: NodeJS.Timeout | null = null;
  #saveTimer: NodeJS.Timeout | null = null;
  /** Writes and sweeps, one at a time. */
  #chain: Promise<void> = Promise.resolve();
  #writeError: unknown = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  #bytesWritten = 0;
  /** The write scheduled but not yet started, if any. */
  #queued: Promise<void> | null = null;

  private constructor(o: Resolved, db: RocksDb, vectors: FaceVectors, audit: AuditLog, counts: StoredCounts) {
    this.#o = o;
    this.#db = db;
    this.#vectors = vectors;
    this.#audit = audit;
    this.#counts = new Map(Object.entries(counts.prefixes));
    this.#records = counts.records;
    this.#faces = counts.faces;
    this.#nextFaceSeq = counts.faceSeq;
    if (o.sweepIntervalMs > 0) {
      this.#sweepTimer = setInterval(() => {
        this.sweep().catch((err: unknown) => o.log?.error('retention sweep failed', { err }));
      }, o.sweepIntervalMs);
      this.#sweepTimer.unref();
    }
    if (o.vectorSaveIntervalMs > 0) {
      this.#saveTimer = setInterval(() => this.#saveVectors(), o.vectorSaveIntervalMs);
      this.#saveTimer.unref();
    }
  }

  static async open(options: IndexOptions): Promise<SearchIndexImpl> {
    const o = resolveOptions(options);
    mkdirSync(o.dir, { recursive: true });
    const db = createRocks(join(o.dir, 'db'));
    try {
      await db.open(ROCKS_OPEN_OPTIONS);
    } catch (err) {
      throw ioError(err, `open ${o.dir}`);
    }
    try {
      const [countsBuf] = await db.getMany([META_COUNTS]);
      const counts: StoredCounts = countsBuf ? decodeJson<StoredCounts>(countsBuf) : { records: 0, faces: 0, faceSeq: 1, prefixes: {} };
      const lastFace = await readRange(db, { gte: facePrefix, lt: prefixEnd(facePrefix), reverse: true, limit: 1, values: false });
      const maxSeq = lastFace[0] ? faceSeqOf(lastFace[0][0]) : 0;
      counts.faceSeq = Math.max(counts.faceSeq, maxSeq + 1);
      const vectors = new FaceVectors(o.dir, o.dimensions, o.log);
      const after = vectors.load(maxSeq);
      const added = await SearchIndexImpl.#catchUp(db, vectors, after);
      if (added > 0) o.log?.info('face vectors caught up from RocksDB', { added, from: after, rebuilt: after === 0 });
      const audit = await AuditLog.open(db);
      return new SearchIndexImpl(o, db, vectors, audit, counts);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw ioError(err, `read ${o.dir}`);
    }
  }

  /** Adds to the graph every face stored after sequence `after`. */
  static async #catchUp(db: RocksDb, vectors: FaceVectors, after: number): Promise<number> {
    const it = db.iterator({ gt: faceKey(after), lt: prefixEnd(facePrefix) });
    let added = 0;
    try {
      for (;;) {
        const rows = await it.nextv(1000);
        if (rows.length === 0) break;
        const seqs = rows.map(([k]) => faceSeqOf(k));
        const ids = rows.map(([, v]) => decodeJson<FaceDigest>(v!)[0]);
        const embs = await db.getMany(ids.map(embeddingKey));
        const d = vectors.dimensions;
        const flat = new Float32Array(seqs.length * d);
        const keep: number[] = [];
        embs.forEach((b, i) => {
          if (!b) return;
          flat.set(embeddingFromBytes(b), keep.length * d);
          keep.push(seqs[i]!);
        });
        vectors.add(keep, flat.subarray(0, keep.length * d));
        added += keep.length;
      }
    } finally {
      await it.close();
    }
    return added;
  }

  #check(): void {
    if (this.#closed || this.#closing) throw new IndexError('INDEX_CLOSED', 'the index is closed');
  }

  async put(record: TrackRecord): Promise<void> {
    this.#check();
    validateRecord(record, this.#o.dimensions);
    this.#pending.set(record.id, record);
    if (this.#pending.size >= this.#o.batchSize) {
      const written = this.#schedule();
      // Backpressure: a producer faster than the disk waits here rather than growing the queue.
      if (this.#pending.size >= this.#o.batchSize * INDEX_DEFAULTS.maxPendingBatches) await written;
    } else if (this.#flushTimer === null) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = null;
        this.#schedule().catch(() => undefined);
      }, this.#o.flushMs);
    }
  }

  /** Queues a write of everything pending at the time it runs; one queued write serves every caller until it starts. */
  #schedule(): Promise<void> {
    if (this.#flushTimer) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
    if (this.#queued) return this.#queued;
    const run = this.#chain.then(() => {
      this.#queued = null;
      return this.#writePending();
    });
    this.#queued = run;
    this.#chain = run.catch((err: unknown) => {
      this.#writeError = err;
      this.#o.log?.error('index write failed', { err });
    });
    return run;
  }

  async flush(): Promise<void> {
    if (this.#closed) throw new IndexError('INDEX_CLOSED', 'the index is closed');
    await this.#schedule().catch(() => undefined);
    if (this.#writeError !== null) {
      const err = this.#writeError;
      this.#writeError = null;
      throw ioError(err, 'write a batch');
    }
  }

  async #writePending(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    const ops: BatchOp[] = [];
    const delta = new Map<string, number>();
    const bump = (p: string, n: number): void => {
      delta.set(p, (delta.get(p) ?? 0) + n);
    };
    let dRecords = 0;
    let dFaces = 0;
    // A put of an id already stored replaces it: its old entries go in the same batch, before the new ones.
    const olds = await this.#db.getMany(batch.map((r) => recordKey(r.id)));
    const removedSeqs: number[] = [];
    for (const b of olds) {
      if (!b) continue;
      const old = decodeJson<StoredRecord>(b);
      for (const key of ownedKeys(old)) ops.push({ type: 'del', key });
      for (const p of indexPrefixes(old)) bump(p, -1);
      dRecords--;
      if (old.hasFace) dFaces--;
      if (old.faceSeq !== null) removedSeqs.push(old.faceSeq);
    }
    const d = this.#o.dimensions;
    const faceCount = batch.reduce((n, r) => n + (r.embedding ? 1 : 0), 0);
    const flat = new Float32Array(faceCount * d);
    const newSeqs: number[] = [];
    let seq = this.#nextFaceSeq;
    const empty = Buffer.alloc(0);
    for (const r of batch) {
      const faceSeq = r.embedding ? seq++ : null;
      const s = toStored(r, faceSeq);
      const digest = encodeJson(digestOf(s));
      const suffix = orderSuffix(s.start, s.id);
      for (const p of indexPrefixes(s)) {
        ops.push({ type: 'put', key: p + suffix, value: digest });
        bump(p, 1);
      }
      ops.push({ type: 'put', key: recordKey(s.id), value: encodeJson(s) });
      ops.push({ type: 'put', key: expiryKey(expiryKindOf(s), s.end, s.id), value: empty });
      if (r.thumbnail) ops.push({ type: 'put', key: thumbnailKey(s.id), value: Buffer.from(r.thumbnail) });
      if (r.embedding && faceSeq !== null) {
        const unit = normalise(r.embedding);
        flat.set(unit, newSeqs.length * d);
        newSeqs.push(faceSeq);
        ops.push({ type: 'put', key: embeddingKey(s.id), value: Buffer.from(embeddingBytes(unit)) });
        const fd: FaceDigest = [s.id, s.department, s.cameraId, s.start];
        ops.push({ type: 'put', key: faceKey(faceSeq), value: encodeJson(fd) });
        dFaces++;
      }
      dRecords++;
    }
    ops.push({ type: 'put', key: META_COUNTS, value: encodeJson(this.#countsAfter(delta, dRecords, dFaces, seq)) });
    try {
      await this.#db.batch(ops);
    } catch (err) {
      // Nothing of the batch is on disk; the records go back to the queue so a later flush retries them.
      for (const r of batch) if (!this.#pending.has(r.id)) this.#pending.set(r.id, r);
      throw ioError(err, 'write a batch');
    }
    this.#applyCounts(delta, dRecords, dFaces, seq);
    for (const op of ops) this.#bytesWritten += op.key.length + (op.type === 'put' ? op.value.length : 0);
    this.#vectors.remove(removedSeqs);
    this.#vectors.add(newSeqs, flat);
  }

  #countsAfter(delta: Map<string, number>, dRecords: number, dFaces: number, nextSeq: number): StoredCounts {
    const prefixes: Record<string, number> = {};
    for (const [p, n] of this.#counts) prefixes[p] = n;
    for (const [p, n] of delta) {
      const v = (prefixes[p] ?? 0) + n;
      if (v > 0) prefixes[p] = v;
      else delete prefixes[p];
    }
    return { records: this.#records + dRecords, faces: this.#faces + dFaces, faceSeq: nextSeq, prefixes };
  }

  #applyCounts(delta: Map<string, number>, dRecords: number, dFaces: number, nextSeq: number): void {
    for (const [p, n] of delta) {
      const v = (this.#counts.get(p) ?? 0) + n;
      if (v > 0) this.#counts.set(p, v);
      else this.#counts.delete(p);
    }
    this.#records += dRecords;
    this.#faces += dFaces;
    this.#nextFaceSeq = nextSeq;
  }

  async get(id: string, scope: Scope): Promise<TrackRecord | null> {
    this.#check();
    const depts = checkScope(scope);
    if (typeof id !== 'string' || id.length === 0) return null;
    const [rb, tb, eb] = await this.#db.getMany([recordKey(id), thumbnailKey(id), embeddingKey(id)]).catch((err: unknown) => {
      throw ioError(err, 'read a record');
    });
    if (!rb) return null;
    const s = decodeJson<StoredRecord>(rb);
    if (depts && !depts.has(s.department)) return null;
    const { faceSeq: _seq, hasThumbnail: _t, hasFace: _f, ...rest } = s;
    void _seq; void _t; void _f;
    return { ...rest, thumbnail: tb ? new Uint8Array(tb) : null, embedding: eb ? embeddingFromBytes(eb) : null };
  }

  async thumbnail(id: string, scope: Scope): Promise<Uint8Array | null> {
    this.#check();
    const depts = checkScope(scope);
    if (typeof id !== 'string' || id.length === 0) return null;
    const [rb, tb] = await this.#db.getMany([recordKey(id), thumbnailKey(id)]).catch((err: unknown) => {
      throw ioError(err, 'read a thumbnail');
    });
    if (!rb || !tb) return null;
    const s = decodeJson<StoredRecord>(rb);
    if (depts && !depts.has(s.department)) return null;
    return new Uint8Array(tb);
  }

  async query(input: SearchQuery, scope: Scope): Promise<SearchPage> {
    this.#check();
    const depts = checkScope(scope);
    const q = parseQuery(input);
    if (depts && depts.size === 0) return { records: [], nextCursor: null };
    const limit = q.limit ?? QUERY_LIMITS.defaultLimit;
    try {
      const p = plan(q, scope, (prefix) => this.#counts.get(prefix) ?? 0, this.#records);
      const { candidates, stoppedAt } = await scan(this.#db, p, q, digestFilter(q, scope), limit + 1, this.#o.scanBudget);
      const page = candidates.slice(0, limit);
      const bufs = await this.#db.getMany(page.map((c) => recordKey(c.id)));
      const records = [];
      for (const b of bufs) {
        if (!b) continue; // swept between the index read and the record read
        const s = decodeJson<StoredRecord>(b);
        if (depts && !depts.has(s.department)) continue;
        records.push(toSummary(s));
      }
      const last = page[page.length - 1];
      if (stoppedAt) return { records, nextCursor: encodeCursor(stoppedAt) };
      return { records, nextCursor: candidates.length > limit && last ? encodeCursor(last) : null };
    } catch (err) {
      throw ioError(err, 'run a query');
    }
  }

  async faceSearch(embedding: Float32Array, opts: FaceSearchOptions, scope: Scope): Promise<FaceMatch[]> {
    this.#check();
    const depts = checkScope(scope);
    const o = parseFaceOptions(opts ?? {});
    if (!(embedding instanceof Float32Array) || embedding.length !== this.#o.dimensions || !embedding.every(Number.isFinite)) {
      throw new IndexError('INDEX_BAD_QUERY', `embedding must be a Float32Array of ${this.#o.dimensions} finite numbers`, { detail: { field: 'embedding' } });
    }
    if (depts && depts.size === 0) return [];
    const k = o.k ?? QUERY_LIMITS.defaultK;
    const cams = o.cameraIds ? new Set(o.cameraIds) : null;
    const from = o.from ?? -Infinity;
    const to = o.to ?? Infinity;
    const pass = (fd: FaceDigest): boolean =>
      (!depts || depts.has(fd[1])) && (!cams || cams.has(fd[2])) && fd[3] >= from && fd[3] <= to;
    const q = normalise(embedding);
    try {
      // When the cameras, scope or the whole index hold few records, an exact scan of their faces is both
      // exact and cheaper than the graph plus filtering.
      const narrow: SearchQuery = { ...(o.cameraIds ? { cameraIds: o.cameraIds } : {}), ...(o.from !== undefined ? { from: o.from } : {}), ...(o.to !== undefined ? { to: o.to } : {}) };
      const p = plan(narrow, scope, (prefix) => this.#counts.get(prefix) ?? 0, this.#records);
      if (p.estimate <= INDEX_DEFAULTS.faceExactMax) {
        const { candidates } = await scan(this.#db, p, narrow, digestFilter(narrow, scope), p.estimate + 1, Number.POSITIVE_INFINITY);
        return await this.#matches((await this.#rerank(q, candidates.map((c) => c.id))).slice(0, k), depts);
      }
      const found = new Map<string, number>();
      const checked = new Set<number>();
      const size = this.#vectors.size;
      let fetch = Math.max(k * 4, 40);
      let exhausted = size === 0;
      while (!exhausted) {
        const hits = this.#vectors.search(q, fetch).filter((h) => !checked.has(h.seq));
        for (const h of hits) checked.add(h.seq);
        const bufs = await this.#db.getMany(hits.map((h) => faceKey(h.seq)));
        hits.forEach((h, i) => {
          const b = bufs[i];
          if (!b) return; // deleted after the graph was saved
          const fd = decodeJson<FaceDigest>(b);
          if (pass(fd)) found.set(fd[0], h.similarity);
        });
        if (found.size >= k || fetch >= size) break;
        if (fetch >= INDEX_DEFAULTS.faceOverfetchMax) {
          // The filter keeps few faces: an exact scan of those is both exact and cheaper than a huge fetch.
          const exact = await this.#exactFaces(q, pass, k);
          found.clear();
          for (const [id, sim] of exact) found.set(id, sim);
          exhausted = true;
        }
        fetch = Math.min(fetch * 4, INDEX_DEFAULTS.faceOverfetchMax);
      }
      return await this.#matches((await this.#rerank(q, [...found.keys()])).slice(0, k), depts);
    } catch (err) {
      throw ioError(err, 'search faces');
    }
  }

  /** Loads the records of ranked ids, checking the scope once more on the record itself. */
  async #matches(top: Array<[string, number]>, depts: Set<string> | null): Promise<FaceMatch[]> {
    const bufs = await this.#db.getMany(top.map(([id]) => recordKey(id)));
    const out: FaceMatch[] = [];
    bufs.forEach((b, i) => {
      if (!b) return;
      const s = decodeJson<StoredRecord>(b);
      if (depts && !depts.has(s.department)) return;
      out.push({ record: toSummary(s), similarity: top[i]![1] });
    });
    return out;
  }

  /** Exact similarities from the stored float embeddings, best first. */
  async #rerank(q: Float32Array, ids: string[]): Promise<Array<[string, number]>> {
    const embs = await this.#db.getMany(ids.map(embeddingKey));
    const out: Array<[string, number]> = [];
    embs.forEach((b, i) => {
      if (b) out.push([ids[i]!, dot(q, embeddingFromBytes(b))]);
    });
    return out.sort((a, b) => b[1] - a[1]);
  }

  async #exactFaces(q: Float32Array, pass: (fd: FaceDigest) => boolean, k: number): Promise<Array<[string, number]>> {
    const it = this.#db.iterator({ gte: facePrefix, lt: prefixEnd(facePrefix) });
    const best: Array<[string, number]> = [];
    try {
      for (;;) {
        const rows = await it.nextv(1000);
        if (rows.length === 0) break;
        const ids = rows.map(([, v]) => decodeJson<FaceDigest>(v!)).filter(pass).map((fd) => fd[0]);
        const embs = await this.#db.getMany(ids.map(embeddingKey));
        embs.forEach((b, i) => {
          if (b) best.push([ids[i]!, dot(q, embeddingFromBytes(b))]);
        });
        if (best.length > k * 8) {
          best.sort((a, b) => b[1] - a[1]);
          best.length = k;
        }
      }
    } finally {
      await it.close();
    }
    return best.sort((a, b) => b[1] - a[1]).slice(0, k);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.#check();
    try {
      await this.#audit.append(entry);
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) throw err;
      throw ioError(err, 'append an audit entry');
    }
  }

  async readAudit(opts: ReadAuditOptions): Promise<AuditPage> {
    this.#check();
    try {
      return await this.#audit.read(opts ?? {});
    } catch (err) {
      throw ioError(err, 'read the audit log');
    }
  }

  sweep(now: number = Date.now()): Promise<number> {
    try {
      this.#check();
    } catch (err) {
      return Promise.reject(err);
    }
    if (typeof now !== 'number' || !Number.isFinite(now)) return Promise.reject(new TypeError('now must be a time in ms'));
    const run = this.#chain.then(() => this.#sweepNow(now));
    this.#chain = run.then(() => undefined, () => undefined);
    return run.catch((err: unknown) => {
      throw ioError(err, 'sweep');
    });
  }

  async #sweepNow(now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const expired = await expiredIds(this.#db, this.#o.retention, now, INDEX_DEFAULTS.sweepChunk);
      if (expired.length === 0) break;
      const ops: BatchOp[] = [];
      const delta = new Map<string, number>();
      let dRecords = 0;
      let dFaces = 0;
      const removedSeqs: number[] = [];
      const bufs = await this.#db.getMany(expired.map((e) => recordKey(e.id)));
      bufs.forEach((b, i) => {
        // An expiry entry without its record cannot come from a whole batch, but must not stall the sweep.
        ops.push({ type: 'del', key: expired[i]!.key });
        if (!b) return;
        const s = decodeJson<StoredRecord>(b);
        for (const key of ownedKeys(s)) ops.push({ type: 'del', key });
        for (const p of indexPrefixes(s)) delta.set(p, (delta.get(p) ?? 0) - 1);
        dRecords--;
        if (s.hasFace) dFaces--;
        if (s.faceSeq !== null) removedSeqs.push(s.faceSeq);
      });
      ops.push({ type: 'put', key: META_COUNTS, value: encodeJson(this.#countsAfter(delta, dRecords, dFaces, this.#nextFaceSeq)) });
      await this.#db.batch(ops);
      this.#applyCounts(delta, dRecords, dFaces, this.#nextFaceSeq);
      this.#vectors.remove(removedSeqs);
      total -= dRecords;
      if (expired.length < INDEX_DEFAULTS.sweepChunk) break;
    }
    if (total > 0) this.#o.log?.info('retention sweep', { deleted: total });
    return total;
  }

  stats(): IndexStats {
    return { records: this.#records, faces: this.#faces, pendingWrites: this.#pending.size, bytesWritten: this.#bytesWritten };
  }

  #saveVectors(): void {
    try {
      this.#vectors.save();
    } catch (err) {
      // The graph can always be rebuilt from RocksDB; a failed save costs time on the next open, not data.
      this.#o.log?.warn('face vectors not saved', { err });
    }
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      for (const t of [this.#sweepTimer, this.#saveTimer]) if (t) clearInterval(t);
      this.#schedule().catch(() => undefined);
      await this.#chain;
      this.#saveVectors();
      this.#closed = true;
      await this.#db.close();
    })();
    return this.#closing;
  }
}
