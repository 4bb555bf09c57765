/**
 * The audit trail, in the same RocksDB: append-only entries keyed by time and a sequence that only grows (so
 * entries stamped in one millisecond, or with a clock that stepped back, never overwrite one another).
 * Appends are written with sync, because the trail is the record of who looked at personal data.
 *
 * Each entry is a link of a hash chain (audit-chain.ts): it stores its sequence, the hash of the entry before
 * and its own hash. Every `checkpointEvery` entries, on a timer when there were new entries, and at close, a
 * checkpoint of the head signed with the node key is stored under `T\0<seq>`. Entries written before the chain
 * (older trails) stay readable; a genesis checkpoint marks where the chain starts. Appends that arrive while a
 * write is on disk are written together in the next synced batch (one fsync for many entries).
 */
import type { Logger } from '../common/log.js';
import type { NodeKey } from '../common/node-key.js';
import { IndexError } from '../common/errors.js';
import { ZERO_HASH, chainEntry, signCheckpoint, type Checkpoint } from './audit-chain.js';
import { decodeKeyCursor, encodeKeyCursor } from './cursor.js';
import { KIND, MAX_TIME, SEP, SEP_END, auditCheckpointKey, auditCheckpointPrefix, auditKey, auditPrefix, padTime, prefixEnd } from './keys.js';
import { decodeJson, encodeJson } from './record.js';
import { readRange, type BatchOp, type RocksDb } from './rocks.js';
import type { AuditEntry, AuditPage, ReadAuditOptions } from './types.js';

const MAX_LIMIT = 1000;
/** Most entries one synced batch carries. */
const MAX_GROUP = 1000;
export const AUDIT_SEQ = KIND.meta + SEP + 'auditSeq';
/** The chain's head {seq, hash}, written with each batch; absent until the first chained entry. */
export const AUDIT_HEAD = KIND.meta + SEP + 'auditHead';

export const AUDIT_DEFAULTS = {
  checkpointEvery: 1000,
  checkpointIntervalMs: 10 * 60_000,
} as const;

export interface AuditLogOptions {
  /** Signs checkpoints. Without one the chain is kept but nothing is signed (tools and benchmarks). */
  readonly key?: NodeKey | null;
  /** Written into checkpoints (the config's node id). */
  readonly node?: string;
  readonly checkpointEvery?: number;
  /** 0: no timer (checkpoints every N entries and at close only). */
  readonly checkpointIntervalMs?: number;
  readonly log?: Logger | undefined;
}

function bad(field: string, why: string): IndexError {
  return new IndexError('INDEX_BAD_QUERY', `${field} ${why}`, { detail: { field } });
}

type Resolved = Required<Omit<AuditLogOptions, 'key' | 'log'>> & { key: NodeKey | null; log: Logger | undefined };

interface Pending {
  entry: AuditEntry | null;
  resolve(c: Checkpoint | null): void;
  reject(err: unknown): void;
}

export class AuditLog {
  readonly #db: RocksDb;
  readonly #o: Resolved;
  #seq: number;
  /** Hash of the last chained entry, or null when the chain has not started (genesis at the next append). */
  #prev: string | null;
  #lastCheckpoint: Checkpoint | null;
  #sinceCheckpoint: number;
  readonly #queue: Pending[] = [];
  #writing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;

  private constructor(db: RocksDb, o: Resolved, nextSeq: number, prev: string | null, last: Checkpoint | null) {
    this.#db = db;
    this.#o = o;
    this.#seq = nextSeq;
    this.#prev = prev;
    this.#lastCheckpoint = last;
    this.#sinceCheckpoint = prev === null ? 0 : Math.max(0, nextSeq - 1 - (last?.seq ?? 0));
    if (o.checkpointIntervalMs > 0) {
      this.#timer = setInterval(() => {
        if (this.#sinceCheckpoint > 0 && this.#o.key) this.checkpoint().catch((err: unknown) => this.#o.log?.error('audit checkpoint failed', { err: err as Error }));
      }, o.checkpointIntervalMs);
      this.#timer.unref();
    }
  }

  static async open(db: RocksDb, opts: AuditLogOptions = {}): Promise<AuditLog> {
    const every = opts.checkpointEvery ?? AUDIT_DEFAULTS.checkpointEvery;
    if (!Number.isInteger(every) || every < 1 || every > 1_000_000) throw new RangeError('options.audit.checkpointEvery must be an integer in 1..1000000');
    const interval = opts.checkpointIntervalMs ?? AUDIT_DEFAULTS.checkpointIntervalMs;
    if (!Number.isInteger(interval) || interval < 0 || interval > 2 ** 31 - 1) throw new RangeError('options.audit.checkpointIntervalMs must be an integer >= 0');
    // The sequence is kept in its own key, written with each entry: after a clock step back the last key by
    // time need not hold the largest sequence.
    const [stored, head] = await db.getMany([AUDIT_SEQ, AUDIT_HEAD]);
    const last = await readRange(db, { gte: auditCheckpointPrefix, lt: prefixEnd(auditCheckpointPrefix), reverse: true, limit: 1 });
    const lastCp = last[0]?.[1] ? decodeJson<Checkpoint>(last[0][1]) : null;
    const o = { key: opts.key ?? null, node: opts.node ?? 'local', checkpointEvery: every, checkpointIntervalMs: interval, log: opts.log };
    return new AuditLog(db, o, stored ? Number(stored.toString('utf8')) + 1 : 1, head ? decodeJson<{ hash: string }>(head).hash : null, lastCp);
  }

  /** The key checkpoints are signed with (null: none). */
  get key(): NodeKey | null {
    return this.#o.key;
  }

  append(entry: AuditEntry): Promise<void> {
    const at = entry.at;
    if (typeof at !== 'number' || !Number.isInteger(at) || at < 0 || at > MAX_TIME) throw new RangeError('entry.at must be an integer time in ms');
    for (const k of ['tokenId', 'role', 'department', 'action'] as const) {
      if (typeof entry[k] !== 'string') throw new TypeError(`entry.${k} must be a string`);
    }
    const results = entry.results;
    if (typeof results !== 'number' && !Array.isArray(results)) throw new TypeError('entry.results must be an array of ids or a count');
    const stored: AuditEntry = {
      at, tokenId: entry.tokenId, role: entry.role, department: entry.department, action: entry.action,
      query: entry.query ?? null, results: typeof results === 'number' ? results : [...results],
    };
    return new Promise<Checkpoint | null>((resolve, reject) => {
      this.#queue.push({ entry: stored, resolve, reject });
      this.#kick();
    }).then(() => undefined);
  }

  /**
   * Signs the head now (when entries came since the last checkpoint) and resolves with the latest checkpoint;
   * null when there is no chain yet. Needs the node key.
   */
  checkpoint(): Promise<Checkpoint | null> {
    if (!this.#o.key) return Promise.reject(new IndexError('INDEX_IO', 'the audit trail has no node key to sign a checkpoint with'));
    return new Promise<Checkpoint | null>((resolve, reject) => {
      this.#queue.push({ entry: null, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#writing) return;
    this.#writing = (async () => {
      while (this.#queue.length > 0) await this.#writeGroup(this.#queue.splice(0, MAX_GROUP));
      this.#writing = null;
    })();
  }

  async #writeGroup(group: Pending[]): Promise<void> {
    const seq0 = this.#seq;
    const prev0 = this.#prev;
    const since0 = this.#sinceCheckpoint;
    const last0 = this.#lastCheckpoint;
    const ops: BatchOp[] = [];
    const key = this.#o.key;
    const sign = (kind: Checkpoint['kind'], seq: number, hash: string): void => {
      const c: Checkpoint = key
        ? signCheckpoint(key, { kind, seq, hash, at: Date.now(), node: this.#o.node })
        : { v: 1, kind, seq, hash, at: Date.now(), node: this.#o.node, keyFingerprint: '', signature: '' };
      ops.push({ type: 'put', key: auditCheckpointKey(seq), value: encodeJson(c) });
      this.#lastCheckpoint = c;
      this.#sinceCheckpoint = 0;
    };
    const marks: Array<Checkpoint | null> = [];
    let wrote = false;
    for (const p of group) {
      if (p.entry === null) {
        if (this.#prev !== null && this.#sinceCheckpoint > 0) sign('checkpoint', this.#seq - 1, this.#prev);
        marks.push(this.#prev === null ? null : this.#lastCheckpoint);
        continue;
      }
      if (this.#prev === null) {
        // The chain starts here; the entries before (if any) were written before it and are reported as such.
        sign('genesis', this.#seq - 1, ZERO_HASH);
        this.#prev = ZERO_HASH;
      }
      const seq = this.#seq++;
      const e = chainEntry(p.entry, seq, this.#prev);
      this.#prev = e.hash;
      ops.push({ type: 'put', key: auditKey(e.at, seq), value: encodeJson(e) });
      wrote = true;
      this.#sinceCheckpoint += 1;
      if (this.#sinceCheckpoint >= this.#o.checkpointEvery) sign('checkpoint', seq, e.hash);
      marks.push(null);
    }
    if (wrote) {
      ops.push({ type: 'put', key: AUDIT_SEQ, value: Buffer.from(String(this.#seq - 1)) });
      ops.push({ type: 'put', key: AUDIT_HEAD, value: encodeJson({ seq: this.#seq - 1, hash: this.#prev }) });
    }
    try {
      if (ops.length > 0) await this.#db.batch(ops, { sync: true });
    } catch (err) {
      // Nothing of the group is on disk: the chain goes on from where it was.
      this.#seq = seq0;
      this.#prev = prev0;
      this.#sinceCheckpoint = since0;
      this.#lastCheckpoint = last0;
      for (const p of group) p.reject(err);
      return;
    }
    group.forEach((p, i) => p.resolve(marks[i] ?? null));
  }

  /** Waits for queued appends; signs the head when entries came since the last checkpoint (a clean stop). */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    // Entries still queued are written first, so the checkpoint covers them.
    while (this.#writing) await this.#writing;
    if (this.#o.key && this.#sinceCheckpoint > 0) await this.checkpoint().catch((err: unknown) => this.#o.log?.error('audit checkpoint at close failed', { err: err as Error }));
    while (this.#writing) await this.#writing;
  }

  async read(opts: ReadAuditOptions): Promise<AuditPage> {
    const from = opts.from ?? 0;
    const to = opts.to ?? MAX_TIME;
    for (const [k, v] of [['from', opts.from], ['to', opts.to]] as const) {
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TIME)) throw bad(k, 'must be an integer time in ms');
    }
    if (from > to) throw bad('from', 'must not be after to');
    const limit = opts.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw bad('limit', `must be an integer in 1..${MAX_LIMIT}`);
    const lowerKey = auditPrefix + padTime(from);
    const upper = auditPrefix + padTime(to) + SEP_END;
    let range: { gte?: string; gt?: string } = { gte: lowerKey };
    if (opts.cursor !== undefined) {
      const after = decodeKeyCursor(opts.cursor, auditPrefix);
      if (after >= lowerKey) range = { gt: after };
    }
    const rows = await readRange(this.#db, { ...range, lt: upper, limit: limit + 1 });
    // The chain fields stay in the store: the page answers what was done, verify answers whether it was changed.
    const entries = rows.slice(0, limit).map(([, v]) => {
      const e = decodeJson<AuditEntry & { redacted?: boolean }>(v!);
      // An erased entry: who and what are gone, the time stays.
      if (e.redacted === true) return { at: e.at, tokenId: '', role: '', department: '', action: 'redacted', query: null, results: 0 };
      return { at: e.at, tokenId: e.tokenId, role: e.role, department: e.department, action: e.action, query: e.query, results: e.results };
    });
    const last = rows[limit - 1];
    return { entries, nextCursor: rows.length > limit && last ? encodeKeyCursor(last[0]) : null };
  }
}
