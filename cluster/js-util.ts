/**
 * Small JetStream helpers shared by the record, search and audit parts of cluster mode. Takes a nats.js
 * JetStreamManager or an error; gives idempotent stream creation (create, or update when the limits differ),
 * the retry classification of a NATS error (transient while a server is down or a leader is being elected,
 * or final) and a bounded retry loop with backoff that ends in a typed ClusterError.
 */
import { DiscardPolicy, RetentionPolicy, StorageType, nanos, type JetStreamManager, type NatsError, type StreamConfig } from 'nats';
import { ClusterError, CvcoreError } from '../common/errors.js';
import type { Logger } from '../common/log.js';

export function isNatsError(err: unknown): err is NatsError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}

/** The subject a permissions violation names, or null when the error is not one. */
export function permissionSubject(err: unknown): string | null {
  if (!isNatsError(err)) return null;
  return err.permissionContext?.subject ?? (err.code === 'PERMISSIONS_VIOLATION' ? '(unknown subject)' : null);
}

export function apiErrCode(err: unknown): number | null {
  return isNatsError(err) ? err.api_error?.err_code ?? null : null;
}

/**
 * True for errors that go away by themselves: a timeout, no responders (the stream's leader is being elected,
 * or the servers that hold it are down), a connection between servers, JetStream temporarily unavailable.
 */
export function isTransient(err: unknown): boolean {
  if (!isNatsError(err)) return false;
  if (permissionSubject(err) !== null) return false;
  const api = err.api_error;
  if (api) return api.code === 503 || api.code === 408 || api.code === 500;
  return ['TIMEOUT', '503', 'DISCONNECT', 'CONNECTION_REFUSED', 'CONNECTION_TIMEOUT', '408', 'REQUEST_ERROR'].includes(err.code);
}

export interface RetryOptions {
  /** Gives up after this long in all (the last error is thrown typed). */
  readonly retryForMs: number;
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Called before each retry (counters, logs). */
  readonly onRetry?: (err: unknown, attempt: number) => void;
  /** Stops the retries early (a closing component). */
  readonly stopped?: () => boolean;
}

/** Runs `fn` until it resolves, retrying transient NATS errors with doubling delays; anything else is thrown typed. */
export async function withRetry<T>(what: string, fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const deadline = Date.now() + o.retryForMs;
  let delay = o.minDelayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || Date.now() + delay > deadline || o.stopped?.() === true) throw clusterError(err, what);
      o.onRetry?.(err, attempt);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(o.maxDelayMs ?? 2_000, delay * 2);
    }
  }
}

/** A NATS error as a ClusterError: a permission names the subject; the rest is "unreachable" with the cause. */
export function clusterError(err: unknown, what: string): CvcoreError {
  if (err instanceof CvcoreError) return err;
  const subject = permissionSubject(err);
  if (subject !== null) {
    return new ClusterError('CLUSTER_NATS_PERMISSION', `NATS denied ${what}: no permission on "${subject}"`, { cause: err, detail: { subject } });
  }
  return new ClusterError('CLUSTER_NATS_UNREACHABLE', `NATS could not ${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

export interface StreamLimits {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly replicas: number;
  readonly maxAgeMs: number;
  readonly maxMsgSize: number;
  readonly duplicateWindowMs: number;
}

/**
 * Creates the stream, or updates it when its subjects, replicas or limits differ; safe to call from every
 * node at once (a concurrent create that loses re-reads and updates). Replicas may be raised or lowered later.
 */
export async function ensureStream(jsm: JetStreamManager, l: StreamLimits, log?: Logger): Promise<void> {
  const want: Partial<StreamConfig> & { name: string } = {
    name: l.name,
    subjects: [...l.subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(l.maxAgeMs),
    max_msg_size: l.maxMsgSize,
    duplicate_window: nanos(l.duplicateWindowMs),
    num_replicas: l.replicas,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    let info = null;
    try {
      info = await jsm.streams.info(l.name);
    } catch (err) {
      if (apiErrCode(err) !== 10059) throw err; // 10059: stream not found
    }
    if (info === null) {
      try {
        await jsm.streams.add(want);
        log?.info('created a stream', { stream: l.name, replicas: l.replicas });
        return;
      } catch (err) {
        if (apiErrCode(err) === 10058) continue; // another node created it meanwhile: compare with theirs
        throw err;
      }
    }
    const c = info.config;
    const same = c.max_age === want.max_age && c.max_msg_size === want.max_msg_size && c.duplicate_window === want.duplicate_window
      && c.num_replicas === want.num_replicas && c.subjects.length === l.subjects.length && l.subjects.every((s) => c.subjects.includes(s));
    if (same) return;
    await jsm.streams.update(l.name, { ...c, ...want });
    log?.info('updated a stream', { stream: l.name, replicas: l.replicas });
    return;
  }
}
