/**
 * The search audit trail in cluster mode. Takes AuditEntry values from the api node that served a search; gives
 * them to the replicated stream CVCORE_AUDIT (`cvcore.audit.<api node>`, kept 365 days), acknowledged before the
 * API answers (an entry JetStream did not take fails the request), and a local copy of the whole trail on every
 * api node: AuditMaterialiser follows the stream with a durable consumer `audit-<node>` and appends each entry to
 * a local SearchIndex's audit log (RocksDB, synced) before acking it. `readAudit` reads that copy.
 *
 * Lag: an entry is readable on an api node once its materialiser has pulled and written it, typically a few
 * milliseconds after the ack (a pull is always outstanding); while a node is cut off from NATS its copy stops
 * growing and catches up on reconnect. Delivery is at least once: a crash between the local write and the ack
 * repeats that one entry in the local copy (the stream itself holds it once: the publish carries a message id).
 */
import {
  AckPolicy, DeliverPolicy, ReplayPolicy, nanos, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg,
  type NatsConnection,
} from 'nats';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/log.js';
import type { AuditEntry, SearchIndex } from '../search-index/index.js';
import { apiErrCode, clusterError, ensureStream, withRetry } from './js-util.js';
import { AUDIT_SUBJECTS, STREAMS, auditSubject } from './subjects.js';

export const AUDIT_STREAM_LIMITS = {
  maxAgeMs: 365 * 24 * 3_600_000,
  maxMsgSize: 256 * 1024,
  duplicateWindowMs: 10 * 60_000,
} as const;

export async function ensureAuditStream(jsm: JetStreamManager, o: { replicas: number }, log?: Logger): Promise<void> {
  if (!Number.isInteger(o.replicas) || o.replicas < 1 || o.replicas > 5) throw new RangeError('replicas must be an integer in 1..5');
  await ensureStream(jsm, { name: STREAMS.audit, subjects: [AUDIT_SUBJECTS], replicas: o.replicas, ...AUDIT_STREAM_LIMITS }, log);
}

/** Checks an entry as the local audit log would, so a bad entry fails here and never reaches the stream. */
export function checkAuditEntry(entry: AuditEntry): void {
  if (typeof entry !== 'object' || entry === null) throw new TypeError('entry must be an object');
  if (typeof entry.at !== 'number' || !Number.isInteger(entry.at) || entry.at < 0) throw new RangeError('entry.at must be an integer time in ms');
  for (const k of ['tokenId', 'role', 'department', 'action'] as const) if (typeof entry[k] !== 'string') throw new TypeError(`entry.${k} must be a string`);
  if (typeof entry.results !== 'number' && !Array.isArray(entry.results)) throw new TypeError('entry.results must be an array of ids or a count');
}

/** Publishes audit entries of one api node; resolves on the JetStream ack. */
export class AuditPublisher {
  readonly #js: JetStreamClient;
  readonly #node: string;
  readonly #retryForMs: number;
  #seq = 0;
  readonly #instance = randomBytes(6).toString('hex');

  constructor(nc: NatsConnection, o: { node: string; retryForMs?: number; ackTimeoutMs?: number }) {
    this.#node = o.node;
    this.#retryForMs = o.retryForMs ?? 10_000;
    this.#js = nc.jetstream({ timeout: o.ackTimeoutMs ?? 5_000 });
  }

  async append(entry: AuditEntry): Promise<void> {
    checkAuditEntry(entry);
    const wire = JSON.stringify({
      at: entry.at, tokenId: entry.tokenId, role: entry.role, department: entry.department, action: entry.action,
      query: entry.query ?? null, results: typeof entry.results === 'number' ? entry.results : [...entry.results],
    });
    // One id per entry, kept across the retries of this call: a retry after a lost ack is stored once.
    const msgID = `${this.#node}:${this.#instance}:${++this.#seq}`;
    await withRetry('append an audit entry', () => this.#js.publish(auditSubject(this.#node), wire, { msgID }), { retryForMs: this.#retryForMs });
  }
}

export interface AuditMaterialiserOptions {
  readonly node: string;
  /** The local index whose audit log receives the trail (an api node's own small index). */
  readonly index: SearchIndex;
  /** When given, the audit stream is created or updated first; otherwise it must exist. */
  readonly replicas?: number;
  readonly log?: Logger;
}

export const auditConsumerName = (node: string): string => `audit-${node}`;

export class AuditMaterialiser {
  readonly #nc: NatsConnection;
  readonly #o: AuditMaterialiserOptions;
  readonly #queue: JsMsg[] = [];
  #wake: (() => void) | null = null;
  #messages: ConsumerMessages | null = null;
  #worker: Promise<void> | null = null;
  #stopping = false;
  #stopped: Promise<void> | null = null;
  #applied = 0;
  #malformed = 0;

  private constructor(nc: NatsConnection, o: AuditMaterialiserOptions) {
    this.#nc = nc;
    this.#o = o;
  }

  static async start(nc: NatsConnection, o: AuditMaterialiserOptions): Promise<AuditMaterialiser> {
    if (typeof o.node !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(o.node)) throw new RangeError('node must be 1..64 letters, digits, _ or -');
    const m = new AuditMaterialiser(nc, o);
    try {
      const jsm = await withRetry('reach JetStream', () => nc.jetstreamManager({ timeout: 5_000 }), { retryForMs: 30_000 });
      if (o.replicas !== undefined) {
        const replicas = o.replicas;
        await withRetry('create the audit stream', () => ensureAuditStream(jsm, { replicas }, o.log), { retryForMs: 30_000 });
      }
      const name = auditConsumerName(o.node);
      await withRetry(`create consumer ${name}`, async () => {
        try {
          await jsm.consumers.info(STREAMS.audit, name);
        } catch (err) {
          if (apiErrCode(err) !== 10014) throw err;
          await jsm.consumers.add(STREAMS.audit, {
            durable_name: name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, replay_policy: ReplayPolicy.Instant,
            ack_wait: nanos(30_000), max_ack_pending: 1024, max_deliver: -1,
          });
        }
      }, { retryForMs: 30_000 });
      const consumer = await withRetry(`attach to consumer ${name}`, () => nc.jetstream().consumers.get(STREAMS.audit, name), { retryForMs: 30_000 });
      m.#messages = await consumer.consume({
        max_messages: 256,
        expires: 10_000,
        callback: (msg) => {
          m.#queue.push(msg);
          const w = m.#wake;
          m.#wake = null;
          w?.();
        },
      });
    } catch (err) {
      throw clusterError(err, 'start the audit materialiser');
    }
    m.#worker = m.#run();
    return m;
  }

  async #run(): Promise<void> {
    for (;;) {
      const msg = this.#queue.shift();
      if (msg === undefined) {
        if (this.#stopping) return;
        await new Promise<void>((r) => { this.#wake = r; });
        continue;
      }
      let entry: AuditEntry;
      try {
        entry = JSON.parse(Buffer.from(msg.data).toString('utf8')) as AuditEntry;
        checkAuditEntry(entry);
      } catch (err) {
        this.#malformed += 1;
        this.#o.log?.error('audit entry does not decode; terminated', { seq: msg.seq, err: err as Error });
        msg.term();
        continue;
      }
      try {
        await this.#o.index.appendAudit(entry);
        msg.ack();
        this.#applied += 1;
      } catch (err) {
        this.#o.log?.error('audit entry not written locally; redelivered later', { seq: msg.seq, err: err as Error });
        msg.nak(1_000);
        if (this.#stopping) continue;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  stats(): { applied: number; malformed: number } {
    return { applied: this.#applied, malformed: this.#malformed };
  }

  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    this.#stopping = true;
    this.#stopped = (async () => {
      await this.#messages?.close().catch(() => undefined);
      const w = this.#wake;
      this.#wake = null;
      w?.();
      await this.#worker;
      if (!this.#nc.isClosed()) await this.#nc.flush().catch(() => undefined);
    })();
    return this.#stopped;
  }
}
