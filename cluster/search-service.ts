/**
 * Scatter-gather, index side. Takes the shards this node holds and its local SearchIndex; gives answers on
 * `cvcore.search.<shard>` (queue group `cvcore-index-<shard>`, so one replica of each shard answers each request)
 * for query, face, get and thumbnail, with the caller's scope applied here, by the local index, as on one node.
 *
 * A node holding several shards keeps them in one RocksDB index, so an answer for shard s holds only records whose
 * camera maps to s (shardOf(cameraId, S) === s). With camera ids in the request, the service keeps those of shard s
 * (none: an empty answer). Without, it pages the local index with the index's own positions and drops other
 * shards' records, going on for up to `QUERY_ROUNDS` local pages to fill the page; `next` is the position after
 * the last record returned, or after the last one examined, so the shard's records come in index order with no gap
 * and no repeat. Face search over-fetches (k x 4, up to 500) until k of the shard's faces are found or the index
 * has no more candidates.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import { ClusterError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { decodeCursor, encodeCursor, type FaceMatch, type FaceSearchOptions, type PagePosition, type SearchIndex, type SearchQuery, type TrackRecordSummary } from '../search-index/index.js';
import { encodeRecord } from './record-codec.js';
import {
  decodeRequest, embeddingFromBase64, encodeAnswer, errorAnswer, type EraseAnswer, type FaceAnswer, type QueryAnswer, type SearchRequest,
} from './search-protocol.js';
import { heldShards } from './shard-consumer.js';
import { cameraOfRecordId, shardOf } from './shards.js';
import { searchQueue, searchSubject } from './subjects.js';

/** Local pages one shard answer may read while dropping other shards' records. */
export const QUERY_ROUNDS = 8;
const MAX_K = 500;

export interface SearchServiceOptions {
  readonly shards: number;
  /** Shards this node holds; empty: all. */
  readonly indexShards: readonly number[];
  readonly index: SearchIndex;
  readonly log?: Logger;
}

export class SearchService {
  readonly #nc: NatsConnection;
  readonly #o: SearchServiceOptions;
  readonly #subs: Subscription[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #requests = 0;
  #errors = 0;
  #stopped: Promise<void> | null = null;

  private constructor(nc: NatsConnection, o: SearchServiceOptions) {
    this.#nc = nc;
    this.#o = o;
  }

  /** Subscribes for every held shard; resolves once the server has the subscriptions. */
  static async start(nc: NatsConnection, o: SearchServiceOptions): Promise<SearchService> {
    const s = new SearchService(nc, o);
    for (const shard of heldShards(o.shards, o.indexShards)) {
      s.#subs.push(nc.subscribe(searchSubject(shard), {
        queue: searchQueue(shard),
        callback: (err, msg) => {
          if (err) { o.log?.error('search subscription failed', { shard, err }); return; }
          const p = s.#handle(shard, msg);
          s.#inFlight.add(p);
          void p.finally(() => s.#inFlight.delete(p));
        },
      }));
    }
    await nc.flush();
    return s;
  }

  async #handle(shard: number, msg: Msg): Promise<void> {
    if (!msg.reply) return;
    this.#requests += 1;
    let answer: Uint8Array;
    try {
      answer = await this.answer(shard, decodeRequest(msg.data));
    } catch (err) {
      this.#errors += 1;
      this.#o.log?.debug('search request failed', { shard, err: err as Error });
      answer = errorAnswer(err);
    }
    try {
      msg.respond(answer);
    } catch (err) {
      this.#o.log?.warn('search answer not sent', { shard, err: err as Error });
    }
  }

  /** Answers one request for one shard (public so a node can answer its own shards without a round trip). */
  async answer(shard: number, req: SearchRequest): Promise<Uint8Array> {
    const index = this.#o.index;
    switch (req.op) {
      case 'query': return encodeAnswer(await this.#query(shard, req.query, req.position, req.scope));
      case 'face': return encodeAnswer(await this.#face(shard, embeddingFromBase64(req.embedding), req.opts, req.scope));
      case 'get': {
        const r = this.#owns(shard, req.id) ? await index.get(req.id, req.scope) : null;
        return r ? encodeAnswer({ found: true }, encodeRecord(r)) : encodeAnswer({ found: false });
      }
      case 'thumbnail': {
        const t = this.#owns(shard, req.id) ? await index.thumbnail(req.id, req.scope) : null;
        return t ? encodeAnswer({ found: true }, t) : encodeAnswer({ found: false });
      }
      case 'plateCrop': {
        const p = this.#owns(shard, req.id) ? await index.plateCrop(req.id, req.scope) : null;
        return p ? encodeAnswer({ found: true }, p) : encodeAnswer({ found: false });
      }
      case 'erase': return encodeAnswer(await this.#erasePlan(shard, req.ids, req.scope));
    }
  }

  /** An erasure's dry run for the ids of this shard (others are not found here: their shard answers for them). */
  async #erasePlan(shard: number, ids: string[], scope: SearchRequest['scope']): Promise<EraseAnswer> {
    const index = this.#o.index;
    const mine = ids.filter((id) => this.#owns(shard, id));
    const others = ids.filter((id) => !this.#owns(shard, id));
    if (!index.erase) throw new ClusterError('CLUSTER_NOT_SUPPORTED', 'this index node\'s index cannot erase');
    if (mine.length === 0) {
      return { result: { tracks: [], notFound: others, faces: 0, thumbnails: 0, plateCrops: 0, trajectories: 0, alarmFrames: { blanked: [], deleted: [] }, auditRedacted: 0 }, records: [] };
    }
    const r = await index.erase({ ids: mine, scope, dryRun: true });
    const records: EraseAnswer['records'] = [];
    for (const id of r.tracks) {
      const rec = await index.get(id, 'all');
      if (rec) {
        records.push({
          id, end: rec.end, face: rec.embedding !== null, cameraId: rec.cameraId, start: rec.start, trajectory: [...(rec.trajectory ?? [])],
          frame: rec.frame ? { width: rec.frame.width, height: rec.frame.height } : null,
        });
      }
    }
    return { result: { ...r, notFound: [...r.notFound, ...others] }, records };
  }

  #owns(shard: number, id: string): boolean {
    const camera = cameraOfRecordId(id);
    return camera !== null && shardOf(camera, this.#o.shards) === shard;
  }

  async #query(shard: number, input: Omit<SearchQuery, 'cursor'>, position: PagePosition | null, scope: SearchRequest['scope']): Promise<QueryAnswer> {
    const S = this.#o.shards;
    const index = this.#o.index;
    const q: SearchQuery = { ...input };
    delete q.cursor;
    const limit = q.limit ?? 50;
    const cursorAt = (p: PagePosition | null): Pick<SearchQuery, 'cursor'> => (p ? { cursor: encodeCursor(p) } : {});
    if (Array.isArray(q.cameraIds)) {
      // Every record the index returns is of this shard: one local page is the answer.
      const mine = q.cameraIds.filter((c) => typeof c !== 'string' || shardOf(c, S) === shard);
      if (mine.length === 0) return { records: [], next: null };
      const page = await index.query({ ...q, cameraIds: mine, ...cursorAt(position) }, scope);
      return { records: page.records, next: page.nextCursor ? decodeCursor(page.nextCursor) : null };
    }
    const out: TrackRecordSummary[] = [];
    let pos = position;
    for (let round = 0; round < QUERY_ROUNDS; round++) {
      const page = await index.query({ ...q, ...cursorAt(pos) }, scope);
      for (let i = 0; i < page.records.length; i++) {
        const r = page.records[i]!;
        if (shardOf(r.cameraId, S) !== shard) continue;
        out.push(r);
        if (out.length === limit) {
          const exhausted = i === page.records.length - 1 && page.nextCursor === null;
          return { records: out, next: exhausted ? null : { start: r.start, id: r.id, ...(r.order !== undefined ? { key: r.order } : {}) } };
        }
      }
      if (page.nextCursor === null) return { records: out, next: null };
      pos = decodeCursor(page.nextCursor);
    }
    return { records: out, next: pos };
  }

  async #face(shard: number, embedding: Float32Array, opts: FaceSearchOptions, scope: SearchRequest['scope']): Promise<FaceAnswer> {
    const S = this.#o.shards;
    const index = this.#o.index;
    const k = opts.k ?? 10;
    if (Array.isArray(opts.cameraIds)) {
      const mine = opts.cameraIds.filter((c) => typeof c !== 'string' || shardOf(c, S) === shard);
      if (mine.length === 0) return { matches: [] };
      return { matches: [...await index.faceSearch(embedding, { ...opts, cameraIds: mine }, scope)] };
    }
    let kk = k;
    for (;;) {
      const all = await index.faceSearch(embedding, { ...opts, k: kk }, scope);
      const mine: FaceMatch[] = all.filter((m) => shardOf(m.record.cameraId, S) === shard);
      if (mine.length >= k || all.length < kk || kk >= MAX_K) return { matches: mine.slice(0, k) };
      kk = Math.min(MAX_K, kk * 4);
    }
  }

  stats(): { requests: number; errors: number } {
    return { requests: this.#requests, errors: this.#errors };
  }

  /** Unsubscribes (other replicas answer from now on) and waits for the answers in progress. */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    this.#stopped = (async () => {
      await Promise.all(this.#subs.map((s) => (this.#nc.isClosed() ? undefined : s.drain().catch(() => undefined))));
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
      if (!this.#nc.isClosed()) await this.#nc.flush().catch(() => undefined);
    })();
    return this.#stopped;
  }
}
