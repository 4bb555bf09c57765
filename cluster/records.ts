/**
 * The record log of cluster mode, analytics side. Takes finished TrackRecords; gives them to JetStream, each on
 * `cvcore.records.<kind>.<shard>` where kind is `face` (the record carries a face embedding: stream
 * CVCORE_FACES, kept faceDays) or `track` (CVCORE_TRACKS, kept trackDays), and shard is
 * shardOf(cameraId, S). Splitting by kind is what lets each kind keep its own retention on a 2.9 server (no
 * per-message TTL there).
 *
 * `publish` resolves only once JetStream acknowledged the record (stored on a majority of the replicas). Its
 * message id is the record id, so a republish within the duplicate window (a retry after a timed-out ack, a
 * restarted node) is recognised and stored once. While a server is down or a stream leader is being elected,
 * the publish retries with backoff (timeouts, no responders) for up to `retryForMs`, then fails with
 * ClusterError CLUSTER_NATS_UNREACHABLE (a permission problem fails at once with CLUSTER_NATS_PERMISSION).
 */
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { ClusterError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { TrackRecord } from '../common/messages.js';
import { ensureStream, withRetry } from './js-util.js';
import { encodeRecord } from './record-codec.js';
import { shardOf } from './shards.js';
import { RECORD_SUBJECTS, STREAMS, recordSubject } from './subjects.js';

export type RecordKind = keyof typeof RECORD_SUBJECTS;
export const RECORD_KINDS: readonly RecordKind[] = ['track', 'face'];
export const STREAM_OF_KIND: Readonly<Record<RecordKind, string>> = { track: STREAMS.tracks, face: STREAMS.faces };

export const RECORD_STREAM_LIMITS = {
  /** A republish this late is still recognised as a duplicate. */
  duplicateWindowMs: 10 * 60_000,
  /** The servers' max_payload (nats-cluster.conf): a JPEG best shot plus a 1024-float embedding fit easily. */
  maxMsgSize: 1024 * 1024,
} as const;

export interface RecordStreamOptions {
  /** num_replicas of both streams (at most the NATS servers). */
  readonly replicas: number;
  readonly trackDays: number;
  readonly faceDays: number;
}

const DAY_MS = 24 * 3_600_000;

/** Which stream a record belongs to: a face embedding decides. */
export function kindOf(record: Pick<TrackRecord, 'embedding'>): RecordKind {
  return record.embedding !== null ? 'face' : 'track';
}

/** Creates CVCORE_TRACKS and CVCORE_FACES, or updates their replicas and retention; idempotent. */
export async function ensureRecordStreams(jsm: JetStreamManager, o: RecordStreamOptions, log?: Logger): Promise<void> {
  const days = (d: number, name: string): number => {
    if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0) throw new RangeError(`${name} must be a positive number of days`);
    return Math.round(d * DAY_MS);
  };
  if (!Number.isInteger(o.replicas) || o.replicas < 1 || o.replicas > 5) throw new RangeError('replicas must be an integer in 1..5');
  const common = { replicas: o.replicas, maxMsgSize: RECORD_STREAM_LIMITS.maxMsgSize, duplicateWindowMs: RECORD_STREAM_LIMITS.duplicateWindowMs };
  await ensureStream(jsm, { ...common, name: STREAMS.tracks, subjects: [`${RECORD_SUBJECTS.track}.>`], maxAgeMs: days(o.trackDays, 'trackDays') }, log);
  await ensureStream(jsm, { ...common, name: STREAMS.faces, subjects: [`${RECORD_SUBJECTS.face}.>`], maxAgeMs: days(o.faceDays, 'faceDays') }, log);
}

export interface RecordPublisherOptions {
  /** S, the cluster's shard count. */
  readonly shards: number;
  /** Longest one publish attempt waits for its ack. Default 5000 ms. */
  readonly ackTimeoutMs?: number;
  /** Longest a publish keeps retrying (a server down, a leader election). Default 30000 ms. */
  readonly retryForMs?: number;
  readonly log?: Logger;
}

export interface RecordPublisherStats {
  /** Records JetStream acknowledged (duplicates included). */
  published: number;
  /** Acks that said the record was stored already (the same id within the duplicate window). */
  duplicates: number;
  /** Attempts repeated after a transient error. */
  retries: number;
  /** Publishes that gave up. */
  failed: number;
  /** Call-to-ack times of the last (up to) 1024 acknowledged publishes, ms. */
  ackMs: { count: number; p50: number; p99: number; max: number };
}

const WINDOW = 1024;

/**
 * Publishes records of the analytics node. One per node; concurrent publishes are fine (each is its own
 * request; the stream orders them per subject by arrival).
 */
export class RecordPublisher {
  readonly #js: JetStreamClient;
  readonly #shards: number;
  readonly #ackTimeoutMs: number;
  readonly #retryForMs: number;
  readonly #log: Logger | undefined;
  #published = 0;
  #duplicates = 0;
  #retries = 0;
  #failed = 0;
  #closed = false;
  readonly #ackMs: number[] = [];
  #ackAt = 0;
  readonly #listeners = new Set<(e: { id: string; ms: number; duplicate: boolean }) => void>();

  constructor(nc: NatsConnection, o: RecordPublisherOptions) {
    if (!Number.isInteger(o.shards) || o.shards < 1) throw new RangeError('shards must be a positive integer');
    this.#shards = o.shards;
    this.#ackTimeoutMs = o.ackTimeoutMs ?? 5_000;
    this.#retryForMs = o.retryForMs ?? 30_000;
    this.#log = o.log;
    this.#js = nc.jetstream({ timeout: this.#ackTimeoutMs });
  }

  /** The subject a record goes to. */
  subjectOf(record: Pick<TrackRecord, 'cameraId' | 'embedding'>): string {
    return recordSubject(kindOf(record), shardOf(record.cameraId, this.#shards));
  }

  /** Resolves once JetStream acknowledged the record (or recognised it as a duplicate). */
  async publish(record: TrackRecord): Promise<void> {
    if (this.#closed) throw new ClusterError('CLUSTER_NATS_UNREACHABLE', 'the record publisher is closed');
    const subject = this.subjectOf(record);
    const payload = encodeRecord(record);
    if (payload.byteLength > RECORD_STREAM_LIMITS.maxMsgSize) {
      throw new ClusterError('CLUSTER_BAD_MESSAGE', `record ${record.id} is ${payload.byteLength} bytes encoded, over the ${RECORD_STREAM_LIMITS.maxMsgSize}-byte message limit`, { detail: { id: record.id, bytes: payload.byteLength } });
    }
    const t0 = performance.now();
    try {
      const ack = await withRetry(`publish record ${record.id} to ${subject}`,
        () => this.#js.publish(subject, payload, { msgID: record.id, timeout: this.#ackTimeoutMs }),
        {
          retryForMs: this.#retryForMs,
          stopped: () => this.#closed,
          onRetry: (err, attempt) => {
            this.#retries += 1;
            if (attempt === 1) this.#log?.warn('record publish retrying', { id: record.id, subject, err: err as Error });
          },
        });
      const ms = performance.now() - t0;
      this.#published += 1;
      if (ack.duplicate) this.#duplicates += 1;
      this.#ackMs[this.#ackAt] = ms;
      this.#ackAt = (this.#ackAt + 1) % WINDOW;
      for (const l of this.#listeners) l({ id: record.id, ms, duplicate: ack.duplicate });
    } catch (err) {
      this.#failed += 1;
      throw err;
    }
  }

  /** Called after each acknowledged publish with its call-to-ack time; returns the unsubscribe function. */
  onAck(listener: (e: { id: string; ms: number; duplicate: boolean }) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  stats(): RecordPublisherStats {
    const sorted = [...this.#ackMs].sort((a, b) => a - b);
    const at = (q: number): number => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return {
      published: this.#published, duplicates: this.#duplicates, retries: this.#retries, failed: this.#failed,
      ackMs: { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 },
    };
  }

  /** Publishes in retry stop retrying; the connection is the caller's. */
  close(): void {
    this.#closed = true;
  }
}
