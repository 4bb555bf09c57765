/**
 * Erasure across the shards of a cluster. Takes an erasure the api node decided (the found ids of each shard,
 * after a dry run scattered to every shard: scatter.ts `ClusterIndex.erase`); gives it to every replica of every
 * shard, durably, and removes the erased records from the record log.
 *
 *   stream CVCORE_ERASURES, subjects `cvcore.erasures.<shard>`: one message per shard of an erasure
 *     `{v: 1, erasure, shard, ids, at}`, replicated as the record streams, kept as long as the longest record
 *     retention plus a day (so a node rebuilt from the record log still learns every erasure of the records
 *     the log still holds).
 *   consumer `era-<node>-<shard>` (durable, explicit ack, filter `cvcore.erasures.<shard>`): the index node
 *     erases the ids from its local index (scope 'all': the caller's scope was applied by the dry run) and acks.
 *     A node that is down applies the erasure from its consumer when back; a new node's consumers start at the
 *     beginning of the stream.
 *
 * Tombstones: `ErasureApplier.start` first reads the whole erasure stream (an ordered consumer) into the set of
 * erased ids, before the node's ShardConsumer starts; the ShardConsumer skips (acks without storing) a record
 * whose id is in the set, so neither a redelivery nor a rebuild from the log brings an erased person back.
 *
 * The api node waits (bounded) until the consumer of every replica holding an affected shard acked the shard's
 * message (its ack floor passed the message's sequence): those replicas "applied" the erasure. A replica whose
 * consumer has no pull open (the node is down) or that did not ack in time is "pending": it applies the erasure
 * from the stream when it is back.
 *
 * Crowd alarm frames (KV CVCORE_SNAPSHOTS): the api blanks the person's box in the frames of the track's camera
 * taken while it was on camera, or deletes a frame where the box cannot be placed, as one node does
 * (`eraseAlarmFrames`).
 *
 * Record log: the erased records' messages in CVCORE_TRACKS / CVCORE_FACES (best shot, face embedding) are
 * found by their message id (the record id) scanning the shard's subject from shortly before the record's end
 * (a record is published when its track ends; an outbox may publish late, so the scan goes on to the stream's
 * end), headers only, and deleted with erase (the bytes are overwritten).
 */
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, ReplayPolicy, nanos, type ConsumerMessages, type JetStreamManager, type JsMsg, type KV, type NatsConnection } from 'nats';
import { ClusterError, IndexError } from '../common/errors.js';
import { jpegComment, peopleOf, withJpegComment, withPeople } from '../common/frame-people.js';
import type { Logger } from '../common/log.js';
import type { TrajectoryPoint } from '../common/messages.js';
import { ERASURE_LIMITS, FRAME_BOX_TOLERANCE_MS, blankBoxes, boxAt, type SearchIndex } from '../search-index/index.js';
import { apiErrCode, clusterError, ensureStream, withRetry } from './js-util.js';
import { STREAM_OF_KIND, type RecordKind } from './records.js';
import { heldShards } from './shard-consumer.js';
import { ERASURE_SUBJECTS, STREAMS, erasureSubject, recordSubject } from './subjects.js';

export const ERASURE_DEFAULTS = {
  /** How long the api waits for the live replicas to apply an erasure before it answers with them pending. */
  waitMs: 30_000,
  /** Between two reads of the replicas' consumers while waiting. */
  pollMs: 200,
  /** The record-log scan for a record starts this long before the record's end (clock skew between nodes). */
  logLookbackMs: 10 * 60_000,
  /** A pull of an erasure consumer stays open this long: a stopped node's consumer shows no open pull after it. */
  pullExpiresMs: 5_000,
  /** An erasure not acked this long after delivery is delivered again. */
  ackWaitMs: 60_000,
} as const;

const DAY_MS = 24 * 3_600_000;

export interface ErasureStreamOptions {
  readonly replicas: number;
  /** The longest record retention in days (max of trackDays and faceDays); the stream keeps one day more. */
  readonly retentionDays: number;
}

/** Creates CVCORE_ERASURES, or updates its replicas and age; idempotent (every index node and the api call it). */
export async function ensureErasureStream(jsm: JetStreamManager, o: ErasureStreamOptions, log?: Logger): Promise<void> {
  if (typeof o.retentionDays !== 'number' || !Number.isFinite(o.retentionDays) || o.retentionDays <= 0) throw new RangeError('retentionDays must be a positive number of days');
  if (!Number.isInteger(o.replicas) || o.replicas < 1 || o.replicas > 5) throw new RangeError('replicas must be an integer in 1..5');
  await ensureStream(jsm, {
    name: STREAMS.erasures, subjects: [`${ERASURE_SUBJECTS}.*`], replicas: o.replicas, maxAgeMs: Math.round((o.retentionDays + 1) * DAY_MS),
    maxMsgSize: 1024 * 1024, duplicateWindowMs: 10 * 60_000,
  }, log);
}

/** One shard's part of an erasure, as published on `cvcore.erasures.<shard>`. */
export interface ErasureMessage {
  readonly v: 1;
  readonly erasure: string;
  readonly shard: number;
  readonly ids: string[];
  readonly at: number;
}

export function encodeErasureMessage(m: ErasureMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m));
}

export function decodeErasureMessage(data: Uint8Array): ErasureMessage {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    v = null;
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (o['v'] !== 1 || typeof o['erasure'] !== 'string' || !Number.isInteger(o['shard']) || typeof o['at'] !== 'number'
    || !Array.isArray(o['ids']) || !o['ids'].every((x) => typeof x === 'string' && x.length > 0)) {
    throw new ClusterError('CLUSTER_BAD_MESSAGE', 'the erasure message does not decode');
  }
  return o as unknown as ErasureMessage;
}

export const erasureConsumerName = (node: string, shard: number): string => `era-${node}-${shard}`;
export function parseErasureConsumerName(name: string): { node: string; shard: number } | null {
  const m = /^era-(.+)-(\d+)$/.exec(name);
  return m ? { node: m[1]!, shard: Number(m[2]) } : null;
}

// ---- index side --------------------------------------------------------------------------------------------

export interface ErasureApplierOptions {
  readonly node: string;
  readonly shards: number;
  /** Shards this node holds; empty: all. */
  readonly indexShards: readonly number[];
  readonly index: SearchIndex;
  /** When given, the erasure stream is created or updated first; otherwise it must exist. */
  readonly stream?: ErasureStreamOptions;
  readonly pullExpiresMs?: number;
  readonly log?: Logger;
}

export interface ErasureApplierStats {
  /** Erasure messages applied and acked. */
  applied: number;
  /** Ids known erased (the tombstones). */
  tombstones: number;
  /** Messages that did not decode (terminated). */
  malformed: number;
}

export class ErasureApplier {
  readonly #o: ErasureApplierOptions;
  readonly #erased = new Set<string>();
  readonly #lanes: Array<{ messages: ConsumerMessages; worker: Promise<void> }> = [];
  #applied = 0;
  #malformed = 0;
  #stopped: Promise<void> | null = null;

  private constructor(o: ErasureApplierOptions) {
    this.#o = o;
  }

  /**
   * Reads every erasure the stream holds (the tombstones), then attaches the node's durable consumers and applies
   * what they deliver. Start it before the node's ShardConsumer and hand that `skip: (id) => applier.isErased(id)`.
   */
  static async start(nc: NatsConnection, o: ErasureApplierOptions): Promise<ErasureApplier> {
    if (typeof o.node !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(o.node)) throw new RangeError('node must be 1..64 letters, digits, _ or -');
    const shards = heldShards(o.shards, o.indexShards);
    const jsm = await withRetry('reach JetStream', () => nc.jetstreamManager({ timeout: 5_000 }), { retryForMs: 30_000 });
    if (o.stream) {
      const stream = o.stream;
      await withRetry('create the erasure stream', () => ensureErasureStream(jsm, stream, o.log), { retryForMs: 30_000 });
    }
    const a = new ErasureApplier(o);
    try {
      await withRetry('read the erasure stream', () => a.#readTombstones(nc, jsm), { retryForMs: 30_000 });
      for (const shard of shards) await a.#attach(nc, jsm, shard);
    } catch (err) {
      await a.stop().catch(() => undefined);
      throw clusterError(err, 'start the erasure consumers');
    }
    o.log?.info('erasure consumers started', { node: o.node, shards, tombstones: a.#erased.size });
    return a;
  }

  async #readTombstones(nc: NatsConnection, jsm: JetStreamManager): Promise<void> {
    const info = await jsm.streams.info(STREAMS.erasures);
    if (info.state.messages === 0) return;
    const last = info.state.last_seq;
    const oc = await nc.jetstream().consumers.get(STREAMS.erasures);
    try {
      for (let round = 0; round < 10_000; round++) {
        const batch = await oc.fetch({ max_messages: 256, expires: 2_000 });
        let got = 0;
        let done = false;
        for await (const m of batch) {
          got += 1;
          try {
            for (const id of decodeErasureMessage(m.data).ids) this.#erased.add(id);
          } catch {
            this.#o.log?.error('erasure message does not decode; skipped', { seq: m.seq });
          }
          // A fetch waits out its expiry unless left: leave it at the stream's end.
          if (m.seq >= last || m.info.pending === 0) { done = true; break; }
        }
        if (done || got === 0) return;
      }
    } finally {
      await oc.delete().catch(() => undefined);
    }
  }

  async #attach(nc: NatsConnection, jsm: JetStreamManager, shard: number): Promise<void> {
    const name = erasureConsumerName(this.#o.node, shard);
    await withRetry(`create consumer ${name}`, async () => {
      try {
        await jsm.consumers.info(STREAMS.erasures, name);
        return;
      } catch (err) {
        if (apiErrCode(err) !== 10014) throw err;
      }
      await jsm.consumers.add(STREAMS.erasures, {
        durable_name: name, filter_subject: erasureSubject(shard), ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
        replay_policy: ReplayPolicy.Instant, ack_wait: nanos(ERASURE_DEFAULTS.ackWaitMs), max_deliver: -1,
      });
    }, { retryForMs: 30_000 });
    const consumer = await withRetry(`attach to consumer ${name}`, () => nc.jetstream().consumers.get(STREAMS.erasures, name), { retryForMs: 30_000 });
    const messages = await consumer.consume({ max_messages: 16, expires: this.#o.pullExpiresMs ?? ERASURE_DEFAULTS.pullExpiresMs });
    const worker = (async () => {
      for await (const m of messages) await this.#apply(name, m);
    })().catch((err: unknown) => this.#o.log?.error('erasure lane stopped', { consumer: name, err: err as Error }));
    this.#lanes.push({ messages, worker });
  }

  async #apply(consumer: string, m: JsMsg): Promise<void> {
    let e: ErasureMessage;
    try {
      e = decodeErasureMessage(m.data);
    } catch {
      this.#malformed += 1;
      this.#o.log?.error('erasure message does not decode; terminated', { consumer, seq: m.seq });
      m.term();
      return;
    }
    // The tombstones first: a record of these ids that a lane is storing right now is erased by it after its flush.
    for (const id of e.ids) this.#erased.add(id);
    const erase = this.#o.index.erase?.bind(this.#o.index);
    try {
      if (!erase) throw new ClusterError('CLUSTER_NOT_SUPPORTED', 'this node\'s index cannot erase');
      for (let i = 0; i < e.ids.length; i += ERASURE_LIMITS.maxIds) await erase({ ids: e.ids.slice(i, i + ERASURE_LIMITS.maxIds), scope: 'all' });
      await this.#o.index.flush();
    } catch (err) {
      if ((err instanceof IndexError && err.code === 'INDEX_BAD_QUERY') || err instanceof TypeError) {
        this.#malformed += 1;
        this.#o.log?.error('the index refused an erasure; terminated', { consumer, seq: m.seq, erasure: e.erasure, err: err as Error });
        m.term();
        return;
      }
      this.#o.log?.warn('erasure not applied; it is delivered again', { consumer, erasure: e.erasure, err: err as Error });
      m.nak(1_000);
      return;
    }
    m.ack();
    this.#applied += 1;
    this.#o.log?.info('erasure applied', { consumer, erasure: e.erasure, ids: e.ids.length });
  }

  /** True when an erasure named this record id: the record is never stored again on this node. */
  isErased(id: string): boolean {
    return this.#erased.has(id);
  }

  stats(): ErasureApplierStats {
    return { applied: this.#applied, tombstones: this.#erased.size, malformed: this.#malformed };
  }

  /** Stops pulling; an erasure being applied finishes (and is acked) first. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await Promise.all(this.#lanes.map(async (l) => {
        await l.messages.close().catch(() => undefined);
        await l.worker;
      }));
    })();
    return this.#stopped;
  }
}

/** Deletes a node's erasure consumers (with ShardConsumer.resetConsumers, for a node whose index was wiped). */
export async function resetErasureConsumers(nc: NatsConnection, node: string, shards: number, indexShards: readonly number[]): Promise<number> {
  const jsm = await nc.jetstreamManager({ timeout: 5_000 });
  let deleted = 0;
  for (const shard of heldShards(shards, indexShards)) {
    try {
      if (await jsm.consumers.delete(STREAMS.erasures, erasureConsumerName(node, shard))) deleted += 1;
    } catch (err) {
      if (apiErrCode(err) !== 10014 && apiErrCode(err) !== 10059) throw clusterError(err, 'delete an erasure consumer');
    }
  }
  return deleted;
}

// ---- api side ----------------------------------------------------------------------------------------------

/** Publishes one message per shard; resolves with each shard's stream sequence once JetStream stored them. */
export async function publishErasure(nc: NatsConnection, erasure: string, byShard: ReadonlyMap<number, readonly string[]>, at: number): Promise<Map<number, number>> {
  const js = nc.jetstream({ timeout: 5_000 });
  // One nonce per call: a photo erasure publishes several rounds under one erasure id.
  const nonce = randomBytes(6).toString('base64url');
  const seqs = new Map<number, number>();
  for (const [shard, ids] of byShard) {
    const payload = encodeErasureMessage({ v: 1, erasure, shard, ids: [...ids], at });
    const ack = await withRetry(`publish erasure ${erasure} to ${erasureSubject(shard)}`,
      () => js.publish(erasureSubject(shard), payload, { msgID: `${erasure}.${nonce}.${shard}`, timeout: 5_000 }), { retryForMs: 30_000 });
    seqs.set(shard, ack.seq);
  }
  return seqs;
}

/**
 * Waits until every replica's consumer of an affected shard acked that shard's message, or has no pull open
 * (the node is down), or `waitMs` passed. applied: nodes all of whose affected consumers acked; pending: the rest.
 */
export async function awaitReplicas(jsm: JetStreamManager, seqs: ReadonlyMap<number, number>, o: { waitMs?: number; pollMs?: number } = {}): Promise<{ applied: string[]; pending: string[] }> {
  const wanted: Array<{ name: string; node: string; seq: number; done: boolean; down: number }> = [];
  for await (const c of jsm.consumers.list(STREAMS.erasures)) {
    const p = parseErasureConsumerName(c.name);
    const seq = p ? seqs.get(p.shard) : undefined;
    if (p && seq !== undefined) wanted.push({ name: c.name, node: p.node, seq, done: false, down: 0 });
  }
  const deadline = Date.now() + (o.waitMs ?? ERASURE_DEFAULTS.waitMs);
  for (;;) {
    await Promise.all(wanted.filter((c) => !c.done).map(async (c) => {
      try {
        const info = await jsm.consumers.info(STREAMS.erasures, c.name);
        c.done = info.ack_floor.stream_seq >= c.seq;
        // No open pull on two reads in a row: nobody consumes (the node is down); it applies the erasure when back.
        c.down = info.num_waiting === 0 && !c.done ? c.down + 1 : 0;
      } catch (err) {
        if (apiErrCode(err) === 10014) { c.down = 2; return; } // deleted meanwhile
        throw clusterError(err, `read consumer ${c.name}`);
      }
    }));
    if (wanted.every((c) => c.done || c.down >= 2) || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, o.pollMs ?? ERASURE_DEFAULTS.pollMs));
  }
  const nodes = [...new Set(wanted.map((c) => c.node))].sort();
  const applied = nodes.filter((n) => wanted.every((c) => c.node !== n || c.done));
  return { applied, pending: nodes.filter((n) => !applied.includes(n)) };
}

export interface LoggedRecord {
  readonly id: string;
  readonly shard: number;
  readonly end: number;
  readonly face: boolean;
}

/**
 * Deletes the records' messages from the record streams (erase: the stored bytes are overwritten). Scans each
 * (stream, shard) subject once, headers only, from the earliest record's end less `lookbackMs` to the stream's end.
 */
export async function deleteFromRecordLog(nc: NatsConnection, jsm: JetStreamManager, records: readonly LoggedRecord[], o: { lookbackMs?: number } = {}): Promise<{ deleted: number; notFound: string[] }> {
  const groups = new Map<string, { stream: string; subject: string; records: LoggedRecord[] }>();
  for (const r of records) {
    const kind: RecordKind = r.face ? 'face' : 'track';
    const subject = recordSubject(kind, r.shard);
    const g = groups.get(subject) ?? { stream: STREAM_OF_KIND[kind], subject, records: [] };
    g.records.push(r);
    groups.set(subject, g);
  }
  let deleted = 0;
  const notFound: string[] = [];
  for (const g of groups.values()) {
    const want = new Set(g.records.map((r) => r.id));
    const from = Math.max(0, Math.min(...g.records.map((r) => r.end)) - (o.lookbackMs ?? ERASURE_DEFAULTS.logLookbackMs));
    const seqs: number[] = [];
    const oc = await withRetry(`scan ${g.subject}`, () => nc.jetstream().consumers.get(g.stream, { filterSubjects: g.subject, opt_start_time: new Date(from).toISOString(), headers_only: true }), { retryForMs: 30_000 });
    try {
      let done = false;
      while (!done && want.size > 0) {
        const batch = await oc.fetch({ max_messages: 512, expires: 2_000 });
        let got = 0;
        for await (const m of batch) {
          got += 1;
          const id = m.headers?.get('Nats-Msg-Id');
          if (id && want.delete(id)) seqs.push(m.seq);
          // A fetch waits out its expiry unless left: leave it at the stream's end or once every record was found.
          if (m.info.pending === 0 || want.size === 0) { done = true; break; }
        }
        if (got === 0) done = true;
      }
    } finally {
      await oc.delete().catch(() => undefined);
    }
    for (const seq of seqs) {
      try {
        if (await withRetry(`delete message ${seq} of ${g.stream}`, () => jsm.streams.deleteMessage(g.stream, seq, true), { retryForMs: 30_000 })) deleted += 1;
      } catch (err) {
        // 10037: no message at this sequence (aged out meanwhile): nothing left to delete.
        if (apiErrCode(err) !== 10037) throw err;
      }
    }
    notFound.push(...want);
  }
  return { deleted, notFound: notFound.sort() };
}

// ---- crowd alarm frames in the snapshot bucket --------------------------------------------------------------

/** A found track, as the alarm frames need it. */
export interface FrameTrack {
  readonly cameraId: string;
  readonly start: number;
  readonly end: number;
  readonly trajectory: readonly TrajectoryPoint[];
  readonly frame: { readonly width: number; readonly height: number } | null;
}

const AT_MARKER = 'cvcore-at:v1 ';

/**
 * When a frame of the snapshot bucket was taken: a frame rewritten by an erasure carries its first time in a JPEG
 * comment segment (a rewrite is a new KV revision with a new time); otherwise the KV entry's time, which is when
 * the analytics node stored it, moments after the capture.
 */
export function frameTimeOf(jpeg: Uint8Array, stored: number): number {
  const text = jpegComment(jpeg, AT_MARKER);
  const at = text === null ? NaN : Number(text);
  return Number.isSafeInteger(at) && at > 0 ? at : stored;
}

function withFrameTime(jpeg: Uint8Array, at: number): Buffer {
  return withJpegComment(jpeg, AT_MARKER + String(Math.round(at)));
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The crowd frames (KV CVCORE_SNAPSHOTS, key `<camera>-<frame seq>`) of the tracks' cameras taken while a track
 * was on camera, as search-index/erase.ts decides on one node: the person's box (the trajectory at the frame's
 * time) filled with its mean colour, or the frame deleted when the box cannot be placed. Unless `dryRun`, done.
 */
export async function eraseAlarmFrames(kv: KV, tracks: readonly FrameTrack[], dryRun: boolean): Promise<{ blanked: string[]; deleted: string[] }> {
  const out = { blanked: [] as string[], deleted: [] as string[] };
  if (tracks.length === 0) return out;
  const cameras = [...new Set(tracks.map((t) => t.cameraId))];
  const keyRe = new RegExp(`^(${cameras.map(escapeRe).join('|')})-\\d+$`);
  const keys: string[] = [];
  for await (const k of await kv.keys()) if (keyRe.test(k)) keys.push(k);
  for (const key of keys.sort()) {
    const e = await kv.get(key);
    if (!e || e.operation !== 'PUT' || e.value.length === 0) continue;
    const at = frameTimeOf(e.value, e.created.getTime());
    const camera = key.slice(0, key.lastIndexOf('-'));
    let boxes: Parameters<typeof blankBoxes>[1][number][] | null = [];
    let hit = false;
    for (const t of tracks) {
      if (t.cameraId !== camera || at < t.start - FRAME_BOX_TOLERANCE_MS || at > t.end + FRAME_BOX_TOLERANCE_MS) continue;
      hit = true;
      const p = boxAt(t.trajectory, at);
      if (p === null) boxes = null;
      else if (boxes !== null) boxes.push({ ...p, frameWidth: t.frame?.width ?? null, frameHeight: t.frame?.height ?? null });
    }
    if (!hit) continue;
    if (boxes === null) {
      out.deleted.push(key);
      if (!dryRun) await kv.purge(key);
    } else {
      out.blanked.push(key);
      if (!dryRun) {
        // The people segment rides along (the API blurs the others' heads by it), and the frame keeps its time.
        const people = peopleOf(e.value);
        const blank = await blankBoxes(e.value, boxes);
        await kv.put(key, withFrameTime(people ? withPeople(blank, people) : blank, at));
      }
    }
  }
  return out;
}
