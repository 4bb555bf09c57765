/**
 * The wire format of cluster search, between an api node (cluster/scatter.ts) and the index replicas of one
 * shard (cluster/search-service.ts), on `cvcore.search.<shard>`.
 *
 * Request: JSON, one of
 *   { op: 'query', scope, query, position }    query without its cursor; position: where this shard goes on
 *   { op: 'face', scope, embedding, opts }      embedding: base64 of the Float32 bytes
 *   { op: 'get' | 'thumbnail' | 'plateCrop', scope, id }
 *   { op: 'erase', scope, ids, dryRun: true }   what an erasure of these ids (of this shard) would take; a dry run
 *                                               only: the erasure itself travels on the erasure stream (erasure.ts)
 * Answer: u32 LE head length | head JSON | bytes. The head is the answer ({records, next}, {matches},
 * {found}) or `{ error: { code, message, detail } }`; the bytes carry a record (`get`, record-codec) or a JPEG
 * (`thumbnail`, `plateCrop`), so no binary travels as base64 on the way back. The scope travels with each request: the
 * index node applies it, exactly as a single node does.
 */
import { ClusterError, CvcoreError, IndexError } from '../common/errors.js';
import type { TrajectoryPoint } from '../common/messages.js';
import type { ErasureResult, FaceMatch, FaceSearchOptions, PagePosition, Scope, SearchQuery, TrackRecordSummary } from '../search-index/index.js';
import { decodeWithBytes, encodeWithBytes } from '../search-index/index.js';

export type SearchRequest =
  | { op: 'query'; scope: Scope; query: Omit<SearchQuery, 'cursor'>; position: PagePosition | null }
  | { op: 'face'; scope: Scope; embedding: string; opts: FaceSearchOptions }
  | { op: 'get' | 'thumbnail' | 'plateCrop'; scope: Scope; id: string }
  | { op: 'erase'; scope: Scope; ids: string[]; dryRun: true };

export interface QueryAnswer {
  records: TrackRecordSummary[];
  /**
   * Where this shard goes on: every record of the shard up to here was returned; null: the shard is exhausted.
   * Plate searches carry the order key (`key`) too: their pages are in plate order.
   */
  next: PagePosition | null;
}
export interface FaceAnswer { matches: FaceMatch[] }
export interface FoundAnswer { found: boolean }
/** An erasure's dry run on one shard, with what the record log needs to find the found records' messages. */
export interface EraseAnswer {
  result: ErasureResult;
  /**
   * The found records: id, end time (ms) and whether it went to the face stream (the record log); camera, start,
   * trajectory and frame size (the crowd frames of the snapshot bucket that show them).
   */
  records: Array<{ id: string; end: number; face: boolean; cameraId: string; start: number; trajectory: TrajectoryPoint[]; frame: { width: number; height: number } | null }>;
}
export interface ErrorAnswer { error: { code: string; message: string; detail?: Record<string, unknown> } }

const enc = new TextEncoder();

export function encodeRequest(r: SearchRequest): Uint8Array {
  return enc.encode(JSON.stringify(r));
}

function badMessage(what: string): ClusterError {
  return new ClusterError('CLUSTER_BAD_MESSAGE', `${what} does not decode`);
}

/** Parses a request's outer shape; the query, options and scope are checked by the index that runs them. */
export function decodeRequest(data: Uint8Array): SearchRequest {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    throw badMessage('the search request');
  }
  if (typeof v !== 'object' || v === null) throw badMessage('the search request');
  const o = v as Record<string, unknown>;
  const scope = o['scope'];
  const scopeOk = scope === 'all' || (typeof scope === 'object' && scope !== null && Array.isArray((scope as { departments?: unknown }).departments)
    && ((scope as { departments: unknown[] }).departments).every((d) => typeof d === 'string'));
  if (!scopeOk) throw badMessage('the search request\'s scope');
  switch (o['op']) {
    case 'query': {
      const p = o['position'];
      const posOk = p === null || (typeof p === 'object' && p !== null && typeof (p as PagePosition).start === 'number' && typeof (p as PagePosition).id === 'string'
        && ((p as PagePosition).key === undefined || typeof (p as PagePosition).key === 'string'));
      if (typeof o['query'] !== 'object' || o['query'] === null || !posOk) throw badMessage('the query request');
      return o as unknown as SearchRequest;
    }
    case 'face':
      if (typeof o['embedding'] !== 'string' || typeof o['opts'] !== 'object' || o['opts'] === null) throw badMessage('the face request');
      return o as unknown as SearchRequest;
    case 'erase':
      // Only a dry run travels here: an erasure is published to the erasure stream and every replica applies it.
      if (!Array.isArray(o['ids']) || !o['ids'].every((x) => typeof x === 'string') || o['dryRun'] !== true) throw badMessage('the erase request');
      return o as unknown as SearchRequest;
    case 'get':
    case 'thumbnail':
    case 'plateCrop':
      if (typeof o['id'] !== 'string') throw badMessage('the get request');
      return o as unknown as SearchRequest;
    default:
      throw badMessage('the search request\'s op');
  }
}

/** An answer is framed as the index frames a record with its bytes: u32 head length, JSON head, bytes. */
export function encodeAnswer(head: unknown, bytes: Uint8Array | null = null): Uint8Array {
  return encodeWithBytes(head, bytes);
}

/** An error as an answer: the code and message travel, so the caller rethrows it with the same code. */
export function errorAnswer(err: unknown): Uint8Array {
  if (err instanceof CvcoreError) return encodeAnswer({ error: { code: err.code, message: err.message, detail: err.detail } });
  const code = err instanceof TypeError ? 'TYPE_ERROR' : err instanceof RangeError ? 'RANGE_ERROR' : 'INTERNAL';
  return encodeAnswer({ error: { code, message: (err as Error)?.message ?? String(err) } });
}

/** Decodes an answer; an error answer is thrown again, typed by its code's stage. */
export function decodeAnswer<T>(data: Uint8Array): { head: T; bytes: Buffer } {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let framed: { head: unknown; bytes: Buffer };
  try {
    if (b.length < 4 || 4 + b.readUInt32LE(0) > b.length) throw new Error('short');
    framed = decodeWithBytes<unknown>(b);
  } catch {
    throw badMessage('the search answer');
  }
  const head = framed.head;
  if (typeof head !== 'object' || head === null) throw badMessage('the search answer');
  const e = (head as Partial<ErrorAnswer>).error;
  if (e !== undefined) throw typedError(e);
  return { head: head as T, bytes: framed.bytes };
}

function typedError(e: ErrorAnswer['error']): Error {
  const opts = { detail: { ...(e.detail ?? {}) } };
  const message = String(e.message);
  if (typeof e.code !== 'string') return new ClusterError('CLUSTER_BAD_MESSAGE', `the search answer's error does not decode: ${message}`);
  if (e.code === 'TYPE_ERROR') return new TypeError(message);
  if (e.code === 'RANGE_ERROR') return new RangeError(message);
  if (e.code.startsWith('INDEX_')) return new IndexError(e.code, message, opts);
  if (e.code.startsWith('CLUSTER_')) return new ClusterError(e.code, message, opts);
  return new CvcoreError(e.code, message, opts);
}

export function embeddingToBase64(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

export function embeddingFromBase64(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  if (b.length % 4 !== 0) throw new IndexError('INDEX_BAD_QUERY', 'embedding must be whole Float32 values', { detail: { field: 'embedding' } });
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
