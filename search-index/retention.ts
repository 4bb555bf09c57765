/**
 * Retention per record kind. A record expires `faceDays` after its end when it holds a face embedding (personal
 * biometric data, kept shortest) and `trackDays` after its end otherwise. Expiry entries `X\0<f|t>\0<end>\0<id>`
 * sort by end time per kind, so a sweep reads only what has expired, and a changed setting applies to records
 * already stored. Alarm frames (`W\0<at>\0<id>`) go `trackDays` after they were taken, with the records of their time.
 */
import { SEP, alarmFrameExpiryPrefix, expiryPrefix, padTime, type ExpiryKind } from './keys.js';
import { readRange, type RocksDb } from './rocks.js';

export const DAY_MS = 86_400_000;

export const RETENTION_DEFAULTS = { trackDays: 30, faceDays: 7 } as const;

export interface Retention {
  trackDays: number;
  faceDays: number;
}

export function checkRetention(r: unknown): Retention {
  if (typeof r !== 'object' || r === null) throw new TypeError('options.retention must be an object { trackDays, faceDays }');
  const o = r as Record<string, unknown>;
  for (const k of ['trackDays', 'faceDays'] as const) {
    const v = o[k];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`options.retention.${k} must be a positive number of days`);
  }
  return { trackDays: o['trackDays'] as number, faceDays: o['faceDays'] as number };
}

/** Records whose retention ran out before `now` (their id and expiry key), oldest first per kind, at most `limit`. */
export async function expiredIds(db: RocksDb, retention: Retention, now: number, limit: number): Promise<Array<{ id: string; key: string }>> {
  const out: Array<{ id: string; key: string }> = [];
  const kinds: Array<[ExpiryKind, number]> = [['f', retention.faceDays], ['t', retention.trackDays]];
  for (const [kind, days] of kinds) {
    if (out.length >= limit) break;
    const cutoff = Math.max(0, Math.floor(now - days * DAY_MS));
    const prefix = expiryPrefix(kind);
    const rows = await readRange(db, { gte: prefix, lt: prefix + padTime(cutoff), values: false, limit: limit - out.length });
    for (const [key] of rows) out.push({ id: key.slice(prefix.length + padTime(0).length + SEP.length), key });
  }
  return out;
}

/** Alarm frames past `trackDays` (from the frame's time) before `now`: their ids and expiry keys, oldest first, at most `limit`. */
export async function expiredAlarmFrames(db: RocksDb, retention: Retention, now: number, limit: number): Promise<Array<{ id: string; key: string }>> {
  const cutoff = Math.max(0, Math.floor(now - retention.trackDays * DAY_MS));
  const prefix = alarmFrameExpiryPrefix;
  const rows = await readRange(db, { gte: prefix, lt: prefix + padTime(cutoff), values: false, limit });
  return rows.map(([key]) => ({ id: key.slice(prefix.length + padTime(0).length + SEP.length), key }));
}
