/**
 * The index store: batched, atomic writes of records with their index entries, and the reads behind query,
 * get and face search. Every write batch carries the entry counts and the face sequence with it, so after a
 * crash (SIGKILL included) the database holds whole batches only: no index entry without its record, no
 * record without its entries, counts that match. Writes and sweeps run one at a time on one chain.
 */
import { mkdirSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkVerifier, dataKeyringFile, type DataKeyFile, type DataKeyring } from '../common/data-key.js';
import { AuditError, CvcoreError, IndexError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { AuditLog } from './audit.js';
import type { AuditVerifyReport, Checkpoint } from './audit-chain.js';
import { exportAuditLines, verifyAuditDb, verifyAuditLines, type AuditVerifyKey } from './audit-verify.js';
import { encodeCursor } from './cursor.js';
import {
  FORMAT_VERSION, MAX_TIME, META_COUNTS, META_DATA_KEY, META_FORMAT, META_RESEAL, SEP, alarmFrameExpiryKey, alarmFrameKey, departmentOfClassPrefix, expiryKey, faceKey, facePrefix, faceSeqOf, orderSuffix,
  prefixEnd, recordKey,
} from './keys.js';
import { digestFilter, plan, scan } from './planner.js';
import { plateScan } from './plate-search.js';
import { QUERY_LIMITS, parseFaceOptions, parseQuery } from './query.js';
import {
  decodeJson, decodeRecordHead, decodeWithBytes, digestOf, embeddingBytes, embeddingFromBytes, encodeJson, encodeWithBytes,
  expiryKindOf, facePass, indexPrefixes, normalise, openFace, openRecord, ownedKeys, packTrajectory, plateKeys, scoreFace, sealFace, sealRecord, toStored, toSummary,
  unpackTrajectory, validateRecord,
  type FaceDigest, type FaceFilter, type StoredRecord,
} from './record.js';
import { RETENTION_DEFAULTS, checkRetention, expiredAlarmFrames, expiredIds, type Retention } from './retention.js';
import { ROCKS_OPEN_OPTIONS, createRocks, readRange, type BatchOp, type RocksDb } from './rocks.js';
import { BatchWriter } from './writer.js';
import { VERIFIER_AAD, resealBatch } from './sealing.js';
import type {
  AuditChainOptions, AlarmFrame, AuditEntry, AuditPage, FaceMatch, FaceSearchOptions, IndexOptions, IndexStats, ReadAuditOptions, Scope, SearchIndex,
  SearchPage, SearchQuery, TrackRecord,
} from './types.js';
import { FaceVectors } from './vectors.js';
import { checkErasureRequest, eraseInIndex, type ErasureRequest, type ErasureResult } from './erase.js';

/** The running index's re-seal state, beside its database (see #writeKeyStatus). */
export const DATA_KEY_STATUS_FILE = 'data-key-status.json';

export const INDEX_DEFAULTS = {
  batchSize: 512,
  flushMs: 200,
  sweepIntervalMs: 10 * 60_000,
  vectorSaveIntervalMs: 5 * 60_000,
  dimensions: 1024,
  /** Queued records beyond this many batches make put() wait for the write in flight. */
  maxPendingBatches: 4,
  /** Batches in the write thread at once: one being written while the next is prepared. */
  maxInFlight: 4,
  /** After each batch handed to the write thread, the face graph's build pauses this long (ms). */
  graphHoldMs: 250,
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
  /** Longest alarm frame id (it is a URL path segment). */
  maxAlarmFrameId: 256,
  /** Values the re-seal sweep after a key rotation reads per batch (one write, then live writes go first). */
  resealBatch: 256,
  /** How often the index looks for a rotated key (ring.reload() by the runtime), ms. */
  resealCheckMs: 2000,
  /** Largest alarm frame JPEG: a 4K frame at the pipeline's quality is well under it. */
  maxAlarmFrameBytes: 8 * 1024 * 1024,
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
  audit: AuditChainOptions | undefined;
  ring: DataKeyring;
}

/** The re-seal sweep's position (`M\0reseal`): moving every sealed value to key `target`, done up to key `after`. */
interface ResealState {
  target: string;
  after: string | null;
  done: boolean;
  resealed: number;
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
    audit: o.audit,
    ring: checkRing(o.dataKey),
  };
}

function checkRing(r: unknown): DataKeyring {
  const ok = typeof r === 'object' && r !== null && typeof (r as DataKeyring).seal === 'function' && typeof (r as DataKeyring).open === 'function';
  if (!ok) throw new TypeError('options.dataKey must be the data key ring (common/data-key.ts openDataKeyring)');
  return r as DataKeyring;
}

/**
 * The ring as the face graph's thread gets it: the key material, or null for `bench index --clear`'s framing-only
 * ring (bench/data-key.ts; the thread then strips the header), the benchmark's baseline of the cipher's cost.
 */
function ringForThread(ring: DataKeyring): DataKeyFile | null {
  return (ring as { benchClear?: boolean }).benchClear === true ? null : dataKeyringFile(ring);
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
  readonly #writer: BatchWriter;
  readonly #vectors: FaceVectors;
  readonly #audit: AuditLog;
  readonly #counts: Map<string, number>;
  /** Departments holding records (those with a class range), for plans over every department. */
  #departments: string[] | null = null;
  #records: number;
  #faces: number;
  #nextFaceSeq: number;
  #pending = new Map<string, TrackRecord>();
  #flushTimer: NodeJS.Timeout | null = null;
  #sweepTimer: NodeJS.Timeout | null = null;
  #resealTimer: NodeJS.Timeout | null = null;
  #reseal: ResealState;
  #resealing: Promise<number> | null = null;
  /** The ring's ids as the face graph's thread last got them. */
  #keysSent: string;
  /** Writes and sweeps, one at a time. */
  #chain: Promise<void> = Promise.resolve();
  #writeError: unknown = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  #bytesWritten = 0;
  /** The hand-over scheduled but not yet started, if any. */
  #queued: { handed: Promise<void>; written: Promise<void> } | null = null;
  /** Batches handed to the write thread and not yet settled. */
  readonly #inFlight = new Set<Promise<void>>();
  /** Batches taken off the queue and not yet handed to the write thread (their reads of old versions run). */
  #preparing = 0;
  /** Records of batches handed over, by id, until the database read of a later batch is sure to see them. */
  readonly #inFlightRecords = new Map<string, StoredRecord>();
  #settled: StoredRecord[][] = [];

  private constructor(o: Resolved, db: RocksDb, writer: BatchWriter, vectors: FaceVectors, audit: AuditLog, counts: StoredCounts, reseal: ResealState) {
    this.#o = o;
    this.#db = db;
    this.#writer = writer;
    this.#vectors = vectors;
    this.#audit = audit;
    this.#counts = new Map(Object.entries(counts.prefixes));
    this.#records = counts.records;
    this.#faces = counts.faces;
    this.#nextFaceSeq = counts.faceSeq;
    this.#reseal = reseal;
    this.#keysSent = SearchIndexImpl.#ringState(o.ring);
    // A rotated key (ring.reload() after `cvcore keys rotate`) starts the re-seal sweep; so does one left unfinished.
    this.#resealTimer = setInterval(() => {
      if (this.#resealing === null && (!this.#reseal.done || this.#reseal.target !== o.ring.currentId)) {
        this.reseal().catch((err: unknown) => o.log?.error('data key re-seal failed', { err }));
      }
    }, INDEX_DEFAULTS.resealCheckMs);
    this.#resealTimer.unref();
    void this.#writeKeyStatus();
    if (o.sweepIntervalMs > 0) {
      this.#sweepTimer = setInterval(() => {
        this.sweep().catch((err: unknown) => o.log?.error('retention sweep failed', { err }));
      }, o.sweepIntervalMs);
      this.#sweepTimer.unref();
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
    let writer: BatchWriter | null = null;
    let vectors: FaceVectors | null = null;
    try {
      const [countsBuf, formatBuf, verifierBuf, resealBuf] = await db.getMany([META_COUNTS, META_FORMAT, META_DATA_KEY, META_RESEAL]);
      const format = formatBuf?.toString('utf8') ?? null;
      if (countsBuf && format !== FORMAT_VERSION) {
        // Layout 2 held thumbnails and embeddings in clear. It is not re-sealed in place: RocksDB would keep the
        // clear versions in its files until a compaction happened to rewrite them.
        const how = format === '2'
          ? 'layout 2 stored thumbnails and embeddings unencrypted; move it aside and start a new index (re-ingest from the recordings if needed), and delete the old folder securely'
          : 'move it aside (or delete it) and start a new one';
        throw new IndexError('INDEX_FORMAT', `${o.dir} holds an index of key layout ${format ?? 1}; this version reads layout ${FORMAT_VERSION}: ${how}`, { detail: { dir: o.dir, format: format ?? '1', expected: FORMAT_VERSION } });
      }
      if (countsBuf && !verifierBuf) throw new IndexError('INDEX_FORMAT', `${o.dir} has no data key verifier (M\\0dataKey); it was not written by this version`, { detail: { dir: o.dir } });
      // The data key first: another key refuses here, before anything is read or written.
      const verifier = checkVerifier(o.ring, verifierBuf, VERIFIER_AAD);
      let reseal: ResealState = resealBuf ? decodeJson<ResealState>(resealBuf) : { target: o.ring.currentId, after: null, done: true, resealed: 0 };
      if (!verifierBuf) {
        // A new folder (or one that held only audit entries, which are not sealed): this key is its key.
        reseal = { target: o.ring.currentId, after: null, done: true, resealed: 0 };
        await db.batch([
          { type: 'put', key: META_FORMAT, value: Buffer.from(FORMAT_VERSION) },
          { type: 'put', key: META_DATA_KEY, value: verifier! },
          { type: 'put', key: META_RESEAL, value: encodeJson(reseal) },
        ]);
      }
      o.log?.info('search index data key', { dir: o.dir, keyFile: o.ring.path, current: o.ring.currentId, fingerprint: o.ring.fingerprint(), resealDone: reseal.done && reseal.target === o.ring.currentId });
      const counts: StoredCounts = countsBuf ? decodeJson<StoredCounts>(countsBuf) : { records: 0, faces: 0, faceSeq: 1, prefixes: {} };
      const lastFace = await readRange(db, { gte: facePrefix, lt: prefixEnd(facePrefix), reverse: true, limit: 1, values: false });
      const maxSeq = lastFace[0] ? faceSeqOf(lastFace[0][0]) : 0;
      counts.faceSeq = Math.max(counts.faceSeq, maxSeq + 1);
      writer = new BatchWriter(db.handle);
      await writer.ready();
      const opened = await FaceVectors.open(o.dir, o.dimensions, maxSeq, { log: o.log, db: db.handle, keys: ringForThread(o.ring) });
      vectors = opened.vectors;
      // The graph is not persisted (it would hold the embeddings outside the sealed entries): every face goes to
      // the graph's tail from the sealed entries, searchable at once, built into the graph in the background.
      const t0 = Date.now();
      const added = await SearchIndexImpl.#catchUp(db, o.ring, opened.vectors, opened.after);
      if (added > 0) o.log?.info('face vectors loaded from the sealed face entries; the graph builds in the background', { added, ms: Date.now() - t0 });
      const audit = await AuditLog.open(db, { ...(o.audit ?? {}), log: o.log });
      return new SearchIndexImpl(o, db, writer, opened.vectors, audit, counts, reseal);
    } catch (err) {
      await vectors?.close().catch(() => undefined);
      await writer?.close().catch(() => undefined);
      await db.close().catch(() => undefined);
      throw ioError(err, `read ${o.dir}`);
    }
  }

  /** Adds to the graph every face stored after sequence `after`. */
  static async #catchUp(db: RocksDb, ring: DataKeyring, vectors: FaceVectors, after: number): Promise<number> {
    const it = db.iterator({ gt: faceKey(after), lt: prefixEnd(facePrefix) });
    let added = 0;
    try {
      for (;;) {
        const rows = await it.nextv(1000);
        if (rows.length === 0) break;
        const d = vectors.dimensions;
        const flat = new Float32Array(rows.length * d);
        const seqs: number[] = [];
        for (const [k, v] of rows) {
          const bytes = openFace(ring, k, v!).bytes;
          if (bytes.byteLength !== d * 4) continue;
          new Uint8Array(flat.buffer, seqs.length * d * 4, d * 4).set(bytes);
          seqs.push(faceSeqOf(k));
        }
        vectors.add(seqs, flat.subarray(0, seqs.length * d));
        added += seqs.length;
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
      this.#schedule().written.catch(() => undefined);
      // Backpressure: a producer faster than the disk waits for room in the write pipeline rather than
      // growing the queue.
      while (this.#pending.size >= this.#o.batchSize * INDEX_DEFAULTS.maxPendingBatches) await this.#schedule().handed;
    } else {
      this.#armTimer();
    }
  }

  #armTimer(): void {
    if (this.#flushTimer !== null || this.#pending.size === 0) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = null;
      this.#schedule().written.catch(() => undefined);
    }, this.#o.flushMs);
  }

  /**
   * Queues a hand-over of everything pending at the time it runs; one queued hand-over serves every caller until
   * it starts. Resolves when that batch is on disk. Hand-overs run one at a time on the chain, but a batch is
   * prepared while the one before it is still being written (at most `maxInFlight` batches in the write thread).
   */
  #schedule(): { handed: Promise<void>; written: Promise<void> } {
    if (this.#flushTimer) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
    if (this.#queued) return this.#queued;
    const handing = this.#chain.then(() => {
      this.#queued = null;
      return this.#handOver();
    });
    this.#chain = handing.then(() => undefined, () => undefined);
    const written = handing.then((h) => h.written);
    written.catch((err: unknown) => {
      this.#writeError = err;
      this.#o.log?.error('index write failed', { err });
    });
    const queued = { handed: this.#chain, written };
    this.#queued = queued;
    return queued;
  }

  async flush(): Promise<void> {
    if (this.#closed) throw new IndexError('INDEX_CLOSED', 'the index is closed');
    for (;;) {
      await this.#schedule().written.catch(() => undefined);
      // A hand-over may have taken records off the queue and not yet reached the write thread: wait for it.
      await this.#chain;
      await this.#drain();
      // A clean stop signs the audit head: a truncation of the last entries is detectable from here on.
      await this.#audit.close();
      if ((this.#pending.size === 0 && this.#preparing === 0 && this.#inFlight.size === 0) || this.#writeError !== null) break;
    }
    if (this.#writeError !== null) {
      const err = this.#writeError;
      this.#writeError = null;
      throw ioError(err, 'write a batch');
    }
  }

  /** Waits until every batch handed to the write thread has settled. */
  async #drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Forgets in-flight records of batches that have settled (written: RocksDB has them; failed: requeued). */
  #prune(): void {
    for (const b of this.#settled) for (const s of b) if (this.#inFlightRecords.get(s.id) === s) this.#inFlightRecords.delete(s.id);
    this.#settled = [];
  }

  async #handOver(): Promise<{ written: Promise<void> }> {
    // After a failed write the write thread refuses batches until reset: let every batch in flight settle
    // (each failed one reverts its counts and requeues its records), so this batch's counts are right.
    if (this.#writer.failed) {
      await this.#drain();
      this.#writer.reset();
    }
    while (this.#inFlight.size >= INDEX_DEFAULTS.maxInFlight) await Promise.race(this.#inFlight).catch(() => undefined);
    this.#prune();
    if (this.#pending.size === 0) return { written: Promise.resolve() };
    const batch: TrackRecord[] = [];
    for (const [id, r] of this.#pending) {
      if (batch.length >= this.#o.batchSize) break;
      batch.push(r);
      this.#pending.delete(id);
    }
    // What is left is the next batch: full ones go at once, a partial one after flushMs.
    if (this.#pending.size >= this.#o.batchSize) this.#schedule().written.catch(() => undefined);
    else this.#armTimer();
    // From here until the write thread has it, the batch is neither pending nor in flight: flush and close
    // count it through #preparing, or they would return while its records are on their way.
    this.#preparing++;
    try {
      return await this.#submit(batch);
    } finally {
      this.#preparing--;
    }
  }

  /** Builds a batch's write (old entries out, new ones in, counts) and hands it to the write thread. */
  async #submit(batch: TrackRecord[]): Promise<{ written: Promise<void> }> {
    const ops: BatchOp[] = [];
    const delta = new Map<string, number>();
    const bump = (p: string, n: number): void => {
      delta.set(p, (delta.get(p) ?? 0) + n);
    };
    let dRecords = 0;
    let dFaces = 0;
    // A put of an id already stored replaces it: its old entries go in the same batch, before the new ones.
    // The id may also sit in a batch still being written, which the database read cannot see yet.
    const olds = await this.#db.getMany(batch.map((r) => recordKey(r.id)));
    const removedSeqs: number[] = [];
    batch.forEach((r, i) => {
      const b = olds[i];
      const old = this.#inFlightRecords.get(r.id) ?? (b ? decodeRecordHead(b) : null);
      if (!old) return;
      for (const key of ownedKeys(old)) ops.push({ type: 'del', key });
      for (const p of indexPrefixes(old)) bump(p, -1);
      dRecords--;
      if (old.hasFace) dFaces--;
      if (old.faceSeq !== null) removedSeqs.push(old.faceSeq);
    });
    const stored: StoredRecord[] = [];
    const d = this.#o.dimensions;
    const faceCount = batch.reduce((n, r) => n + (r.embedding ? 1 : 0), 0);
    const flat = new Float32Array(faceCount * d);
    const newSeqs: number[] = [];
    let seq = this.#nextFaceSeq;
    const empty = Buffer.alloc(0);
    for (const r of batch) {
      const faceSeq = r.embedding ? seq++ : null;
      const s = toStored(r, faceSeq);
      stored.push(s);
      const digest = encodeJson(digestOf(s));
      const suffix = orderSuffix(s.start, s.id);
      for (const p of indexPrefixes(s)) {
        ops.push({ type: 'put', key: p + suffix, value: digest });
        bump(p, 1);
      }
      for (const key of plateKeys(s)) ops.push({ type: 'put', key, value: digest });
      const rk = recordKey(s.id);
      ops.push({ type: 'put', key: rk, value: sealRecord(this.#o.ring, rk, s, r.thumbnail, r.plateCrop ?? null, s.trajectoryLength ? packTrajectory(r.trajectory ?? [], s.start) : null) });
      ops.push({ type: 'put', key: expiryKey(expiryKindOf(s), s.end, s.id), value: empty });
      if (r.embedding && faceSeq !== null) {
        const unit = normalise(r.embedding);
        flat.set(unit, newSeqs.length * d);
        newSeqs.push(faceSeq);
        const fd: FaceDigest = [s.id, s.department, s.cameraId, s.start];
        const fk = faceKey(faceSeq);
        ops.push({ type: 'put', key: fk, value: sealFace(this.#o.ring, fk, fd, embeddingBytes(unit)) });
        dFaces++;
      }
      dRecords++;
    }
    ops.push({ type: 'put', key: META_COUNTS, value: encodeJson(this.#countsAfter(delta, dRecords, dFaces, seq)) });
    // Counts and in-flight records count the batch from now on, so the next batch builds on it; a failure
    // takes both back.
    this.#applyCounts(delta, dRecords, dFaces, seq);
    for (const s of stored) this.#inFlightRecords.set(s.id, s);
    const bytes = ops.reduce((n, op) => n + op.key.length + (op.type === 'put' ? op.value.length : 0), 0);
    // The write path is busy: the face graph's build waits, so its CPU goes to ingest.
    this.#vectors.hold(INDEX_DEFAULTS.graphHoldMs);
    const written = this.#writer.write(ops).then(
      () => {
        this.#settled.push(stored);
        this.#bytesWritten += bytes;
        this.#vectors.remove(removedSeqs);
        this.#vectors.add(newSeqs, flat);
      },
      (err: unknown) => {
        // Nothing of the batch is on disk; the records go back to the queue so a later flush retries them.
        this.#settled.push(stored);
        this.#revertCounts(delta, dRecords, dFaces);
        for (const r of batch) if (!this.#pending.has(r.id)) this.#pending.set(r.id, r);
        throw ioError(err, 'write a batch');
      },
    );
    const tracked = written.then(() => undefined, () => undefined);
    this.#inFlight.add(tracked);
    void tracked.then(() => this.#inFlight.delete(tracked));
    return { written };
  }

  #revertCounts(delta: Map<string, number>, dRecords: number, dFaces: number): void {
    const back = new Map<string, number>();
    for (const [p, n] of delta) back.set(p, -n);
    this.#applyCounts(back, -dRecords, -dFaces, this.#nextFaceSeq);
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
      const had = this.#counts.has(p);
      if (v > 0) this.#counts.set(p, v);
      else this.#counts.delete(p);
      if (had !== v > 0 && departmentOfClassPrefix(p) !== null) this.#departments = null;
    }
    this.#records += dRecords;
    this.#faces += dFaces;
    this.#nextFaceSeq = nextSeq;
  }

  /** Every department holding records, from the counts. */
  #allDepartments(): string[] {
    if (this.#departments === null) {
      const out = new Set<string>();
      for (const p of this.#counts.keys()) {
        const d = departmentOfClassPrefix(p);
        if (d !== null) out.add(d);
      }
      this.#departments = [...out];
    }
    return this.#departments;
  }

  async get(id: string, scope: Scope): Promise<TrackRecord | null> {
    this.#check();
    const depts = checkScope(scope);
    if (typeof id !== 'string' || id.length === 0) return null;
    const read = async (): Promise<TrackRecord | null> => {
      const [rb] = await this.#db.getMany([recordKey(id)]);
      if (!rb) return null;
      // The scope is checked on the clear summary before anything is decrypted.
      if (depts && !depts.has(decodeRecordHead(rb).department)) return null;
      const { record: s, thumbnail: tb, plateCrop: pb, trajectory: jb } = openRecord(this.#o.ring, recordKey(id), rb);
      const [fb] = s.faceSeq !== null ? await this.#db.getMany([faceKey(s.faceSeq)]) : [undefined];
      const eb = fb && s.faceSeq !== null ? openFace(this.#o.ring, faceKey(s.faceSeq), fb).bytes : null;
      return this.#full(s, tb, eb, pb, jb);
    };
    return read().catch((err: unknown) => {
      throw ioError(err, 'read a record');
    });
  }

  #full(s: StoredRecord, tb: Buffer | null, eb: Buffer | null, pb: Buffer | null, jb: Buffer | null): TrackRecord {
    const { faceSeq: _seq, hasThumbnail: _t, hasFace: _f, hasPlateCrop: _p, plateCropLength: _l, keys: _k, trajectoryLength: _j, ...rest } = s;
    void _seq; void _t; void _f; void _p; void _l; void _k; void _j;
    return {
      ...rest, thumbnail: tb ? new Uint8Array(tb) : null, embedding: eb ? embeddingFromBytes(eb) : null, plateCrop: pb ? new Uint8Array(pb) : null,
      // Records written before trajectories (and tracks without boxes) read without one; the API shows it empty.
      ...(jb ? { trajectory: unpackTrajectory(jb, s.start) } : {}),
    };
  }

  thumbnail(id: string, scope: Scope): Promise<Uint8Array | null> {
    return this.#bytes(id, scope, 'thumbnail');
  }

  plateCrop(id: string, scope: Scope): Promise<Uint8Array | null> {
    return this.#bytes(id, scope, 'plateCrop');
  }

  async #bytes(id: string, scope: Scope, which: 'thumbnail' | 'plateCrop'): Promise<Uint8Array | null> {
    this.#check();
    const depts = checkScope(scope);
    if (typeof id !== 'string' || id.length === 0) return null;
    const [rb] = await this.#db.getMany([recordKey(id)]).catch((err: unknown) => {
      throw ioError(err, `read a ${which === 'thumbnail' ? 'thumbnail' : 'plate crop'}`);
    });
    if (!rb) return null;
    if (depts && !depts.has(decodeRecordHead(rb).department)) return null;
    const b = openRecord(this.#o.ring, recordKey(id), rb)[which];
    return b ? new Uint8Array(b) : null;
  }

  async query(input: SearchQuery, scope: Scope): Promise<SearchPage> {
    this.#check();
    const depts = checkScope(scope);
    const q = parseQuery(input);
    if (depts && depts.size === 0) return { records: [], nextCursor: null };
    const limit = q.limit ?? QUERY_LIMITS.defaultLimit;
    if (q.plate !== undefined) return this.#plateQuery(q, scope, depts, limit);
    try {
      const p = plan(q, scope, (prefix) => this.#counts.get(prefix) ?? 0, this.#allDepartments());
      const { candidates, stoppedAt } = await scan(this.#db, p, q, digestFilter(q, scope), limit + 1, this.#o.scanBudget);
      const page = candidates.slice(0, limit);
      const bufs = await this.#db.getMany(page.map((c) => recordKey(c.id)));
      const records = [];
      for (const b of bufs) {
        if (!b) continue; // swept between the index read and the record read
        const s = decodeRecordHead(b);
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

  /** A plate search (plate-search.ts): plate order, then the same record loading and scope check as query. */
  async #plateQuery(q: SearchQuery, scope: Scope, depts: Set<string> | null, limit: number): Promise<SearchPage> {
    try {
      const departments = depts ? [...depts] : this.#allDepartments();
      const { hits, stoppedAt } = await plateScan(this.#db, q, departments, digestFilter(q, scope), limit + 1, this.#o.scanBudget);
      const page = hits.slice(0, limit);
      const bufs = await this.#db.getMany(page.map((h) => recordKey(h.id)));
      const records = [];
      for (let i = 0; i < bufs.length; i++) {
        const b = bufs[i];
        if (!b) continue;
        const s = decodeRecordHead(b);
        if (depts && !depts.has(s.department)) continue;
        const h = page[i]!;
        records.push({ ...toSummary(s), plateMatch: h.match, order: h.order });
      }
      const last = page[page.length - 1];
      if (stoppedAt) return { records, nextCursor: encodeCursor({ start: stoppedAt.start, id: stoppedAt.id, key: stoppedAt.order }) };
      return { records, nextCursor: hits.length > limit && last ? encodeCursor({ start: last.start, id: last.id, key: last.order }) : null };
    } catch (err) {
      throw ioError(err, 'run a plate search');
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
    const filter: FaceFilter = { departments: depts ? [...depts] : null, cameras: o.cameraIds ?? null, from: o.from ?? -Infinity, to: o.to ?? Infinity };
    const pass = facePass(filter);
    const q = normalise(embedding);
    try {
      // When the cameras, scope or the whole index hold few records, an exact scan of their faces is both
      // exact and cheaper than the graph plus filtering.
      const narrow: SearchQuery = { ...(o.cameraIds ? { cameraIds: o.cameraIds } : {}), ...(o.from !== undefined ? { from: o.from } : {}), ...(o.to !== undefined ? { to: o.to } : {}) };
      const p = plan(narrow, scope, (prefix) => this.#counts.get(prefix) ?? 0, this.#allDepartments());
      if (p.estimate <= INDEX_DEFAULTS.faceExactMax) {
        const { candidates } = await scan(this.#db, p, narrow, digestFilter(narrow, scope), p.estimate + 1, Number.POSITIVE_INFINITY);
        const recs = await this.#db.getMany(candidates.map((c) => recordKey(c.id)));
        const seqs: number[] = [];
        for (const b of recs) {
          const seq = b ? decodeRecordHead(b).faceSeq : null;
          if (seq !== null && seq !== undefined) seqs.push(seq);
        }
        const scored = await this.#scoreFaces(q, seqs, pass);
        return await this.#matches(scored.sort((a, b) => b[1] - a[1]).slice(0, k), depts);
      }
      // The graph (and its not yet built tail) nominates; its thread filters and re-ranks the nominees by their
      // face entries. A filter that keeps too few of even the largest fetch is answered by an exact scan.
      this.#syncKeys();
      const near = await this.#vectors.nearest(q, k, filter, INDEX_DEFAULTS.faceOverfetchMax);
      const top = near.complete ? near.matches : await this.#exactFaces(q, pass, k);
      return await this.#matches(top, depts);
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
      const s = decodeRecordHead(b);
      if (depts && !depts.has(s.department)) return;
      out.push({ record: toSummary(s), similarity: top[i]![1] });
    });
    return out;
  }

  /** Exact similarities of the faces under `seqs` that pass the filter (a missing entry was deleted meanwhile). */
  async #scoreFaces(q: Float32Array, seqs: number[], pass: (fd: FaceDigest) => boolean): Promise<Array<[string, number]>> {
    const keys = seqs.map(faceKey);
    const bufs = await this.#db.getMany(keys);
    const out: Array<[string, number]> = [];
    for (const [i, b] of bufs.entries()) {
      const scored = b ? scoreFace(q, this.#o.ring.open(b, keys[i]!), pass) : null;
      if (scored) out.push(scored);
    }
    return out;
  }

  async #exactFaces(q: Float32Array, pass: (fd: FaceDigest) => boolean, k: number): Promise<Array<[string, number]>> {
    const it = this.#db.iterator({ gte: facePrefix, lt: prefixEnd(facePrefix) });
    const best: Array<[string, number]> = [];
    try {
      for (;;) {
        const rows = await it.nextv(1000);
        if (rows.length === 0) break;
        for (const [k, v] of rows) {
          const scored = scoreFace(q, this.#o.ring.open(v!, k), pass);
          if (scored) best.push(scored);
        }
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

  async putAlarmFrame(frame: AlarmFrame): Promise<void> {
    this.#check();
    const bad = (field: string, why: string): IndexError => new IndexError('INDEX_BAD_RECORD', `frame.${field} ${why}`, { detail: { field, id: frame?.id } });
    if (typeof frame !== 'object' || frame === null) throw new TypeError('frame must be an object');
    for (const f of ['id', 'cameraId', 'department'] as const) {
      const v = frame[f];
      if (typeof v !== 'string' || v.length === 0 || v.includes(SEP) || v.length > INDEX_DEFAULTS.maxAlarmFrameId) throw bad(f, `must be a non-empty string without NUL, at most ${INDEX_DEFAULTS.maxAlarmFrameId} characters`);
    }
    if (typeof frame.at !== 'number' || !Number.isInteger(frame.at) || frame.at < 0 || frame.at > MAX_TIME) throw bad('at', `must be an integer time in 0..${MAX_TIME}`);
    if (!(frame.jpeg instanceof Uint8Array) || frame.jpeg.byteLength === 0 || frame.jpeg.byteLength > INDEX_DEFAULTS.maxAlarmFrameBytes) {
      throw bad('jpeg', `must be a non-empty Uint8Array of at most ${INDEX_DEFAULTS.maxAlarmFrameBytes} bytes`);
    }
    const key = alarmFrameKey(frame.id);
    try {
      const [old] = await this.#db.getMany([key]);
      const ops: BatchOp[] = [];
      // A frame stored again under its id (an alert re-sent) keeps one expiry entry.
      if (old) ops.push({ type: 'del', key: alarmFrameExpiryKey(decodeWithBytes<{ at: number }>(old).head.at, frame.id) });
      ops.push({ type: 'put', key, value: encodeWithBytes({ cameraId: frame.cameraId, department: frame.department, at: frame.at }, this.#o.ring.seal(frame.jpeg, key)) });
      ops.push({ type: 'put', key: alarmFrameExpiryKey(frame.at, frame.id), value: Buffer.alloc(0) });
      await this.#db.batch(ops);
    } catch (err) {
      throw ioError(err, 'store an alarm frame');
    }
  }

  async alarmFrame(id: string, scope: Scope): Promise<AlarmFrame | null> {
    this.#check();
    const depts = checkScope(scope);
    if (typeof id !== 'string' || id.length === 0 || id.includes(SEP)) return null;
    const [b] = await this.#db.getMany([alarmFrameKey(id)]).catch((err: unknown) => {
      throw ioError(err, 'read an alarm frame');
    });
    if (!b) return null;
    const { head, bytes } = decodeWithBytes<{ cameraId: string; department: string; at: number }>(b);
    if (depts && !depts.has(head.department)) return null;
    return { id, cameraId: head.cameraId, department: head.department, at: head.at, jpeg: new Uint8Array(this.#o.ring.open(bytes, alarmFrameKey(id))) };
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

  #auditKey(given?: AuditVerifyKey): AuditVerifyKey {
    if (given) return given;
    const k = this.#audit.key;
    if (!k) throw new AuditError('AUDIT_KEY', 'no key to verify the audit trail with: this index was opened without the node key; give one');
    return { publicKey: k.publicKey, fingerprint: k.fingerprint };
  }

  async verifyAudit(opts: { key?: AuditVerifyKey; from?: number; to?: number } = {}): Promise<AuditVerifyReport> {
    this.#check();
    const key = this.#auditKey(opts.key);
    try {
      if (opts.from === undefined && opts.to === undefined) return await verifyAuditDb(this.#db, key);
      const lines = await this.#exportLines(opts.from ?? 0, opts.to ?? MAX_TIME, false, key);
      return verifyAuditLines(lines.join('\n'), { key });
    } catch (err) {
      throw ioError(err, 'read the audit trail');
    }
  }

  async exportAudit(opts: { from: number; to: number }): Promise<string[]> {
    this.#check();
    return this.#exportLines(opts.from, opts.to, true, this.#auditKey());
  }

  async #exportLines(from: number, to: number, sign: boolean, key: AuditVerifyKey): Promise<string[]> {
    for (const [k, v] of [['from', from], ['to', to]] as const) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TIME) throw new IndexError('INDEX_BAD_QUERY', `${k} must be an integer time in ms`, { detail: { field: k } });
    }
    if (from > to) throw new IndexError('INDEX_BAD_QUERY', 'from must not be after to', { detail: { field: 'from' } });
    try {
      // The range's tail is covered by a signature: the head is signed before the export is read.
      if (sign && this.#audit.key) await this.#audit.checkpoint();
      const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      return await exportAuditLines(this.#db, { from, to, publicPem, node: this.#o.audit?.node ?? 'local' });
    } catch (err) {
      throw ioError(err, 'export the audit trail');
    }
  }

  async auditCheckpoint(): Promise<Checkpoint | null> {
    this.#check();
    try {
      return await this.#audit.checkpoint();
    } catch (err) {
      throw ioError(err, 'sign an audit checkpoint');
    }
  }

  sweep(now: number = Date.now()): Promise<number> {
    try {
      this.#check();
    } catch (err) {
      return Promise.reject(err);
    }
    if (typeof now !== 'number' || !Number.isFinite(now)) return Promise.reject(new TypeError('now must be a time in ms'));
    const run = this.#chain.then(async () => {
      // The sweep reads records from the database: batches still being written must land first.
      await this.#drain();
      if (this.#writer.failed) this.#writer.reset();
      this.#prune();
      return this.#sweepNow(now);
    });
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
      // An expiry entry without its record cannot come from a whole batch, but must not stall the sweep.
      const removed = await this.#removeRecords(expired.map((e) => e.id), expired.map((e) => ({ type: 'del', key: e.key })));
      total += removed.length;
      if (expired.length < INDEX_DEFAULTS.sweepChunk) break;
    }
    // Alarm frames go with the records of their time (trackDays); they are not counted as records.
    let frames = 0;
    for (;;) {
      const expired = await expiredAlarmFrames(this.#db, this.#o.retention, now, INDEX_DEFAULTS.sweepChunk);
      if (expired.length === 0) break;
      await this.#writer.write(expired.flatMap((e) => [{ type: 'del', key: e.key }, { type: 'del', key: alarmFrameKey(e.id) }] as BatchOp[]));
      frames += expired.length;
      if (expired.length < INDEX_DEFAULTS.sweepChunk) break;
    }
    if (total > 0 || frames > 0) this.#o.log?.info('retention sweep', { deleted: total, alarmFrames: frames });
    return total;
  }

  /**
   * Deletes the stored records under `ids` (those that exist) with every key they own (index entries, expiry, face
   * entry), their counts and their face vectors, in one batch with `also`: the one delete path of retention and
   * erasure. Runs on the chain, after in-flight batches have settled. Returns the records deleted.
   */
  async #removeRecords(ids: readonly string[], also: BatchOp[] = []): Promise<StoredRecord[]> {
    const ops: BatchOp[] = [...also];
    const delta = new Map<string, number>();
    let dRecords = 0;
    let dFaces = 0;
    const removedSeqs: number[] = [];
    const removed: StoredRecord[] = [];
    const bufs = await this.#db.getMany(ids.map((id) => recordKey(id)));
    for (const b of bufs) {
      if (!b) continue;
      const s = decodeRecordHead(b);
      for (const key of ownedKeys(s)) ops.push({ type: 'del', key });
      for (const p of indexPrefixes(s)) delta.set(p, (delta.get(p) ?? 0) - 1);
      dRecords--;
      if (s.hasFace) dFaces--;
      if (s.faceSeq !== null) removedSeqs.push(s.faceSeq);
      removed.push(s);
    }
    if (ops.length === 0) return removed;
    ops.push({ type: 'put', key: META_COUNTS, value: encodeJson(this.#countsAfter(delta, dRecords, dFaces, this.#nextFaceSeq)) });
    await this.#writer.write(ops);
    this.#applyCounts(delta, dRecords, dFaces, this.#nextFaceSeq);
    this.#vectors.remove(removedSeqs);
    return removed;
  }

  /**
   * Erases one person's records and what this index keeps about them (erase.ts): on the write chain, after
   * everything queued before it is written, so no batch in flight brings a record back. A dry run reads only.
   */
  async erase(request: ErasureRequest): Promise<ErasureResult> {
    this.#check();
    checkErasureRequest(request, checkScope);
    // Records still queued are written first: the erasure then finds them in RocksDB like any other.
    await this.flush();
    const run = this.#chain.then(async () => {
      await this.#drain();
      if (this.#writer.failed) this.#writer.reset();
      this.#prune();
      const result = await eraseInIndex({
        db: this.#db,
        ring: this.#o.ring,
        removeRecords: (ids) => this.#removeRecords(ids),
        write: (ops) => this.#writer.write(ops),
        // The graph has dropped the vectors (#removeRecords): their freed slots are overwritten, so memory does not
        // keep them either (the graph is never saved: a restart rebuilds it from the sealed F entries left).
        scrubVectors: async () => {
          await this.#vectors.scrub();
        },
      }, request);
      // A put of an erased id that arrived meanwhile (it was queued when the erasure was asked for) goes too.
      if (!request.dryRun) for (const id of result.tracks) this.#pending.delete(id);
      return result;
    });
    this.#chain = run.then(() => undefined, () => undefined);
    return run.catch((err: unknown) => {
      throw ioError(err, 'erase records');
    });
  }

  stats(): IndexStats {
    return {
      records: this.#records, faces: this.#faces, pendingWrites: this.#pending.size, bytesWritten: this.#bytesWritten,
      faceGraphBacklog: this.#vectors.backlog().tail,
    };
  }

  async settle(): Promise<void> {
    this.#check();
    await this.flush();
    await this.#vectors.settle();
  }

  /** The ring's key ids and current key, to notice a reload. */
  static #ringState(ring: DataKeyring): string {
    return `${ring.currentId}:${ring.ids.join(',')}`;
  }

  /** Hands the face graph's thread the ring again after a reload, before the next request it serves (messages keep order). */
  #syncKeys(): void {
    const now = SearchIndexImpl.#ringState(this.#o.ring);
    if (now === this.#keysSent) return;
    this.#vectors.setKeys(ringForThread(this.#o.ring));
    this.#keysSent = now;
  }

  /**
   * `<dir>/data-key-status.json`: the sweep's state for `cvcore keys status`/`retire` while this process holds
   * RocksDB's lock (no secrets: key ids and counts). Best effort; the folder's own `M\0reseal` is authoritative.
   */
  async #writeKeyStatus(): Promise<void> {
    const path = join(this.#o.dir, DATA_KEY_STATUS_FILE);
    try {
      await writeFile(`${path}.tmp`, `${JSON.stringify({ ...this.dataKeyStatus(), ids: this.#o.ring.ids, at: new Date().toISOString(), pid: process.pid })}\n`);
      await rename(`${path}.tmp`, path);
    } catch (err) {
      this.#o.log?.warn('data key status file not written', { err });
    }
  }

  /** Where the re-seal sweep after a rotation stands (also what `cvcore keys status` reads from a stopped core). */
  dataKeyStatus(): { current: string; target: string; done: boolean; resealed: number; after: string | null } {
    const r = this.#reseal;
    return { current: this.#o.ring.currentId, target: r.target, done: r.done && r.target === this.#o.ring.currentId, resealed: r.resealed, after: r.after };
  }

  /**
   * Re-seals every value under an older key than the ring's current one, in batches of `resealBatch` values, each
   * its own step on the write chain (live writes go between them) and each carrying the sweep's position, so a
   * restart resumes. Reads keep working throughout: a value names its key. Resolves with the values re-sealed.
   */
  reseal(): Promise<number> {
    try {
      this.#check();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#resealing) return this.#resealing;
    const run = (async () => {
      const ring = this.#o.ring;
      if (this.#reseal.target !== ring.currentId) this.#reseal = { target: ring.currentId, after: null, done: false, resealed: 0 };
      this.#syncKeys();
      let total = 0;
      let lastLog = Date.now();
      while (!this.#reseal.done && !this.#closing) {
        const step = this.#chain.then(async () => {
          // Batches in flight may hold values this batch reads: they land first.
          await this.#drain();
          if (this.#writer.failed) this.#writer.reset();
          if (ring.currentId !== this.#reseal.target) {
            // Rotated again meanwhile: start over under the newest key.
            this.#reseal = { target: ring.currentId, after: null, done: false, resealed: 0 };
            this.#syncKeys();
          }
          const b = await resealBatch(this.#db, ring, this.#reseal.after, INDEX_DEFAULTS.resealBatch);
          const next: ResealState = { target: this.#reseal.target, after: b.last, done: b.done, resealed: this.#reseal.resealed + b.ops.length };
          await this.#writer.write([...b.ops, { type: 'put', key: META_RESEAL, value: encodeJson(next) }]);
          this.#reseal = next;
          await this.#writeKeyStatus();
          return b.ops.length;
        });
        this.#chain = step.then(() => undefined, () => undefined);
        total += await step;
        if (Date.now() - lastLog >= 5000 || this.#reseal.done) {
          lastLog = Date.now();
          this.#o.log?.info(this.#reseal.done ? 'data key re-seal done' : 'data key re-seal', { target: this.#reseal.target, resealed: this.#reseal.resealed, at: this.#reseal.after });
        }
        // Yield: queued puts and queries run before the next batch.
        await new Promise((r) => setImmediate(r));
      }
      return total;
    })();
    this.#resealing = run;
    void run.then(() => { this.#resealing = null; }, () => { this.#resealing = null; });
    return run.catch((err: unknown) => {
      throw ioError(err, 're-seal values under the current data key');
    });
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      for (const t of [this.#sweepTimer, this.#resealTimer]) if (t) clearInterval(t);
      // Everything accepted is written; a batch that fails here stays lost only if RocksDB keeps failing.
      let tries = 0;
      while ((this.#pending.size > 0 || this.#preparing > 0) && tries++ < 3) await this.#schedule().written.catch(() => undefined);
      await this.#chain;
      await this.#drain();
      // A clean stop signs the audit head: a truncation of the last entries is detectable from here on.
      await this.#audit.close();
      if (this.#flushTimer) clearTimeout(this.#flushTimer);
      await this.#resealing?.catch(() => undefined);
      this.#closed = true;
      await this.#vectors.close();
      // The write thread uses the database's handle: it stops before the database closes.
      await this.#writer.close();
      await this.#db.close();
    })();
    return this.#closing;
  }
}
