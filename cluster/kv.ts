/**
 * Key-value helpers over nats.js JetStream KV: open a replicated bucket, JSON values, revision-checked writes
 * that answer "someone else wrote first" as a value rather than an exception, and NATS failures mapped to the
 * cluster's typed errors (a missing permission names its subject).
 */
import type { JetStreamClient, KV, KvEntry, NatsConnection } from 'nats';
import { ClusterError, CvcoreError } from '../common/errors.js';
import { isNatsError, permissionSubject } from './js-util.js';

export { permissionSubject };

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Versioned<T> {
  readonly value: T;
  readonly revision: number;
  /** Server time of the write (JetStream's message timestamp): staleness is judged on it, not the writer's clock. */
  readonly written: number;
}

export function encodeJsonValue(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

export function decodeEntry<T>(e: KvEntry | null): Versioned<T> | null {
  if (!e || e.operation !== 'PUT' || e.length === 0) return null;
  return { value: JSON.parse(dec.decode(e.value)) as T, revision: e.revision, written: e.created.getTime() };
}

/** JetStream's "wrong last sequence": a revision-checked write lost the race. */
export function isRevisionConflict(err: unknown): boolean {
  return (isNatsError(err) && err.api_error?.err_code === 10071) || /wrong last sequence/i.test((err as Error)?.message ?? '');
}

/** Turns a NATS failure into the cluster's typed error; typed errors pass through. */
export function clusterErrorOf(err: unknown, what: string, user?: string): CvcoreError {
  if (err instanceof CvcoreError) return err;
  const subject = permissionSubject(err);
  if (subject !== null) {
    return new ClusterError('CLUSTER_NATS_PERMISSION',
      `NATS denied ${user ? `user "${user}" ` : ''}publishing or subscribing to "${subject}" (${what}); give the node's user that permission in nats-cluster.conf or pick the user for its roles`,
      { cause: err, detail: { subject, ...(user ? { user } : {}) } });
  }
  return new ClusterError('CLUSTER_NATS_UNREACHABLE', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

export interface BucketOptions {
  readonly replicas: number;
  /** Values kept per key (1: the latest only). */
  readonly history?: number;
  /** Bucket-wide age limit, ms (nats-server 2.9 has no per-key expiry). */
  readonly ttlMs?: number;
  readonly maxBytes?: number;
  readonly maxValueSize?: number;
}

/** Opens (creating when missing) a bucket; NATS errors come through as they are (callers retry or type them). */
export async function openBucket(js: JetStreamClient, name: string, o: BucketOptions): Promise<KV> {
  return js.views.kv(name, {
      replicas: o.replicas, history: o.history ?? 1,
      ...(o.ttlMs !== undefined ? { ttl: o.ttlMs } : {}),
      ...(o.maxBytes !== undefined ? { max_bytes: o.maxBytes } : {}),
      ...(o.maxValueSize !== undefined ? { maxValueSize: o.maxValueSize } : {}),
  });
}

export async function getJson<T>(kv: KV, key: string): Promise<Versioned<T> | null> {
  return decodeEntry<T>(await kv.get(key));
}

/** Creates the key; null when it exists already (someone else created it first). */
export async function createJson(kv: KV, key: string, value: unknown): Promise<number | null> {
  try {
    return await kv.create(key, encodeJsonValue(value));
  } catch (err) {
    if (isRevisionConflict(err)) return null;
    throw err;
  }
}

/** Writes the key only if it is still at `revision`; null when another writer got there first. */
export async function updateJson(kv: KV, key: string, value: unknown, revision: number): Promise<number | null> {
  try {
    return await kv.update(key, encodeJsonValue(value), revision);
  } catch (err) {
    if (isRevisionConflict(err)) return null;
    throw err;
  }
}

/** Every live key's value (a snapshot read through a watch of the last values). */
export async function readAll<T>(kv: KV, filter?: string): Promise<Map<string, Versioned<T>>> {
  const out = new Map<string, Versioned<T>>();
  const keys: string[] = [];
  for await (const k of await kv.keys(filter)) keys.push(k);
  await Promise.all(keys.map(async (k) => {
    const v = await getJson<T>(kv, k);
    if (v) out.set(k, v);
  }));
  return out;
}

/**
 * Follows a bucket: calls `onChange(key, value | null)` for each current value, then each change, until
 * `stop()`. Returns once the current values have been delivered.
 *
 * A watch is an ordered consumer on the server the connection is on; when that server dies the watch stops
 * delivering for good (nats.js does not move it). So the watch is started again whenever the connection
 * reconnects or the watch ends, and each new start re-delivers every current value and reports keys deleted
 * meanwhile as null: callers always converge on the bucket. The watch's consumer may also live on another
 * server than the connection's; when it dies there nothing ends or reconnects here, so a watch that has
 * delivered nothing for QUIET_RESTART_MS is started again too (busy buckets, renewed every few seconds, never
 * go that quiet; quiet ones cost one re-delivery of their values).
 */
export const QUIET_RESTART_MS = 20_000;

export async function follow<T>(kv: KV, onChange: (key: string, v: Versioned<T> | null) => void, filter?: string): Promise<{ stop(): void }> {
  const nc = (kv as unknown as { js?: { nc?: NatsConnection } }).js?.nc;
  const known = new Set<string>();
  let stopped = false;
  let current: { stop(): void } | null = null;
  let lastDelivery = Date.now();
  const deliver = (key: string, v: Versioned<T> | null): void => {
    lastDelivery = Date.now();
    if (v) known.add(key); else known.delete(key);
    try { onChange(key, v); } catch { /* a bad value is skipped, the follow goes on */ }
  };
  /** One watch; resolves when its initial values are in (or after 5 s), keeps running after. */
  const start = async (): Promise<void> => {
    const it = await kv.watch({ ...(filter !== undefined ? { key: filter } : {}) });
    current = it;
    const seen = new Set<string>();
    let initial = true;
    let resolveReady: () => void = () => undefined;
    const ready = new Promise<void>((r) => { resolveReady = r; });
    const endInitial = (): void => {
      if (!initial) return;
      initial = false;
      // Keys deleted while no watch was running.
      for (const k of [...known]) if (!seen.has(k)) deliver(k, null);
      resolveReady();
    };
    void (async () => {
      for await (const e of it) {
        if (initial) seen.add(e.key);
        deliver(e.key, decodeEntry<T>(e));
        if (initial && (e.delta ?? 0) === 0) endInitial();
      }
    })().catch(() => undefined).finally(() => {
      resolveReady();
      if (current === it) current = null;
      // The watch ended by itself (its server went away): start another.
      if (!stopped) setTimeout(() => { if (!stopped && current === null) void restart(); }, 500).unref();
    });
    const pending = await kv.status().then((st) => st.values).catch(() => 0);
    if (pending === 0) endInitial();
    await Promise.race([ready, new Promise((r) => setTimeout(r, 5_000).unref())]);
  };
  let restarting = false;
  const restart = async (): Promise<void> => {
    if (restarting) return;
    restarting = true;
    try {
      for (let delay = 250; !stopped; delay = Math.min(5_000, delay * 2)) {
        try { await start(); return; } catch { await new Promise((r) => setTimeout(r, delay).unref()); }
      }
    } finally {
      restarting = false;
    }
  };
  await start();
  const quiet = setInterval(() => {
    if (stopped || restarting || Date.now() - lastDelivery < QUIET_RESTART_MS) return;
    lastDelivery = Date.now();
    const c = current as { stop(): void } | null;
    current = null;
    c?.stop();
    void restart();
  }, 1_000);
  quiet.unref();
  if (nc) {
    void (async () => {
      for await (const st of nc.status()) {
        if (stopped) break;
        // On a reconnect the old watch's consumer is gone with its server: replace it.
        if (st.type === 'reconnect') {
          const c = current as { stop(): void } | null;
          current = null;
          c?.stop();
          void restart();
        }
      }
    })().catch(() => undefined);
  }
  return { stop: () => { stopped = true; clearInterval(quiet); (current as { stop(): void } | null)?.stop(); } };
}
