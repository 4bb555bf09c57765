/**
 * The record log of cluster mode, index side. Takes the shards this node holds (config cluster.indexShards;
 * empty: all) and a local SearchIndex; gives that index every record of those shards, from both record
 * streams, through one durable pull consumer per (stream, shard):
 *
 *   idx-<node>-<kind>-<shard>   filter cvcore.records.<kind>.<shard>, explicit ack, deliver all
 *
 * A lane takes what arrived, decodes each record, `index.put`s it, `await index.flush()` (the batch is in
 * RocksDB's WAL), and only then acks the batch. A crash before the ack redelivers the records after ack_wait
 * and the index stores them once more in place (a put replaces the record of the same id: no double counts).
 * A payload that does not decode, or a record the index refuses (INDEX_BAD_RECORD), is logged, counted and
 * terminated: it never blocks its shard. A failed flush naks the batch (redelivered later).
 *
 * A restarted node re-attaches to its durable consumers and continues where its acks stopped (catch-up); a
 * new node's consumers start at the beginning of each stream, so it rebuilds its shards from the log (as far
 * as retention still holds them). A node whose data folder was wiped but whose consumers survive should have
 * them deleted first (`resetConsumers`), or it would only see records published after the wipe.
 */
import { AckPolicy, DeliverPolicy, ReplayPolicy, nanos, type ConsumerMessages, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import { CvcoreError, IndexError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { SearchIndex } from '../search-index/index.js';
import { apiErrCode, clusterError, withRetry } from './js-util.js';
import { decodeRecord } from './record-codec.js';
import { RECORD_KINDS, STREAM_OF_KIND, ensureRecordStreams, type RecordKind, type RecordStreamOptions } from './records.js';
import { recordSubject } from './subjects.js';
import type { ClusterConsumerStatus } from './types.js';

export const SHARD_CONSUMER_DEFAULTS = {
  /** A record not acked this long after delivery is delivered again (the index write took too long or the node died). */
  ackWaitMs: 60_000,
  /** Records delivered and not yet acked, per consumer: bounds what a node holds in memory per shard. */
  maxAckPending: 1024,
  /** Records one pull asks for. */
  pullMessages: 256,
  /**
   * How long one pull stays open. The server's idle heartbeats come at half this; two missed (a server killed
   * under the connection) make the client pull again, so this bounds how long a lane stalls after a failover.
   */
  pullExpiresMs: 10_000,
  /** Records one lane puts before one flush and ack. */
  batch: 512,
  /** Pause after a failed flush before the lane goes on (the naked records come back after it). */
  retryMs: 1_000,
} as const;

export interface ShardConsumerOptions {
  /** This node's id (part of the consumer names). */
  readonly node: string;
  /** S, the cluster's shard count. */
  readonly shards: number;
  /** Shards this node holds; empty: all. */
  readonly indexShards: readonly number[];
  readonly index: SearchIndex;
  /** When given, the record streams are created or updated first; otherwise they must exist. */
  readonly streams?: RecordStreamOptions;
  readonly ackWaitMs?: number;
  readonly maxAckPending?: number;
  readonly pullMessages?: number;
  readonly pullExpiresMs?: number;
  readonly batch?: number;
  /**
   * Records never to store (erased: cluster/erasure.ts `ErasureApplier.isErased`): acked without a put. A record
   * that becomes erased while its batch is being stored is erased again after the batch's flush.
   */
  readonly skip?: (id: string) => boolean;
  readonly log?: Logger;
}

export interface ShardConsumerStats {
  /** Records put, flushed and acked. */
  indexed: number;
  /** Payloads that did not decode (terminated). */
  malformed: number;
  /** Records the index refused (terminated). */
  rejected: number;
  /** Batches naked after a failed flush. */
  failedBatches: number;
  /** Records not stored because they were erased. */
  skipped: number;
}

export function consumerName(node: string, kind: RecordKind, shard: number): string {
  return `idx-${node}-${kind}-${shard}`;
}

/** The shards a node holds: the configured ones, or every shard when none are listed. */
export function heldShards(shards: number, indexShards: readonly number[]): number[] {
  if (indexShards.length === 0) return Array.from({ length: shards }, (_, i) => i);
  for (const s of indexShards) if (!Number.isInteger(s) || s < 0 || s >= shards) throw new RangeError(`shard ${s} does not exist (shards: ${shards})`);
  return [...new Set(indexShards)].sort((a, b) => a - b);
}

interface Lane {
  readonly kind: RecordKind;
  readonly shard: number;
  readonly stream: string;
  readonly name: string;
  readonly queue: JsMsg[];
  wake: (() => void) | null;
  messages: ConsumerMessages | null;
  worker: Promise<void> | null;
}

export class ShardConsumer {
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #o: ShardConsumerOptions;
  readonly #log: Logger | undefined;
  readonly #lanes: Lane[];
  readonly #stats: ShardConsumerStats = { indexed: 0, malformed: 0, rejected: 0, failedBatches: 0, skipped: 0 };
  #stopping = false;
  #stopped: Promise<void> | null = null;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, o: ShardConsumerOptions, lanes: Lane[]) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#o = o;
    this.#log = o.log;
    this.#lanes = lanes;
  }

  /** Creates (or re-attaches to) the node's durable consumers and starts indexing. */
  static async start(nc: NatsConnection, o: ShardConsumerOptions): Promise<ShardConsumer> {
    if (typeof o.node !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(o.node)) throw new RangeError('node must be 1..64 letters, digits, _ or -');
    const shards = heldShards(o.shards, o.indexShards);
    const jsm = await withRetry('reach JetStream', () => nc.jetstreamManager({ timeout: 5_000 }), { retryForMs: 30_000 });
    if (o.streams) {
      const streams = o.streams;
      await withRetry('create the record streams', () => ensureRecordStreams(jsm, streams, o.log), { retryForMs: 30_000 });
    }
    const lanes: Lane[] = [];
    for (const kind of RECORD_KINDS) {
      for (const shard of shards) {
        lanes.push({ kind, shard, stream: STREAM_OF_KIND[kind], name: consumerName(o.node, kind, shard), queue: [], wake: null, messages: null, worker: null });
      }
    }
    const sc = new ShardConsumer(nc, jsm, o, lanes);
    try {
      for (const lane of lanes) await sc.#attach(lane);
    } catch (err) {
      await sc.stop().catch(() => undefined);
      throw clusterError(err, 'set up the shard consumers');
    }
    o.log?.info('shard consumers started', { node: o.node, shards, consumers: lanes.length });
    return sc;
  }

  /** Deletes this node's durable consumers (a node whose index was wiped rebuilds from the streams after it). */
  static async resetConsumers(nc: NatsConnection, node: string, shards: number, indexShards: readonly number[]): Promise<number> {
    const jsm = await nc.jetstreamManager({ timeout: 5_000 });
    let deleted = 0;
    for (const kind of RECORD_KINDS) {
      for (const shard of heldShards(shards, indexShards)) {
        try {
          if (await jsm.consumers.delete(STREAM_OF_KIND[kind], consumerName(node, kind, shard))) deleted += 1;
        } catch (err) {
          if (apiErrCode(err) !== 10014 && apiErrCode(err) !== 10059) throw clusterError(err, 'delete a shard consumer');
        }
      }
    }
    return deleted;
  }

  async #attach(lane: Lane): Promise<void> {
    const o = this.#o;
    const want = {
      durable_name: lane.name,
      filter_subject: recordSubject(lane.kind, lane.shard),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      ack_wait: nanos(o.ackWaitMs ?? SHARD_CONSUMER_DEFAULTS.ackWaitMs),
      max_ack_pending: o.maxAckPending ?? SHARD_CONSUMER_DEFAULTS.maxAckPending,
      max_deliver: -1,
    };
    await withRetry(`create consumer ${lane.name}`, async () => {
      let info = null;
      try {
        info = await this.#jsm.consumers.info(lane.stream, lane.name);
      } catch (err) {
        if (apiErrCode(err) !== 10014) throw err; // 10014: consumer not found
      }
      if (info === null) {
        await this.#jsm.consumers.add(lane.stream, want);
      } else if (info.config.ack_wait !== want.ack_wait || info.config.max_ack_pending !== want.max_ack_pending) {
        await this.#jsm.consumers.update(lane.stream, lane.name, { ack_wait: want.ack_wait, max_ack_pending: want.max_ack_pending });
      }
    }, { retryForMs: 30_000 });
    const consumer = await withRetry(`attach to consumer ${lane.name}`, () => this.#nc.jetstream().consumers.get(lane.stream, lane.name), { retryForMs: 30_000 });
    lane.messages = await consumer.consume({
      max_messages: o.pullMessages ?? SHARD_CONSUMER_DEFAULTS.pullMessages,
      expires: o.pullExpiresMs ?? SHARD_CONSUMER_DEFAULTS.pullExpiresMs,
      callback: (m) => {
        lane.queue.push(m);
        const w = lane.wake;
        lane.wake = null;
        w?.();
      },
    });
    lane.worker = this.#run(lane);
  }

  async #run(lane: Lane): Promise<void> {
    const max = this.#o.batch ?? SHARD_CONSUMER_DEFAULTS.batch;
    for (;;) {
      if (lane.queue.length === 0) {
        if (this.#stopping) return;
        await new Promise<void>((r) => { lane.wake = r; });
        continue;
      }
      const batch = lane.queue.splice(0, max);
      try {
        await this.#process(lane, batch);
      } catch (err) {
        // #process handles its own errors; this is a bug guard so a lane never dies silently.
        this.#log?.error('shard lane failed a batch', { consumer: lane.name, err: err as Error });
        for (const m of batch) m.nak(SHARD_CONSUMER_DEFAULTS.retryMs);
      }
    }
  }

  async #process(lane: Lane, batch: JsMsg[]): Promise<void> {
    const index = this.#o.index;
    const put: JsMsg[] = [];
    const ids: string[] = [];
    for (const m of batch) {
      let record;
      try {
        record = decodeRecord(m.data);
      } catch (err) {
        this.#stats.malformed += 1;
        this.#log?.error('record payload does not decode; terminated', { consumer: lane.name, seq: m.seq, code: (err as CvcoreError).code, err: err as Error });
        m.term();
        continue;
      }
      if (this.#o.skip?.(record.id) === true) {
        this.#stats.skipped += 1;
        m.ack();
        continue;
      }
      try {
        await index.put(record);
        put.push(m);
        ids.push(record.id);
      } catch (err) {
        if ((err instanceof IndexError && err.code === 'INDEX_BAD_RECORD') || err instanceof TypeError || err instanceof RangeError) {
          this.#stats.rejected += 1;
          this.#log?.error('the index refused a record; terminated', { consumer: lane.name, seq: m.seq, id: record.id, code: (err as CvcoreError).code, err: err as Error });
          m.term();
        } else {
          // The index is closing or failing: the record comes back after the pause.
          m.nak(SHARD_CONSUMER_DEFAULTS.retryMs);
        }
      }
    }
    if (put.length === 0) return;
    try {
      await index.flush();
    } catch (err) {
      this.#stats.failedBatches += 1;
      this.#log?.error('index flush failed; the batch will be redelivered', { consumer: lane.name, records: put.length, err: err as Error });
      for (const m of put) m.nak(SHARD_CONSUMER_DEFAULTS.retryMs);
      await new Promise((r) => setTimeout(r, SHARD_CONSUMER_DEFAULTS.retryMs));
      return;
    }
    // An erasure that arrived while this batch was stored: its applier may have run before the put; erase here.
    const skip = this.#o.skip;
    const late = skip ? ids.filter((id) => skip(id)) : [];
    if (late.length > 0 && index.erase) {
      try {
        await index.erase({ ids: late, scope: 'all' });
      } catch (err) {
        this.#log?.error('an erased record stored meanwhile could not be erased; the batch will be redelivered', { consumer: lane.name, err: err as Error });
        for (const m of put) m.nak(SHARD_CONSUMER_DEFAULTS.retryMs);
        return;
      }
    }
    // Durable in RocksDB: only now may the log forget them for this consumer.
    for (const m of put) m.ack();
    this.#stats.indexed += put.length;
  }

  stats(): ShardConsumerStats {
    return { ...this.#stats };
  }

  /** Each consumer's backlog, from JetStream's consumer info (a consumer that cannot be read is left out). */
  async status(): Promise<ClusterConsumerStatus[]> {
    const out = await Promise.all(this.#lanes.map(async (lane): Promise<ClusterConsumerStatus | null> => {
      try {
        const info = await this.#jsm.consumers.info(lane.stream, lane.name);
        return { node: this.#o.node, stream: lane.stream, shard: lane.shard, consumer: lane.name, pending: info.num_pending, ackPending: info.num_ack_pending };
      } catch (err) {
        this.#log?.warn('consumer info unavailable', { consumer: lane.name, err: err as Error });
        return null;
      }
    }));
    return out.filter((s): s is ClusterConsumerStatus => s !== null);
  }

  /**
   * Stops pulling, lets each lane finish (put, flush, ack) what it holds, and waits until the acks left the
   * connection. Records the server had already sent and the client not yet handed over come back after ack_wait.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    this.#stopping = true;
    this.#stopped = (async () => {
      await Promise.all(this.#lanes.map(async (lane) => {
        await lane.messages?.close().catch(() => undefined);
        const w = lane.wake;
        lane.wake = null;
        w?.();
        await lane.worker;
      }));
      if (!this.#nc.isClosed()) await this.#nc.flush().catch(() => undefined);
    })();
    return this.#stopped;
  }
}
