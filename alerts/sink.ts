import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  connect, credsAuthenticator, DiscardPolicy, nanos, RetentionPolicy, StorageType,
  type JetStreamClient, type NatsConnection, type NatsError, type StreamConfig,
} from 'nats';
import { AlertError, CvcoreError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import type { AlarmEvent, CrowdAlertEvent } from '../common/messages.js';
import type { AlarmKind, AlarmV1, CrowdAlertV2, WireAlert } from '../common/alarm-schemas.js';
import { ALERT_STREAM, ALERT_STREAM_V2, natsTlsOptions, type NatsTls } from './credentials.js';
import { Outbox, type AlertFence, type OutboxEntry } from './outbox.js';
import { ALERT_SCHEMA_VERSION, isAlarmKind, validateAlarm, validateAlert, validateAlertV2, type CrowdAlertV1 } from './schema.js';
import { ALERT_SUBJECTS, ALERT_V2_SUBJECTS, SUBJECT_ROOT, alarmSubject, alertSubject, alertV2Subject, eventSubject, sanitizeToken, type EventKind } from './subjects.js';

export interface AlertContext {
  district: string;
  location: { lat: number; lon: number } | null;
  snapshotRef: string | null;
  /** Cluster mode: the camera lease the alert was decided under; it is sent only while that lease is current. */
  fence?: AlertFence;
}

export interface AlertSinkOptions {
  /** One URL or several, comma-separated (nats://host:4222,nats://host2:4222). */
  servers: string;
  user: string;
  pass: string;
  /** A NATS creds file (JWT + nkey seed); when set it replaces user/pass for authentication. */
  credsFile?: string;
  /** NATS over TLS: the CA file (and a client certificate); null or absent: as the URL says. */
  tls?: NatsTls | null;
  /** The outbox lives in <dataDir>/alerts-outbox. */
  dataDir: string;
  /** The producing node's name: goes into every alert and its message id. */
  node: string;
  /** Most alerts the outbox holds while NATS is away; past it the newest is refused (ALERT_OUTBOX_FULL). */
  outboxLimit?: number;
  /** fsync every outbox write (survives a power cut, not only a killed process). Default false. */
  syncWrites?: boolean;
  /** JetStream replicas of the alert stream (a cluster's: 3). Default 1. */
  replicas?: number;
  /**
   * Cluster mode: whether this node still holds `cameraId` under `epoch`. Entries whose lease moved on are not
   * sent as live alerts (a later owner speaks for the zone now, and order per zone must hold): they are kept in
   * the outbox's fenced range and counted (`fenced`).
   */
  fence?: (cameraId: string, epoch: number) => boolean;
  /**
   * The schema versions each crowd decision goes out in (config nats.crowdSchemas). Default both: v1 on
   * citybrain.alerts.crowd.* (stream CITYBRAIN_ALERTS), v2 with the clear reason on citybrain.v2.alerts.crowd.*
   * (CITYBRAIN_ALERTS_V2). Once every subscriber reads v2, ['v2'] halves what each decision costs the outbox and
   * JetStream.
   */
  crowdSchemas?: readonly CrowdSchema[];
  log?: Logger;
}

export const CROWD_SCHEMAS = ['v1', 'v2'] as const;
export type CrowdSchema = (typeof CROWD_SCHEMAS)[number];

export const ALERT_SINK_STATES = { connecting: 'connecting', connected: 'connected', disconnected: 'disconnected', closed: 'closed' } as const;
export type AlertSinkState = (typeof ALERT_SINK_STATES)[keyof typeof ALERT_SINK_STATES];

export interface AlertSinkStatus {
  connected: boolean;
  /** Alerts written to the outbox and not yet acked by JetStream. */
  outboxDepth: number;
  /** Alerts acked by JetStream (duplicates the server recognised included). */
  published: number;
  /** Alerts refused before the outbox (invalid, or the outbox at its bound). */
  rejected: number;
  lastError: string | null;
  state: AlertSinkState;
  outboxLimit: number;
  /** Acks that JetStream marked as duplicates (a republish after a restart or a timed-out ack). */
  duplicates: number;
  /** Best-effort events dropped because NATS was not connected. */
  eventsDropped: number;
  /** Alerts kept but never sent because their camera's lease moved to another node first (cluster mode). */
  fenced: number;
}

/** Status events, as a discriminated union. */
export type AlertSinkEvent =
  | { readonly type: 'connected'; readonly server: string }
  | { readonly type: 'disconnected'; readonly reason: string }
  | { readonly type: 'published'; readonly seq: number; readonly subject: string; readonly duplicate: boolean }
  | { readonly type: 'rejected'; readonly code: 'ALERT_INVALID_EVENT' | 'ALERT_OUTBOX_FULL'; readonly message: string }
  | { readonly type: 'error'; readonly code: string; readonly message: string };

export interface AlertSink {
  /** Validates, writes to the outbox (durable), then publishes in the background. Resolves once it is in the outbox. */
  submit(event: CrowdAlertEvent, ctx: AlertContext): Promise<CrowdAlertV1>;
  /**
   * A watch-list, frequency or stranger alarm: validated against its schema, written to the outbox, published on
   * citybrain.alerts.<kind>.<district>.<camera> (in order per camera and kind). Resolves once it is in the outbox.
   */
  submitAlarm(event: AlarmEvent, ctx: AlertContext): Promise<AlarmV1>;
  /** Best-effort, non-durable core-NATS publish of zone counts / stream health. */
  publishEvent(kind: EventKind, tokens: readonly string[], payload: unknown): void;
  status(): AlertSinkStatus;
  /** Waits until the outbox is empty or timeout; true when empty. */
  drain(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
  /** Subscribes to status events; returns the unsubscribe function. */
  on(listener: (event: AlertSinkEvent) => void): () => void;
}

/** Stream limits. The duplicate window bounds how late a republish (after a crash) is still recognised. */
export const ALERT_STREAM_LIMITS = {
  maxAgeMs: 7 * 24 * 3_600_000,
  maxBytes: 512 * 1024 * 1024,
  maxMsgSize: 64 * 1024,
  duplicateWindowMs: 10 * 60_000,
} as const;
export const DEFAULT_OUTBOX_LIMIT = 10_000;
/** Publishes in flight across all zones; each zone has at most one, which is what keeps a zone's order. */
const MAX_IN_FLIGHT = 256;
const PUBLISH_TIMEOUT_MS = 5_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;
const CONNECT_TIMEOUT_MS = 2_000;

const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** The two alert streams: v1 of every kind, and v2 (crowd with a clear reason) in its own, so v1 readers never meet it. */
const STREAMS = [
  { name: ALERT_STREAM, subjects: ALERT_SUBJECTS, probe: alertSubject('_probe', '_probe', '_probe') },
  { name: ALERT_STREAM_V2, subjects: ALERT_V2_SUBJECTS, probe: alertV2Subject('_probe', '_probe', '_probe') },
] as const;

function streamConfig(name: string, subjects: string, replicas = 1): Partial<StreamConfig> & { name: string } {
  return {
    name,
    subjects: [subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(ALERT_STREAM_LIMITS.maxAgeMs),
    max_bytes: ALERT_STREAM_LIMITS.maxBytes,
    max_msg_size: ALERT_STREAM_LIMITS.maxMsgSize,
    duplicate_window: nanos(ALERT_STREAM_LIMITS.duplicateWindowMs),
    num_replicas: replicas,
  };
}

function isNatsError(err: unknown): err is NatsError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}
function permissionSubject(err: unknown): string | null {
  if (!isNatsError(err)) return null;
  return err.permissionContext?.subject ?? (err.code === 'PERMISSIONS_VIOLATION' ? '(unknown subject)' : null);
}
function apiErrCode(err: unknown): number | null {
  return isNatsError(err) ? err.api_error?.err_code ?? null : null;
}
function isAuthError(err: unknown): boolean {
  return isNatsError(err) && (err.code === 'AUTHORIZATION_VIOLATION' || err.code === 'AUTHENTICATION_EXPIRED');
}

/** The message id is a function of the event, so the same event submitted again (after a crash) is the same message. */
export function messageIdFor(node: string, event: Pick<CrowdAlertEvent, 'incidentId' | 'phase' | 'at'>): string {
  return `${node}:${event.incidentId}:${event.phase}:${event.at}`;
}

/** A watch-list, frequency or stranger alarm's message id: one per decision, so a resubmitted alarm is the same message. */
export function alarmMessageIdFor(node: string, kind: AlarmKind, id: string): string {
  return `${node}:${kind}:${id}`;
}

/** Where an outbox entry goes: its kind says which subject family. */
function subjectFor(a: WireAlert): string {
  if (a.kind === 'crowd') return a.schemaVersion === 2 ? alertV2Subject(a.district, a.camera, a.zone) : alertSubject(a.district, a.camera, a.zone);
  if (isAlarmKind(a.kind)) return alarmSubject(a.kind, a.district, a.camera);
  // Only an outbox written by a newer version can hold another kind: it still goes under the alerts root,
  // where the stream captures it, rather than being stuck in the outbox for good.
  const other = a as { kind: string; district: string; camera: string };
  return `${SUBJECT_ROOT}.alerts.${sanitizeToken(String(other.kind))}.${sanitizeToken(String(other.district))}.${sanitizeToken(String(other.camera))}`;
}

function invalid(path: string, why: string): never {
  throw new AlertError('ALERT_INVALID_EVENT', `alarm.${path} ${why}`, { detail: { path } });
}

/**
 * Builds the wire alarm field by field (never a spread of the event, so a stray key never reaches the wire), then
 * validates it against its kind's schema. `event` is untrusted: anything missing fails the schema, naming the path.
 */
function buildAlarm(event: AlarmEvent, ctx: AlertContext, node: string, seq: number): AlarmV1 {
  const kind: unknown = event?.kind;
  if (!isAlarmKind(kind)) invalid('kind', `must be one of watchlist, frequency, stranger (got ${typeof kind === 'string' ? JSON.stringify(kind.slice(0, 80)) : typeof kind})`);
  const head = {
    schemaVersion: 1 as const,
    id: event.id,
    messageId: alarmMessageIdFor(node, kind, String(event.id)),
    seq,
    district: ctx?.district,
    camera: event.camera,
    department: event.department,
    location: ctx?.location === null ? null : { lat: ctx?.location?.lat, lon: ctx?.location?.lon },
    track: event.track,
    at: event.at,
    emittedAt: Date.now(),
    publishedAt: null,
    snapshotRef: ctx?.snapshotRef,
    node,
  };
  const { schemaVersion, ...rest } = head;
  switch (event.kind) {
    case 'watchlist':
      return validateAlarm('watchlist', {
        schemaVersion, kind: 'watchlist', ...rest,
        list: event.list, entry: event.entry, entryKind: event.entryKind, similarity: event.similarity, threshold: event.threshold,
        plate: event.plate, plateEdits: event.plateEdits, firstSeenAt: event.firstSeenAt, matchedFrameAt: event.matchedFrameAt,
      });
    case 'frequency':
      return validateAlarm('frequency', {
        schemaVersion, kind: 'frequency', ...rest,
        rule: event.rule, count: event.count, minCount: event.minCount, windowMs: event.windowMs, minGapMs: event.minGapMs,
        threshold: event.threshold,
        appearances: Array.isArray(event.appearances)
          ? event.appearances.map((p) => ({ camera: p?.camera, track: p?.track, at: p?.at, similarity: p?.similarity }))
          : event.appearances,
      });
    case 'stranger':
      return validateAlarm('stranger', {
        schemaVersion, kind: 'stranger', ...rest,
        zone: event.zone, reason: event.reason, similarity: event.similarity, threshold: event.threshold,
        allowLists: Array.isArray(event.allowLists) ? [...event.allowLists] : event.allowLists, dwellMs: event.dwellMs,
      });
  }
}

function buildAlert(event: CrowdAlertEvent, ctx: AlertContext, node: string, seq: number): CrowdAlertV1 {
  // Built field by field (not spread) so a stray key on the event never reaches the wire.
  return validateAlert({
    schemaVersion: ALERT_SCHEMA_VERSION,
    kind: 'crowd',
    id: event?.incidentId,
    messageId: messageIdFor(node, event),
    seq,
    phase: event?.phase,
    district: ctx?.district,
    camera: event?.cameraId,
    zone: event?.zoneId,
    location: ctx?.location === null ? null : { lat: ctx?.location?.lat, lon: ctx?.location?.lon },
    count: event?.count,
    threshold: event?.threshold,
    density: event?.density,
    windowMs: event?.windowMs,
    severity: event?.severity,
    startedAt: event?.startedAt,
    at: event?.at,
    emittedAt: Date.now(),
    publishedAt: null,
    evidence: Array.isArray(event?.evidence) ? [...event.evidence] : event?.evidence,
    snapshotRef: ctx?.snapshotRef,
    node,
  });
}

/**
 * The v1 form of a v2 crowd alert (its fields but the clear reason, and v1's message id): what the core's own
 * history and API show when only v2 goes out. Never published.
 */
export function crowdV1View(a: CrowdAlertV2): CrowdAlertV1 {
  const { clearReason: _reason, schemaVersion: _v, messageId, ...rest } = a;
  return { ...rest, schemaVersion: ALERT_SCHEMA_VERSION, messageId: messageId.endsWith(':v2') ? messageId.slice(0, -3) : messageId } as CrowdAlertV1;
}

/** A crowd decision in schema v2: v1's fields (built the same way), and the clear reason. */
function buildAlertV2(event: CrowdAlertEvent, ctx: AlertContext, node: string, seq: number): CrowdAlertV2 {
  const v1 = buildAlert(event, ctx, node, seq);
  const cleared = v1.phase === 'cleared';
  return validateAlertV2({
    ...v1,
    schemaVersion: 2,
    messageId: `${v1.messageId}:v2`,
    // A clear the event gives no reason for is the crowd rule's own: the count fell below the threshold.
    clearReason: cleared ? (event.clearReason ?? 'zone-empty') : null,
  });
}

interface SinkConnOptions {
  servers: string; user: string; pass: string; node: string; credsFile: string | undefined; tls: NatsTls | null; replicas: number;
  fence: ((cameraId: string, epoch: number) => boolean) | undefined;
  crowdSchemas: ReadonlySet<CrowdSchema>;
}

class AlertSinkImpl implements AlertSink {
  readonly #o: SinkConnOptions;
  readonly #log: Logger;
  readonly #outbox: Outbox;
  readonly #listeners = new Set<(e: AlertSinkEvent) => void>();
  #nc: NatsConnection | null = null;
  #js: JetStreamClient | null = null;
  #state: AlertSinkState = ALERT_SINK_STATES.connecting;
  /** True once the stream is known to exist on the current connection. */
  #streamReady = false;
  #closing = false;
  #published = 0;
  #rejected = 0;
  #duplicates = 0;
  #eventsDropped = 0;
  #lastError: string | null = null;
  /** Per subject (so per zone), the outbox entries still to publish, oldest first. */
  readonly #zones = new Map<string, OutboxEntry[]>();
  /** Zones whose head is being published or waiting for a retry: nothing else of theirs goes out meanwhile. */
  readonly #busy = new Set<string>();
  /** Zones with something to send and nothing in flight, in the order they became ready. */
  readonly #ready = new Set<string>();
  #inFlight = 0;
  /** Message ids in the outbox, so a resubmitted event is not written twice. */
  readonly #pendingIds = new Map<string, WireAlert>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #dialDelay = RETRY_MIN_MS;

  constructor(o: SinkConnOptions, outbox: Outbox, log: Logger) {
    this.#o = o;
    this.#outbox = outbox;
    this.#log = log;
  }

  // ---- start-up -------------------------------------------------------------------------------------------

  /** Loads the entries a previous run left, then the first dial. Auth and permission problems throw here. */
  async start(pending: readonly OutboxEntry[]): Promise<void> {
    for (const e of pending) this.#enqueue(e);
    if (pending.length > 0) this.#log.info('alert outbox holds alerts from the last run; they will be republished', { depth: pending.length });
    let nc: NatsConnection;
    try {
      nc = await this.#dial();
    } catch (err) {
      if (isAuthError(err)) throw this.#authError(err, ALERT_SUBJECTS, 'refused the credentials');
      this.#setError('ALERT_NATS_UNREACHABLE', `NATS at ${this.#o.servers} cannot be reached (${(err as Error).message}); alerts wait in the outbox`);
      this.#state = ALERT_SINK_STATES.disconnected;
      this.#scheduleDial();
      return;
    }
    try {
      await this.#setup(nc);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
    this.#adopt(nc);
  }

  async #dial(): Promise<NatsConnection> {
    const base = {
      servers: this.#o.servers.split(',').map((s) => s.trim()).filter((s) => s.length > 0),
      name: `cvcore-alerts-${this.#o.node}`,
      timeout: CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: -1,
      reconnectTimeWait: RETRY_MIN_MS,
      // Keep retrying through auth errors after the first connect: a rotated password is a status, not a crash.
      ignoreAuthErrorAbort: true,
      ...natsTlsOptions(this.#o.tls),
    };
    if (this.#o.credsFile !== undefined) {
      return connect({ ...base, authenticator: credsAuthenticator(await readFile(this.#o.credsFile)) });
    }
    return connect({ ...base, user: this.#o.user, pass: this.#o.pass });
  }

  /** Who the errors name: the user, or the creds file when one is used (its user is in the JWT). */
  get #who(): string { return this.#o.credsFile === undefined ? this.#o.user : `creds ${this.#o.credsFile}`; }

  #authError(err: unknown, subject: string, what: string): AlertError {
    return new AlertError('ALERT_NATS_AUTH',
      `NATS ${what} for user "${this.#who}" on subject "${subject}" (${(err as Error).message}); ${this.#o.credsFile === undefined
        ? 'check NATS_USER/NATS_PASS and the user\'s permissions in nats.conf' : 'check NATS_CREDS and the user\'s JWT (cvcore nats creds init)'}`,
      { cause: err, detail: { user: this.#who, subject, servers: this.#o.servers } });
  }

  /**
   * Creates or updates the stream (idempotent), then proves the user may publish to the alert subjects. The probe
   * is a JetStream publish that expects an impossible last sequence: the stream refuses it without storing it,
   * whereas a missing permission comes back as a permissions violation naming the subject.
   */
  async #setup(nc: NatsConnection): Promise<void> {
    let stream: string = ALERT_STREAM;
    try {
      const jsm = await nc.jetstreamManager({ timeout: PUBLISH_TIMEOUT_MS });
      const js = nc.jetstream({ timeout: PUBLISH_TIMEOUT_MS });
      for (const s of STREAMS) {
        stream = s.name;
        const want = streamConfig(s.name, s.subjects, this.#o.replicas);
        let info = null;
        try {
          info = await jsm.streams.info(s.name);
        } catch (err) {
          if (apiErrCode(err) !== 10059) throw err; // 10059: stream not found
        }
        if (info === null) {
          await jsm.streams.add(want);
          this.#log.info('created the alert stream', { stream: s.name });
        } else {
          const c = info.config;
          const same = c.max_age === want.max_age && c.max_bytes === want.max_bytes && c.duplicate_window === want.duplicate_window
            && c.max_msg_size === want.max_msg_size && c.subjects.length === 1 && c.subjects[0] === s.subjects;
          if (!same) {
            await jsm.streams.update(s.name, { ...c, ...want });
            this.#log.info('updated the alert stream limits', { stream: s.name });
          }
        }
        try {
          await js.publish(s.probe, EMPTY, { expect: { lastSequence: Number.MAX_SAFE_INTEGER } });
        } catch (err) {
          if (apiErrCode(err) === null) throw err; // any JetStream API error means the publish itself was allowed
        }
      }
      this.#js = js;
      this.#streamReady = true;
    } catch (err) {
      const subject = permissionSubject(err);
      if (subject !== null) throw this.#authError(err, subject, 'denied a permission');
      if (err instanceof CvcoreError) throw err;
      throw new AlertError('ALERT_NATS_JETSTREAM', `JetStream stream ${stream} cannot be set up at ${this.#o.servers}: ${(err as Error).message}`, { cause: err, detail: { stream } });
    }
  }

  /** Takes a set-up connection into use and follows its status. */
  #adopt(nc: NatsConnection): void {
    this.#nc = nc;
    this.#dialDelay = RETRY_MIN_MS;
    this.#setConnected(nc.getServer());
    void this.#watch(nc);
    this.#pump();
  }

  async #watch(nc: NatsConnection): Promise<void> {
    const closed = nc.closed();
    try {
      for await (const s of nc.status()) {
        if (this.#closing) break;
        if (s.type === 'disconnect') {
          this.#streamReady = false;
          this.#state = ALERT_SINK_STATES.disconnected;
          this.#setError('ALERT_NATS_UNREACHABLE', `lost NATS at ${String(s.data)}; alerts wait in the outbox`);
          this.#emit({ type: 'disconnected', reason: 'connection lost' });
        } else if (s.type === 'reconnect') {
          // A restarted server may have a new store: make sure the stream is there before publishing again.
          this.#setup(nc).then(() => { this.#setConnected(String(s.data)); this.#pump(); }, (err: unknown) => {
            this.#setError((err as CvcoreError).code ?? 'ALERT_NATS_JETSTREAM', (err as Error).message);
            this.#retrySetup(nc);
          });
        } else if (s.type === 'error') {
          const ctx = (s as { permissionContext?: { subject: string } }).permissionContext;
          if (ctx) this.#setError('ALERT_NATS_AUTH', `NATS denied user "${this.#who}" on subject "${ctx.subject}"`);
        }
      }
    } catch { /* the status iterator ends with the connection */ }
    const err = await closed;
    if (!this.#closing && this.#nc === nc) {
      // nats.js gave up (should not happen with unlimited reconnects); dial afresh.
      this.#nc = null;
      this.#streamReady = false;
      this.#state = ALERT_SINK_STATES.disconnected;
      this.#setError('ALERT_NATS_UNREACHABLE', `NATS connection closed${err ? `: ${err.message}` : ''}`);
      this.#scheduleDial();
    }
  }

  #retrySetup(nc: NatsConnection): void {
    this.#later(RETRY_MAX_MS, () => {
      if (this.#closing || this.#nc !== nc || nc.isClosed()) return;
      this.#setup(nc).then(() => { this.#setConnected(nc.getServer()); this.#pump(); }, () => this.#retrySetup(nc));
    });
  }

  #scheduleDial(): void {
    const delay = this.#dialDelay;
    this.#dialDelay = Math.min(RETRY_MAX_MS, this.#dialDelay * 2);
    this.#later(delay, () => {
      if (this.#closing) return;
      this.#dial().then(async (nc) => {
        if (this.#closing) { await nc.close(); return; }
        try {
          await this.#setup(nc);
        } catch (err) {
          this.#setError((err as CvcoreError).code ?? 'ALERT_NATS_JETSTREAM', (err as Error).message);
          await nc.close().catch(() => undefined);
          this.#scheduleDial();
          return;
        }
        this.#adopt(nc);
      }, (err: unknown) => {
        if (isAuthError(err)) this.#setError('ALERT_NATS_AUTH', this.#authError(err, ALERT_SUBJECTS, 'refused the credentials').message);
        else this.#setError('ALERT_NATS_UNREACHABLE', `NATS at ${this.#o.servers} cannot be reached (${(err as Error).message}); alerts wait in the outbox`);
        this.#scheduleDial();
      });
    });
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.#timers.delete(t); fn(); }, ms);
    this.#timers.add(t);
  }

  #setConnected(server: string): void {
    this.#state = ALERT_SINK_STATES.connected;
    this.#lastError = null;
    this.#log.info('connected to NATS', { server, outboxDepth: this.#outbox.depth });
    this.#emit({ type: 'connected', server });
  }

  #setError(code: string, message: string): void {
    if (this.#lastError !== message) this.#log.warn(message, { code });
    this.#lastError = message;
    this.#emit({ type: 'error', code, message });
  }

  #emit(e: AlertSinkEvent): void {
    for (const l of this.#listeners) {
      try { l(e); } catch (err) { this.#log.error('an alert sink listener threw', { error: err as Error }); }
    }
  }

  // ---- the publish path -------------------------------------------------------------------------------------

  #enqueue(e: OutboxEntry): void {
    const subject = subjectFor(e.alert);
    let q = this.#zones.get(subject);
    if (q === undefined) { q = []; this.#zones.set(subject, q); }
    q.push(e);
    this.#pendingIds.set(e.alert.messageId, e.alert);
    if (!this.#busy.has(subject)) this.#ready.add(subject);
  }

  #pump(): void {
    if (this.#closing || this.#js === null || !this.#streamReady || this.#state !== ALERT_SINK_STATES.connected) return;
    for (const subject of this.#ready) {
      if (this.#inFlight >= MAX_IN_FLIGHT) return;
      this.#ready.delete(subject);
      const head = this.#zones.get(subject)?.[0];
      if (head !== undefined) this.#send(this.#js, subject, head, RETRY_MIN_MS);
    }
  }

  #send(js: JetStreamClient, subject: string, entry: OutboxEntry, retryMs: number): void {
    if (entry.fence && this.#o.fence && !this.#o.fence(entry.fence.cameraId, entry.fence.epoch)) {
      this.#fenceOff(subject, entry);
      return;
    }
    this.#busy.add(subject);
    this.#inFlight += 1;
    const wire = JSON.stringify({ ...entry.alert, publishedAt: Date.now() });
    js.publish(subject, enc.encode(wire), { msgID: entry.alert.messageId, timeout: PUBLISH_TIMEOUT_MS }).then(async (ack) => {
      // Removed only after the ack: a crash before this line republishes, and the msgID makes that a duplicate.
      // A failed delete is logged, not retried: the entry is republished (and de-duplicated) on the next start.
      await this.#outbox.remove(entry.seq).catch((err: unknown) => {
        this.#setError('ALERT_OUTBOX_IO', `the outbox failed to delete acked alert ${entry.seq}: ${(err as Error).message}`);
      });
      const q = this.#zones.get(subject);
      q?.shift();
      this.#pendingIds.delete(entry.alert.messageId);
      this.#published += 1;
      if (ack.duplicate) this.#duplicates += 1;
      this.#inFlight -= 1;
      this.#busy.delete(subject);
      if (q !== undefined && q.length > 0) this.#ready.add(subject);
      else this.#zones.delete(subject);
      this.#emit({ type: 'published', seq: entry.seq, subject, duplicate: ack.duplicate });
      this.#pump();
    }, (err: unknown) => {
      this.#inFlight -= 1;
      const denied = permissionSubject(err);
      if (denied !== null) this.#setError('ALERT_NATS_AUTH', `NATS denied user "${this.#who}" on subject "${denied}"`);
      else if (!this.#closing && this.#state === ALERT_SINK_STATES.connected) {
        this.#setError('ALERT_NATS_UNREACHABLE', `publish of alert ${entry.seq} to ${subject} failed (${(err as Error).message}); retrying`);
      }
      // The zone stays busy until the retry so nothing of it overtakes the failed entry.
      this.#later(retryMs, () => {
        this.#busy.delete(subject);
        if (this.#closing) return;
        const js2 = this.#js;
        if (js2 !== null && this.#streamReady && this.#state === ALERT_SINK_STATES.connected && this.#inFlight < MAX_IN_FLIGHT) {
          this.#send(js2, subject, entry, Math.min(RETRY_MAX_MS, retryMs * 2));
        } else {
          this.#ready.add(subject);
        }
      });
    });
  }

  /** Takes the head of a zone out of the send queue for good (its lease moved on) and goes on with the zone. */
  #fenceOff(subject: string, entry: OutboxEntry): void {
    this.#busy.add(subject);
    this.#log.warn('alert fenced: its camera lease moved on before it was sent; kept in the outbox, not sent', {
      seq: entry.seq, camera: entry.fence?.cameraId, epoch: entry.fence?.epoch, kind: entry.alert.kind, id: entry.alert.id,
      ...(entry.alert.kind === 'crowd' ? { phase: entry.alert.phase } : {}),
    });
    void this.#outbox.fence(entry).catch((err: unknown) => {
      this.#setError('ALERT_OUTBOX_IO', `the outbox failed to fence alert ${entry.seq}: ${(err as Error).message}`);
    }).finally(() => {
      const q = this.#zones.get(subject);
      q?.shift();
      this.#pendingIds.delete(entry.alert.messageId);
      this.#busy.delete(subject);
      if (q !== undefined && q.length > 0) this.#ready.add(subject);
      else this.#zones.delete(subject);
      this.#pump();
    });
  }

  // ---- public -----------------------------------------------------------------------------------------------

  async submit(event: CrowdAlertEvent, ctx: AlertContext): Promise<CrowdAlertV1> {
    if (this.#closing) throw new AlertError('ALERT_CLOSED', 'the alert sink is closed');
    if (typeof event === 'object' && event !== null && typeof event.incidentId === 'string') {
        // A decision already waiting (a rule re-emitting after a restart), in whichever version it went in.
      const id = messageIdFor(this.#o.node, event);
      const known = this.#pendingIds.get(id) ?? this.#pendingIds.get(`${id}:v2`);
      if (known !== undefined && known.kind === 'crowd') return known.schemaVersion === 1 ? known : crowdV1View(known);
    }
    // The decision in schema v1 and, beside it, in v2 (with the clear reason): one outbox batch, two subjects;
    // or in the one version the deployment asked for.
    const builds: Array<(seq: number) => WireAlert> = [];
    if (this.#o.crowdSchemas.has('v1')) builds.push((seq) => buildAlert(event, ctx, this.#o.node, seq));
    if (this.#o.crowdSchemas.has('v2')) builds.push((seq) => buildAlertV2(event, ctx, this.#o.node, seq));
    const [first] = await this.#append(builds, ctx, { kind: 'crowd', incidentId: (event as { incidentId?: unknown })?.incidentId });
    const a = first!.alert as CrowdAlertV1 | CrowdAlertV2;
    return a.schemaVersion === 1 ? a : crowdV1View(a);
  }

  async submitAlarm(event: AlarmEvent, ctx: AlertContext): Promise<AlarmV1> {
    if (this.#closing) throw new AlertError('ALERT_CLOSED', 'the alert sink is closed');
    // A rule that re-emits a decision it is not sure went out (after a restart) gets the entry already waiting.
    if (typeof event === 'object' && event !== null && isAlarmKind(event.kind) && typeof event.id === 'string') {
      const known = this.#pendingIds.get(alarmMessageIdFor(this.#o.node, event.kind, event.id));
      if (known !== undefined && known.kind === event.kind) return known;
    }
    const [entry] = await this.#append([(seq) => buildAlarm(event, ctx, this.#o.node, seq)],
      ctx, { kind: (event as { kind?: unknown })?.kind, id: (event as { id?: unknown })?.id });
    return entry!.alert as AlarmV1;
  }

  /** Writes to the outbox, counting and reporting what is refused before it, then queues it for publishing. */
  async #append(builds: ReadonlyArray<(seq: number) => WireAlert>, ctx: AlertContext, what: Record<string, unknown>): Promise<OutboxEntry[]> {
    let entries: OutboxEntry[];
    try {
      entries = await this.#outbox.appendAll(builds, ctx?.fence);
    } catch (err) {
      if (err instanceof AlertError && (err.code === 'ALERT_INVALID_EVENT' || err.code === 'ALERT_OUTBOX_FULL')) {
        this.#rejected += 1;
        this.#log.error('alert refused before the outbox', { code: err.code, error: err.message, ...what });
        this.#emit({ type: 'rejected', code: err.code, message: err.message });
      }
      throw err;
    }
    for (const entry of entries) this.#enqueue(entry);
    this.#pump();
    return entries;
  }

  publishEvent(kind: EventKind, tokens: readonly string[], payload: unknown): void {
    const subject = eventSubject(kind, tokens);
    const nc = this.#nc;
    if (nc === null || this.#state !== ALERT_SINK_STATES.connected) { this.#eventsDropped += 1; return; }
    try {
      nc.publish(subject, enc.encode(JSON.stringify(payload)));
    } catch {
      this.#eventsDropped += 1;
    }
  }

  status(): AlertSinkStatus {
    return {
      connected: this.#state === ALERT_SINK_STATES.connected,
      outboxDepth: this.#outbox.depth,
      published: this.#published,
      rejected: this.#rejected,
      lastError: this.#lastError,
      state: this.#state,
      outboxLimit: this.#outbox.limit,
      duplicates: this.#duplicates,
      eventsDropped: this.#eventsDropped,
      fenced: this.#outbox.fenced,
    };
  }

  async drain(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#outbox.depth > 0) {
      if (Date.now() >= deadline || this.#closing) return this.#outbox.depth === 0;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  on(listener: (event: AlertSinkEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    // Let acks already on their way land, so their entries leave the outbox; the rest stay for the next run.
    const deadline = Date.now() + 1_000;
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const nc = this.#nc;
    this.#nc = null;
    this.#js = null;
    if (nc !== null) await nc.close().catch(() => undefined);
    await this.#outbox.close();
    this.#state = ALERT_SINK_STATES.closed;
  }
}

function checkOptions(o: AlertSinkOptions): void {
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object');
  for (const k of ['servers', 'dataDir', 'node'] as const) {
    if (typeof o[k] !== 'string' || o[k].length === 0) throw new TypeError(`options.${k} must be a non-empty string`);
  }
  if (o.credsFile === undefined) {
    if (typeof o.user !== 'string' || o.user.length === 0) throw new TypeError('options.user must be a non-empty string');
    if (typeof o.pass !== 'string') throw new TypeError('options.pass must be a string');
  } else if (typeof o.credsFile !== 'string' || o.credsFile.length === 0) {
    throw new TypeError('options.credsFile must be a non-empty string');
  }
  if (o.outboxLimit !== undefined && (!Number.isInteger(o.outboxLimit) || o.outboxLimit < 1)) {
    throw new RangeError('options.outboxLimit must be a positive integer');
  }
  if (o.crowdSchemas !== undefined && (!Array.isArray(o.crowdSchemas) || o.crowdSchemas.length === 0 || o.crowdSchemas.some((v) => !(CROWD_SCHEMAS as readonly string[]).includes(v)))) {
    throw new RangeError(`options.crowdSchemas must list one or both of ${CROWD_SCHEMAS.join(', ')}`);
  }
}

/**
 * Opens the outbox and connects. Wrong credentials or a missing permission reject with ALERT_NATS_AUTH; an
 * unreachable server does not: the sink keeps dialling and alerts wait in the outbox.
 */
export async function openAlertSink(options: AlertSinkOptions): Promise<AlertSink> {
  checkOptions(options);
  const log = (options.log ?? createLogger()).child({ stage: 'alerts', node: options.node });
  const { outbox, pending } = await Outbox.open(join(options.dataDir, 'alerts-outbox'), options.outboxLimit ?? DEFAULT_OUTBOX_LIMIT, options.syncWrites ?? false);
  const sink = new AlertSinkImpl({
    servers: options.servers, user: options.user ?? '', pass: options.pass ?? '', node: options.node, credsFile: options.credsFile, tls: options.tls ?? null,
    replicas: options.replicas ?? 1, fence: options.fence, crowdSchemas: new Set(options.crowdSchemas ?? CROWD_SCHEMAS),
  }, outbox, log);
  try {
    await sink.start(pending);
  } catch (err) {
    await sink.close().catch(() => undefined);
    throw err;
  }
  return sink;
}
