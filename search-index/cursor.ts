/**
 * Opaque cursors: base64url of a small JSON position. A page cursor names the last record returned (its start
 * and id), so the next page starts strictly after it in (start desc, id asc) order; records that arrive later
 * sort elsewhere or after the cursor and never shift a page already handed out.
 */
import { IndexError } from '../common/errors.js';

const VERSION = 1;

export interface PagePosition {
  start: number;
  id: string;
  /** Plate searches: the order key of the last record (plate-search.ts); their pages are not in start order. */
  key?: string;
}

function bad(field: string): IndexError {
  return new IndexError('INDEX_BAD_QUERY', `${field} is not a cursor this index issued`, { detail: { field } });
}

export function encodeCursor(p: PagePosition): string {
  const o = p.key === undefined ? { v: VERSION, s: p.start, i: p.id } : { v: VERSION, s: p.start, i: p.id, k: p.key };
  return Buffer.from(JSON.stringify(o), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, field = 'cursor'): PagePosition {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad(field);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad(field);
  }
  if (typeof v !== 'object' || v === null) throw bad(field);
  const o = v as Record<string, unknown>;
  if (o['v'] !== VERSION || typeof o['s'] !== 'number' || !Number.isInteger(o['s']) || o['s'] < 0 || typeof o['i'] !== 'string' || o['i'].length === 0) {
    throw bad(field);
  }
  if (o['k'] !== undefined && typeof o['k'] !== 'string') throw bad(field);
  return typeof o['k'] === 'string' ? { start: o['s'], id: o['i'], key: o['k'] } : { start: o['s'], id: o['i'] };
}

/** Audit cursors carry the last key read. */
export function encodeKeyCursor(key: string): string {
  return Buffer.from(JSON.stringify({ v: VERSION, k: key }), 'utf8').toString('base64url');
}

export function decodeKeyCursor(cursor: string, prefix: string, field = 'cursor'): string {
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad(field);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad(field);
  }
  const k = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['k'] : undefined;
  if (typeof k !== 'string' || !k.startsWith(prefix)) throw bad(field);
  return k;
}
