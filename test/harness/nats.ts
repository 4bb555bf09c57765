import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, connect, DeliverPolicy, type NatsConnection } from 'nats';
import {
  ALERT_STREAM, ALERT_STREAM_V2, DEFAULT_ADMIN_USER, DEFAULT_SUBSCRIBER_USER, startNatsServer, validateAlert, validateAlertV2, validateWireAlert,
  type CrowdAlertV1, type CrowdAlertV2, type NatsCredentials, type NatsServerHandle, type WireAlertV1,
} from '../../alerts/index.js';
import type { AlarmEvent, CrowdAlertEvent } from '../../common/messages.js';

/**
 * A real nats-server from the repo's nats.conf, on a free port, its store and the core's data dir in a fresh
 * temp dir. `restart()` keeps port and store, as an operator's restart would. `stop()` removes the temp dir.
 */
export interface NatsHarness {
  readonly url: string;
  readonly port: number;
  /** A temp dir for the test's own data (outboxes). */
  readonly dir: string;
  restart(): Promise<void>;
  /** Stops the server and keeps everything (to test an outage); `start()` brings it back on the same port. */
  down(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startNats(options: { port?: number } = {}): Promise<NatsHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-alerts-'));
  const storeDir = join(dir, 'nats-store');
  let server: NatsServerHandle | null = await startNatsServer(options.port === undefined ? { storeDir } : { storeDir, port: options.port });
  const port = server.port;
  const h: NatsHarness = {
    url: `nats://127.0.0.1:${port}`,
    port,
    dir,
    async down() { await server?.stop(); server = null; },
    async start() { if (server === null) server = await startNatsServer({ storeDir, port }); },
    async restart() { await h.down(); await h.start(); },
    async stop() { await h.down(); await rm(dir, { recursive: true, force: true }); },
  };
  return h;
}

export function crowdEvent(i: number, zone: string, over: Partial<CrowdAlertEvent> = {}): CrowdAlertEvent {
  return {
    incidentId: `inc-${zone}`,
    phase: i === 0 ? 'raised' : 'updated',
    cameraId: 'cam-1',
    zoneId: zone,
    count: 20 + i,
    threshold: 15,
    density: 1.5,
    severity: 'medium',
    windowMs: 5_000,
    startedAt: 1_700_000_000_000,
    at: 1_700_000_000_000 + 1_000 + i,
    evidence: [16, 17, 18],
    snapshotSeq: i,
    ...over,
  };
}

const T0 = 1_700_000_000_000;
type EventOf<K extends AlarmEvent['kind']> = Extract<AlarmEvent, { kind: K }>;

/** The i-th watch-list alarm decision of `camera` (a face entry); ids are unique per camera and i. */
export function watchlistEvent(i: number, camera: string, over: Partial<EventOf<'watchlist'>> = {}): EventOf<'watchlist'> {
  return {
    kind: 'watchlist', id: `wl-${camera}-${i}`, camera, department: 'police-shinan', track: `${camera}:${i}:${T0 + i}`, at: T0 + 1_000 + i,
    list: 'wanted', entry: `entry-${i % 3}`, entryKind: 'face', similarity: 0.71, threshold: 0.55, plate: null, plateEdits: null,
    firstSeenAt: T0 + i, matchedFrameAt: T0 + 500 + i, ...over,
  };
}

export function frequencyEvent(i: number, camera: string, over: Partial<EventOf<'frequency'>> = {}): EventOf<'frequency'> {
  return {
    kind: 'frequency', id: `fq-${camera}-${i}`, camera, department: 'police-shinan', track: `${camera}:${i}:${T0 + i}`, at: T0 + 2_000 + i,
    rule: 'ten-in-seven', count: 3, minCount: 3, windowMs: 600_000, minGapMs: 60_000, threshold: 0.6,
    appearances: [
      { camera, track: `${camera}:${i}:${T0}`, at: T0, similarity: 0.8 },
      { camera: 'cam-9', track: `cam-9:7:${T0 + 100_000}`, at: T0 + 100_000, similarity: 0.77 },
      { camera, track: `${camera}:${i}:${T0 + i}`, at: T0 + 200_000, similarity: 1 },
    ],
    ...over,
  };
}

export function strangerEvent(i: number, camera: string, over: Partial<EventOf<'stranger'>> = {}): EventOf<'stranger'> {
  return {
    kind: 'stranger', id: `st-${camera}-${i}`, camera, department: 'police-shinan', track: `${camera}:${i}:${T0 + i}`, at: T0 + 3_000 + i,
    zone: 'server-room', reason: 'unknown_face', similarity: 0.21, threshold: 0.55, allowLists: ['staff'], dwellMs: 4_000, ...over,
  };
}

export async function connectAs(url: string, who: NatsCredentials): Promise<NatsConnection> {
  return connect({ servers: url, user: who.user, pass: who.pass, timeout: 2_000 });
}

/** Creates a durable pull consumer (as the subscriber user) and reads until `expected` messages or `timeoutMs`. */
export async function readDurable(url: string, durable: string, expected: number, timeoutMs = 10_000): Promise<CrowdAlertV1[]> {
  return (await readDurableRaw(url, durable, expected, timeoutMs)).map((m) => validateAlert(m.data));
}

/** As readDurable, for every kind: each message's subject and its alarm, validated by its own kind. */
export async function readDurableAlarms(url: string, durable: string, expected: number, timeoutMs = 10_000): Promise<Array<{ subject: string; alarm: WireAlertV1 }>> {
  return (await readDurableRaw(url, durable, expected, timeoutMs)).map((m) => {
    const alarm = validateWireAlert(m.data);
    if (alarm === null) throw new TypeError(`a message of an unknown kind on ${m.subject}`);
    return { subject: m.subject, alarm };
  });
}

/** As readDurable, from the schema v2 stream (crowd alerts with the clear reason). */
export async function readDurableV2(url: string, durable: string, expected: number, timeoutMs = 10_000): Promise<CrowdAlertV2[]> {
  return (await readDurableRaw(url, durable, expected, timeoutMs, ALERT_STREAM_V2)).map((m) => validateAlertV2(m.data));
}

async function readDurableRaw(url: string, durable: string, expected: number, timeoutMs: number, stream: string = ALERT_STREAM): Promise<Array<{ subject: string; data: unknown }>> {
  const nc = await connectAs(url, DEFAULT_SUBSCRIBER_USER);
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
    const consumer = await nc.jetstream().consumers.get(stream, durable);
    const out: Array<{ subject: string; data: unknown }> = [];
    const deadline = Date.now() + timeoutMs;
    // Read one batch beyond `expected` (with a short expiry) so a duplicate would show up as an extra message.
    while (Date.now() < deadline) {
      const batch = await consumer.fetch({ max_messages: 100, expires: out.length >= expected ? 1_000 : 2_000 });
      let got = 0;
      for await (const m of batch) {
        out.push({ subject: m.subject, data: m.json() });
        m.ack();
        got += 1;
      }
      if (out.length >= expected && got === 0) break;
    }
    return out;
  } finally {
    await nc.drain();
  }
}

/** The number of messages in the alert stream (read as admin). */
export async function streamCount(url: string): Promise<number> {
  const nc = await connectAs(url, DEFAULT_ADMIN_USER);
  try {
    const jsm = await nc.jetstreamManager();
    return (await jsm.streams.info(ALERT_STREAM)).state.messages;
  } finally {
    await nc.close();
  }
}

/** Groups alerts by zone and checks each zone's `at` (the event order) strictly increases along the stream. */
export function zoneOrderViolations(alerts: readonly CrowdAlertV1[]): string[] {
  const last = new Map<string, { at: number; seq: number }>();
  const bad: string[] = [];
  for (const a of alerts) {
    const prev = last.get(a.zone);
    if (prev !== undefined && (a.at <= prev.at)) bad.push(`${a.zone}: at ${a.at} after ${prev.at}`);
    last.set(a.zone, { at: a.at, seq: a.seq });
  }
  return bad;
}
