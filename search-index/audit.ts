/**
 * The audit trail, in the same RocksDB: append-only entries keyed by time and a sequence that only grows (so
 * entries stamped in one millisecond, or with a clock that stepped back, never overwrite one another).
 * Appends are written with sync, because the trail is the record of who looked at personal data.
 */
import { IndexError } from '../common/errors.js';
import { decodeKeyCursor, encodeKeyCursor } from './cursor.js';
import { KIND, MAX_TIME, SEP, SEP_END, auditKey, auditPrefix, padTime } from './keys.js';
import { decodeJson, encodeJson } from './record.js';
import { readRange, type RocksDb } from './rocks.js';
import type { AuditEntry, AuditPage, ReadAuditOptions } from './types.js';

const MAX_LIMIT = 1000;
const AUDIT_SEQ = KIND.meta + SEP + 'auditSeq';

function bad(field: string, why: string): IndexError {
  return new IndexError('INDEX_BAD_QUERY', `${field} ${why}`, { detail: { field } });
}

export class AuditLog {
  readonly #db: RocksDb;
  #seq: number;

  private constructor(db: RocksDb, nextSeq: number) {
    this.#db = db;
    this.#seq = nextSeq;
  }

  static async open(db: RocksDb): Promise<AuditLog> {
    // The sequence is kept in its own key, written with each entry: after a clock step back the last key by
    // time need not hold the largest sequence.
    const [stored] = await db.getMany([AUDIT_SEQ]);
    return new AuditLog(db, stored ? Number(stored.toString('utf8')) + 1 : 1);
  }

  async append(entry: AuditEntry): Promise<void> {
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
    const seq = this.#seq++;
    await this.#db.batch([
      { type: 'put', key: auditKey(at, seq), value: encodeJson(stored) },
      { type: 'put', key: AUDIT_SEQ, value: Buffer.from(String(seq)) },
    ], { sync: true });
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
    const entries = rows.slice(0, limit).map(([, v]) => decodeJson<AuditEntry>(v!));
    const last = rows[limit - 1];
    return { entries, nextCursor: rows.length > limit && last ? encodeKeyCursor(last[0]) : null };
  }
}
