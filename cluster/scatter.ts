/**
 * Scatter-gather, api side: `ClusterIndex` is the SearchIndex an api node hands to the HTTP API. Takes a NATS
 * connection, the shard count S and a local index holding the materialised audit trail; gives the SearchIndex
 * calls answered by the index replicas of every shard (cluster/search-service.ts), with the caller's scope
 * applied on the index nodes.
 *
 * query: one request per shard (any replica answers: queue groups), merged in the index's order (start desc,
 * id asc; plate searches: by the records' order keys, which every shard computes alike). A record is returned only when no shard can still hold one before it: each answer names its shard's
 * frontier (all of the shard's records up to it were returned), and the merge never passes the smallest frontier
 * of a shard that has more. A shard that falls behind (a scan-budget page, or `limit` records all later than
 * another shard's) is asked again, up to `queryRounds` rounds per page. The cursor holds every shard's position
 * (see ClusterCursor), so no record is skipped and none repeated. A shard that does not answer within
 * `searchTimeoutMs` (no replica, or a slow one) is named in `missingShards` and keeps its position in the cursor:
 * the next page asks it again, and its records arrive then (later than their order would put them).
 *
 * faceSearch: each shard's top k, merged by similarity, top k overall; missing shards on the array.
 * get / thumbnail: the record's shard only (a shard without an answer: ClusterError CLUSTER_SHARD_UNAVAILABLE).
 * erase: a dry run on every shard holding an asked id (the caller's scope applied there); then, unless a dry run,
 * the found ids published to the erasure stream for every replica, a bounded wait for the live ones, and the
 * records deleted from the record log (erasure.ts). A shard without an answer fails the erasure
 * (CLUSTER_SHARD_UNAVAILABLE): half a person is never erased silently.
 * appendAudit: JetStream-acknowledged append to CVCORE_AUDIT; readAudit: the local copy (audit-trail.ts).
 * put / flush / sweep / settle: an api node stores no records (put: CLUSTER_NOT_SUPPORTED; the others are no-ops).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { KV, NatsConnection } from 'nats';
import { ClusterError, IndexError } from '../common/errors.js';
import type { TrackRecord } from '../common/messages.js';
import type { Logger } from '../common/log.js';
import {
  QUERY_LIMITS, checkErasureRequest, parseFaceOptions, parseQuery, type ErasureRequest, type ErasureResult,
  type AuditEntry, type AuditPage, type FaceMatch, type FaceMatchList, type FaceSearchOptions, type IndexStats, type PagePosition,
  type ReadAuditOptions, type AuditVerifyKey, type AuditVerifyReport, type Checkpoint, type Scope, type SearchIndex, type SearchPage, type SearchQuery, type TrackRecordSummary,
} from '../search-index/index.js';
import { AuditPublisher } from './audit-trail.js';
import { awaitReplicas, deleteFromRecordLog, eraseAlarmFrames, ensureErasureStream, publishErasure, type ErasureStreamOptions, type LoggedRecord } from './erasure.js';
import { isNatsError, permissionSubject, clusterError } from './js-util.js';
import { decodeRecord } from './record-codec.js';
import {
  decodeAnswer, embeddingToBase64, encodeRequest, type EraseAnswer, type FaceAnswer, type FoundAnswer, type QueryAnswer, type SearchRequest,
} from './search-protocol.js';
import { cameraOfRecordId, shardOf } from './shards.js';
import { searchSubject } from './subjects.js';

export interface ClusterIndexOptions {
  /** This api node's id (its audit subject). */
  readonly node: string;
  /** S. */
  readonly shards: number;
  /** How long each shard request waits before the shard is named missing (config cluster.searchTimeoutMs). */
  readonly searchTimeoutMs: number;
  /** The local index the AuditMaterialiser writes the trail into; readAudit reads it. */
  readonly audit: SearchIndex;
  /** Request rounds one query page may take to fill (shards that fall behind are asked again). Default 4. */
  readonly queryRounds?: number;
  /** Embedding length face search expects. Default 1024. */
  readonly dimensions?: number;
  /** How long an audit append keeps retrying before the request fails. Default 10000 ms. */
  readonly auditRetryForMs?: number;
  /** Erasure: the erasure stream's settings (created on the first erasure) and how long to wait for the replicas. Absent: erase is CLUSTER_NOT_SUPPORTED. */
  readonly erasure?: {
    readonly stream: ErasureStreamOptions;
    readonly waitMs?: number;
    /** The crowd alarm frames (KV CVCORE_SNAPSHOTS): those showing an erased track are blanked or deleted. */
    readonly frames?: KV;
  };
  readonly log?: Logger;
}

/** A shard's place in a cluster query: from the start, after a position, or exhausted. */
type ShardPos = null | 'done' | PagePosition;

const CURSOR_VERSION = 1;

/**
 * The cluster cursor: base64url of raw-deflated JSON `{v: 1, k: 'cluster', n: S, p: [...]}`, one entry per shard:
 * null (not begun), 0 (exhausted) or [start, id] or, for plate searches, [start, id, order key] (the shard's
 * records up to this position were returned).
 * Deflated because S positions share most of their bytes (camera ids, times); anything else is INDEX_BAD_QUERY.
 */
export function encodeClusterCursor(positions: readonly ShardPos[]): string {
  const p = positions.map((x) => (x === null ? null : x === 'done' ? 0 : x.key === undefined ? [x.start, x.id] : [x.start, x.id, x.key]));
  return deflateRawSync(Buffer.from(JSON.stringify({ v: CURSOR_VERSION, k: 'cluster', n: positions.length, p }), 'utf8')).toString('base64url');
}

export function decodeClusterCursor(cursor: unknown, shards: number): ShardPos[] {
  const bad = (why: string): IndexError => new IndexError('INDEX_BAD_QUERY', `cursor is not a cursor this cluster issued (${why})`, { detail: { field: 'cursor' } });
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 64 * 1024 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad('not base64url');
  let v: unknown;
  try {
    v = JSON.parse(inflateRawSync(Buffer.from(cursor, 'base64url'), { maxOutputLength: 1024 * 1024 }).toString('utf8'));
  } catch {
    throw bad('does not decode');
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (o['v'] !== CURSOR_VERSION || o['k'] !== 'cluster') throw bad('unknown version');
  if (o['n'] !== shards) throw bad(`issued for ${String(o['n'])} shards, the cluster has ${shards}`);
  const p = o['p'];
  if (!Array.isArray(p) || p.length !== shards) throw bad('positions');
  return p.map((x: unknown): ShardPos => {
    if (x === null) return null;
    if (x === 0) return 'done';
    if (Array.isArray(x) && (x.length === 2 || x.length === 3) && typeof x[0] === 'number' && Number.isInteger(x[0]) && x[0] >= 0 && typeof x[1] === 'string' && x[1].length > 0) {
      if (x.length === 2) return { start: x[0], id: x[1] };
      if (typeof x[2] === 'string' && x[2].length > 0) return { start: x[0], id: x[1], key: x[2] };
    }
    throw bad('positions');
  });
}

const ASCII = /^[\x00-\x7f]*$/;
/** The index's id order: RocksDB compares the UTF-8 bytes. */
function compareIds(a: string, b: string): number {
  if (ASCII.test(a) && ASCII.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
/** Index order: start descending, then id ascending; plate searches by order key. Negative: `a` comes first. */
export function compareOrder(a: PagePosition | TrackRecordSummary, b: PagePosition | TrackRecordSummary): number {
  const ka = 'key' in a ? a.key : 'order' in a ? a.order : undefined;
  const kb = 'key' in b ? b.key : 'order' in b ? b.order : undefined;
  if (ka !== undefined && kb !== undefined) return compareIds(ka, kb);
  return a.start !== b.start ? b.start - a.start : compareIds(a.id, b.id);
}

function checkScope(scope: Scope): void {
  if (scope === 'all') return;
  if (typeof scope !== 'object' || scope === null || !Array.isArray(scope.departments) || !scope.departments.every((d) => typeof d === 'string')) {
    throw new TypeError("scope must be 'all' or { departments: string[] }");
  }
}

interface QueryShard {
  /** Where the next request for this shard starts. */
  pos: ShardPos;
  /** Records answered and not yet returned, in order. */
  buf: TrackRecordSummary[];
  /** The last record returned from `buf`'s answer. */
  taken: PagePosition | null;
  /** Where the shard's unseen records begin (after it); null: none left after `buf`. Undefined: not asked yet. */
  frontier: PagePosition | null | undefined;
  missing: boolean;
}

export class ClusterIndex implements SearchIndex {
  readonly #nc: NatsConnection;
  readonly #o: ClusterIndexOptions;
  readonly #audit: AuditPublisher;
  #closed = false;
  #erasureStream: Promise<void> | null = null;

  constructor(nc: NatsConnection, o: ClusterIndexOptions) {
    if (!Number.isInteger(o.shards) || o.shards < 1) throw new RangeError('shards must be a positive integer');
    if (!Number.isInteger(o.searchTimeoutMs) || o.searchTimeoutMs < 1) throw new RangeError('searchTimeoutMs must be a positive integer');
    this.#nc = nc;
    this.#o = o;
    this.#audit = new AuditPublisher(nc, { node: o.node, retryForMs: o.auditRetryForMs ?? 10_000 });
  }

  #check(): void {
    if (this.#closed) throw new IndexError('INDEX_CLOSED', 'the index is closed');
  }

  /**
   * One request to one shard; null when no replica answered in time. A request can reach a replica that has
   * just died (the servers have not yet all dropped its queue subscription), so a shard gets a second try,
   * which the queue group gives to a live replica, before it is named missing.
   */
  async #ask<T>(shard: number, req: SearchRequest): Promise<{ head: T; bytes: Buffer } | null> {
    for (let attempt = 1; ; attempt++) {
      let reply;
      try {
        reply = await this.#nc.request(searchSubject(shard), encodeRequest(req), { timeout: this.#o.searchTimeoutMs });
      } catch (err) {
        if (isNatsError(err) && permissionSubject(err) === null && (err.code === '503' || err.code === 'TIMEOUT')) {
          if (attempt < 2) {
            // No responders at all is answered at once; give the servers a moment to route to a live replica.
            if (err.code === '503') await new Promise((r) => setTimeout(r, 200));
            continue;
          }
          this.#o.log?.warn('shard did not answer', { shard, op: req.op, code: err.code });
          return null;
        }
        throw clusterError(err, `ask shard ${shard}`);
      }
      return decodeAnswer<T>(reply.data);
    }
  }

  // ---- records ----------------------------------------------------------------------------------------------

  async put(record: TrackRecord): Promise<void> {
    throw new ClusterError('CLUSTER_NOT_SUPPORTED', `an api node stores no records (record ${String(record?.id)}): analytics nodes publish them to the record streams`);
  }

  async flush(): Promise<void> { this.#check(); }

  async get(id: string, scope: Scope): Promise<TrackRecord | null> {
    this.#check();
    checkScope(scope);
    const shard = this.#shardOfId(id);
    if (shard === null) return null;
    const a = await this.#ask<FoundAnswer>(shard, { op: 'get', scope, id });
    if (a === null) throw this.#unavailable([shard]);
    return a.head.found ? decodeRecord(a.bytes) : null;
  }

  thumbnail(id: string, scope: Scope): Promise<Uint8Array | null> {
    return this.#image('thumbnail', id, scope);
  }

  plateCrop(id: string, scope: Scope): Promise<Uint8Array | null> {
    return this.#image('plateCrop', id, scope);
  }

  /** A record's JPEG (best shot or plate) from the replica that holds its shard. */
  async #image(op: 'thumbnail' | 'plateCrop', id: string, scope: Scope): Promise<Uint8Array | null> {
    this.#check();
    checkScope(scope);
    const shard = this.#shardOfId(id);
    if (shard === null) return null;
    const a = await this.#ask<FoundAnswer>(shard, { op, scope, id });
    if (a === null) throw this.#unavailable([shard]);
    return a.head.found ? new Uint8Array(a.bytes) : null;
  }

  #shardOfId(id: string): number | null {
    if (typeof id !== 'string' || id.length === 0) return null;
    const camera = cameraOfRecordId(id);
    return camera === null ? null : shardOf(camera, this.#o.shards);
  }

  #unavailable(shards: number[]): ClusterError {
    return new ClusterError('CLUSTER_SHARD_UNAVAILABLE', `no index replica answered for shard${shards.length > 1 ? 's' : ''} ${shards.join(', ')} within ${this.#o.searchTimeoutMs} ms`, { detail: { shards } });
  }

  async query(input: SearchQuery, scope: Scope): Promise<SearchPage> {
    this.#check();
    checkScope(scope);
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new IndexError('INDEX_BAD_QUERY', 'query must be an object', { detail: { field: 'query' } });
    const { cursor, ...rest } = input;
    // Validated here too, so a bad query is INDEX_BAD_QUERY even when no shard answers.
    const q = parseQuery(rest);
    const S = this.#o.shards;
    const start = cursor === undefined ? Array.from({ length: S }, (): ShardPos => null) : decodeClusterCursor(cursor, S);
    if (scope !== 'all' && scope.departments.length === 0) return { records: [], nextCursor: null };
    const limit = q.limit ?? QUERY_LIMITS.defaultLimit;
    const shards: QueryShard[] = start.map((pos) => ({ pos, buf: [], taken: null, frontier: pos === 'done' ? null : undefined, missing: false }));
    const out: TrackRecordSummary[] = [];
    const rounds = this.#o.queryRounds ?? 4;
    const headOf = (): { shard: number; r: TrackRecordSummary } | null => {
      let best: { shard: number; r: TrackRecordSummary } | null = null;
      shards.forEach((s, i) => {
        const r = s.buf[0];
        if (r && (best === null || compareOrder(r, best.r) < 0)) best = { shard: i, r };
      });
      return best;
    };
    // A shard must be asked (again) when it has more, holds nothing unreturned, and its unseen records may come
    // before the next record to return.
    const needsAsking = (s: QueryShard, head: TrackRecordSummary | null): boolean =>
      !s.missing && s.buf.length === 0 && s.frontier !== null && (s.frontier === undefined || head === null || compareOrder(s.frontier, head) < 0);
    for (let round = 0; round < rounds && out.length < limit; round++) {
      const head = headOf()?.r ?? null;
      const ask = shards.map((s, i) => (needsAsking(s, head) ? i : -1)).filter((i) => i >= 0);
      if (ask.length === 0) break;
      await Promise.all(ask.map(async (i) => {
        const s = shards[i]!;
        if (s.frontier !== undefined && s.frontier !== null) s.pos = s.frontier;
        const pos = s.pos;
        const a = await this.#ask<QueryAnswer>(i, { op: 'query', scope, query: q, position: pos === 'done' ? null : pos });
        if (a === null) { s.missing = true; return; }
        s.buf = a.head.records;
        s.taken = null;
        s.frontier = a.head.next;
      }));
      // Return records while no shard with more could still hold one before them.
      while (out.length < limit) {
        const h = headOf();
        if (h === null) break;
        if (shards.some((s) => needsAsking(s, h.r))) break;
        const s = shards[h.shard]!;
        out.push(s.buf.shift()!);
        s.taken = { start: h.r.start, id: h.r.id, ...(h.r.order !== undefined ? { key: h.r.order } : {}) };
      }
    }
    const missing: number[] = [];
    const next: ShardPos[] = shards.map((s, i): ShardPos => {
      if (s.missing) { missing.push(i); return s.pos; }
      if (s.frontier === undefined) return s.pos;
      // Records answered but not returned are asked for again from after the last one returned.
      if (s.buf.length > 0) return s.taken ?? s.pos;
      return s.frontier === null ? 'done' : s.frontier;
    });
    const page: SearchPage = { records: out, nextCursor: next.every((p) => p === 'done') ? null : encodeClusterCursor(next) };
    if (missing.length > 0) page.missingShards = missing;
    return page;
  }

  async faceSearch(embedding: Float32Array, opts: FaceSearchOptions, scope: Scope): Promise<FaceMatchList> {
    this.#check();
    checkScope(scope);
    const o = parseFaceOptions(opts ?? {});
    const d = this.#o.dimensions ?? 1024;
    if (!(embedding instanceof Float32Array) || embedding.length !== d || !embedding.every(Number.isFinite)) {
      throw new IndexError('INDEX_BAD_QUERY', `embedding must be a Float32Array of ${d} finite numbers`, { detail: { field: 'embedding' } });
    }
    if (scope !== 'all' && scope.departments.length === 0) return [];
    const k = o.k ?? QUERY_LIMITS.defaultK;
    const b64 = embeddingToBase64(embedding);
    const missing: number[] = [];
    const all: FaceMatch[] = [];
    await Promise.all(Array.from({ length: this.#o.shards }, async (_, shard) => {
      const a = await this.#ask<FaceAnswer>(shard, { op: 'face', scope, embedding: b64, opts: o });
      if (a === null) missing.push(shard);
      else all.push(...a.head.matches);
    }));
    const top: FaceMatchList = all.sort((x, y) => y.similarity - x.similarity || compareIds(x.record.id, y.record.id)).slice(0, k);
    if (missing.length > 0) top.missingShards = missing.sort((x, y) => x - y);
    return top;
  }

  // ---- erasure ----------------------------------------------------------------------------------------------

  async erase(r: ErasureRequest): Promise<ErasureResult> {
    this.#check();
    checkErasureRequest(r, checkScope);
    const eo = this.#o.erasure;
    if (!eo) throw new ClusterError('CLUSTER_NOT_SUPPORTED', 'this api node has no erasure settings');
    if (r.redactAudit === true) throw new ClusterError('CLUSTER_NOT_SUPPORTED', 'audit redaction is not done in cluster mode: the trail is the replicated stream CVCORE_AUDIT');
    const ids = [...new Set(r.ids)];
    const byShard = new Map<number, string[]>();
    const unsharded: string[] = [];
    for (const id of ids) {
      const shard = this.#shardOfId(id);
      if (shard === null) { unsharded.push(id); continue; }
      byShard.set(shard, [...(byShard.get(shard) ?? []), id]);
    }
    // The dry run, every shard at once; one shard without an answer fails the whole erasure.
    const missing: number[] = [];
    const answers: Array<{ shard: number; a: EraseAnswer }> = [];
    await Promise.all([...byShard].map(async ([shard, sids]) => {
      const a = await this.#ask<EraseAnswer>(shard, { op: 'erase', scope: r.scope, ids: sids, dryRun: true });
      if (a === null) missing.push(shard);
      else answers.push({ shard, a: a.head });
    }));
    if (missing.length > 0) throw this.#unavailable(missing.sort((x, y) => x - y));
    answers.sort((x, y) => x.shard - y.shard);
    const found = new Map<number, string[]>();
    const logged: LoggedRecord[] = [];
    let result: ErasureResult = { tracks: [], notFound: [...unsharded], faces: 0, thumbnails: 0, plateCrops: 0, trajectories: 0, alarmFrames: { blanked: [], deleted: [] }, auditRedacted: 0 };
    for (const { shard, a } of answers) {
      const x = a.result;
      if (x.tracks.length > 0) found.set(shard, x.tracks);
      for (const rec of a.records) logged.push({ ...rec, shard });
      result = {
        tracks: [...result.tracks, ...x.tracks], notFound: [...result.notFound, ...x.notFound], faces: result.faces + x.faces, thumbnails: result.thumbnails + x.thumbnails,
        plateCrops: result.plateCrops + x.plateCrops, trajectories: result.trajectories + x.trajectories,
        alarmFrames: { blanked: [...result.alarmFrames.blanked, ...x.alarmFrames.blanked], deleted: [...result.alarmFrames.deleted, ...x.alarmFrames.deleted] }, auditRedacted: 0,
      };
    }
    const frameTracks = answers.flatMap(({ a }) => a.records);
    const framesOf = async (dryRun: boolean): Promise<ErasureResult['alarmFrames']> => {
      if (!eo.frames || frameTracks.length === 0) return result.alarmFrames;
      const f = await eraseAlarmFrames(eo.frames, frameTracks, dryRun).catch((err: unknown) => { throw clusterError(err, 'erase the alarm frames'); });
      return { blanked: [...result.alarmFrames.blanked, ...f.blanked], deleted: [...result.alarmFrames.deleted, ...f.deleted] };
    };
    if (r.dryRun === true || found.size === 0) return { ...result, alarmFrames: await framesOf(true), cluster: { applied: [], pending: [] }, recordLog: { deleted: 0, notFound: [] } };
    const jsm = await this.#nc.jetstreamManager({ timeout: 5_000 });
    this.#erasureStream ??= ensureErasureStream(jsm, eo.stream, this.#o.log).catch((err: unknown) => { this.#erasureStream = null; throw clusterError(err, 'create the erasure stream'); });
    await this.#erasureStream;
    const erasureId = r.erasureId ?? `er-${Date.now()}`;
    const seqs = await publishErasure(this.#nc, erasureId, found, Date.now());
    const [cluster, recordLog] = await Promise.all([
      awaitReplicas(jsm, seqs, { waitMs: eo.waitMs }),
      deleteFromRecordLog(this.#nc, jsm, logged).catch((err: unknown) => { throw clusterError(err, 'delete the erased records from the record log'); }),
    ]);
    this.#o.log?.info('erasure published', { erasure: erasureId, shards: [...found.keys()], records: result.tracks.length, applied: cluster.applied, pending: cluster.pending, logDeleted: recordLog.deleted });
    return { ...result, alarmFrames: await framesOf(false), cluster, recordLog };
  }

  // ---- audit ------------------------------------------------------------------------------------------------

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.#check();
    await this.#audit.append(entry);
  }

  async readAudit(opts: ReadAuditOptions): Promise<AuditPage> {
    this.#check();
    return this.#o.audit.readAudit(opts);
  }

  // The proofs are of this node's local copy: a chain this node wrote (in stream order) and signed with its key.
  async verifyAudit(opts?: { key?: AuditVerifyKey; from?: number; to?: number }): Promise<AuditVerifyReport> {
    this.#check();
    if (!this.#o.audit.verifyAudit) throw new ClusterError('CLUSTER_NOT_SUPPORTED', 'the local audit copy cannot be verified');
    return this.#o.audit.verifyAudit(opts);
  }

  async exportAudit(opts: { from: number; to: number }): Promise<string[]> {
    this.#check();
    if (!this.#o.audit.exportAudit) throw new ClusterError('CLUSTER_NOT_SUPPORTED', 'the local audit copy cannot be exported');
    return this.#o.audit.exportAudit(opts);
  }

  async auditCheckpoint(): Promise<Checkpoint | null> {
    this.#check();
    if (!this.#o.audit.auditCheckpoint) throw new ClusterError('CLUSTER_NOT_SUPPORTED', 'the local audit copy cannot be signed');
    return this.#o.audit.auditCheckpoint();
  }

  // ---- not an api node's job ---------------------------------------------------------------------------------

  async sweep(): Promise<number> { return 0; }

  /** Records and faces live on the index nodes (their stats); an api node reports zeros. */
  stats(): IndexStats {
    return { records: 0, faces: 0, pendingWrites: 0, bytesWritten: 0, faceGraphBacklog: 0 };
  }

  async settle(): Promise<void> { this.#check(); }

  /** Stops answering; the connection, the materialiser and the audit index belong to the caller. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
