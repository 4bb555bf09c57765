/**
 * What an api node of a cluster gives the HTTP API in place of a local pipeline: the camera pool from KV with
 * each camera's health asked from the node that analyses it, and the alert history, zone counts, alarm frames
 * and live events gathered from NATS (the analytics nodes publish them there anyway).
 */
import { KvWatchInclude, type NatsConnection, type KV, type Subscription } from 'nats';
import { IngestError } from '../common/errors.js';
import { maskUrl, type Logger } from '../common/log.js';
import type { CameraConfig, CvcoreConfig } from '../config/index.js';
import type { ZoneCount } from '../common/messages.js';
import type { PipelineEvent } from '../common/messages.js';
import { LiveViewHub, type CameraHealth, type CameraView } from '../ingest/index.js';
import { crowdV1View, validateAlert, validateAlertV2, type CrowdAlertV1 } from '../alerts/index.js';
import type { AlertHistory, CameraRegistry, LiveEventSource } from '../api/index.js';
import { nodeSubject, type ClusterCameraPool, type LeaseView, type Membership } from '../cluster/index.js';

const HEALTH_REFRESH_MS = 2_000;
const dec = new TextDecoder();

function unassignedHealth(cameraId: string, since: number): CameraHealth {
  return {
    cameraId, state: 'stopped', since, code: null, reason: 'no analytics node holds this camera (waiting for capacity, or being taken over)',
    framesDecoded: 0, framesDropped: 0, framesSkipped: 0, partialFrames: 0, queueDepth: 0, restarts: 0, lastFrameAt: null, fps: 0,
  };
}

export class ClusterCameraRegistry implements CameraRegistry {
  readonly live: LiveViewHub;
  readonly #pool: ClusterCameraPool;
  readonly #nc: NatsConnection;
  readonly #membership: Membership;
  readonly #leases: LeaseView;
  readonly #health = new Map<string, CameraHealth>();
  readonly #since = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;

  constructor(pool: ClusterCameraPool, nc: NatsConnection, membership: Membership, leases: LeaseView, config: CvcoreConfig) {
    this.#pool = pool;
    this.#nc = nc;
    this.#membership = membership;
    this.#leases = leases;
    const ing = config.ingest;
    this.live = new LiveViewHub({ maxViewers: ing.liveMaxViewers, idleMs: ing.liveIdleMs, bitrateKbps: ing.liveBitrateKbps }, (id) => {
      const c = this.get(id).config;
      return { url: c.url, transport: c.transport };
    });
  }

  start(): void {
    void this.refresh();
    this.#timer = setInterval(() => { void this.refresh(); }, HEALTH_REFRESH_MS);
  }

  /** Asks every live analytics node for the health of the cameras it holds. */
  async refresh(): Promise<void> {
    const nodes = this.#membership.nodes().filter((n) => n.alive && n.info.roles.includes('analytics'));
    const fresh = new Map<string, CameraHealth>();
    await Promise.all(nodes.map(async (n) => {
      try {
        const m = await this.#nc.request(nodeSubject(n.info.id, 'health'), new Uint8Array(0), { timeout: 1_500 });
        for (const h of JSON.parse(dec.decode(m.data)) as CameraHealth[]) fresh.set(h.cameraId, h);
      } catch { /* that node's cameras show as they were last seen, or unassigned */ }
    }));
    const held = new Set(this.#leases.entries().filter((v) => v.value.node !== '' && Date.now() - v.written < 30_000).map((v) => v.value.cameraId));
    for (const [id, h] of fresh) this.#health.set(id, h);
    for (const id of this.#health.keys()) if (!held.has(id) && !fresh.has(id)) this.#health.delete(id);
  }

  stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    return this.live.stop();
  }

  list(): CameraView[] { return this.#pool.list().map((c) => this.view({ config: c })); }
  has(id: string): boolean { return this.#pool.has(id); }

  get(id: string): { readonly config: CameraConfig } {
    const config = this.#pool.get(id);
    if (!config) throw new IngestError('INGEST_UNKNOWN_CAMERA', `no camera "${id}"`, { detail: { cameraId: id } });
    return { config };
  }

  view(camera: { readonly config: CameraConfig }): CameraView {
    const c = camera.config;
    if (!this.#since.has(c.id)) this.#since.set(c.id, Date.now());
    return { ...c, url: maskUrl(c.url), health: this.#health.get(c.id) ?? unassignedHealth(c.id, this.#since.get(c.id)!) };
  }

  async add(input: unknown): Promise<CameraView> { return this.view({ config: await this.#pool.add(input) }); }
  async update(id: string, input: unknown): Promise<CameraView> { return this.view({ config: await this.#pool.update(id, input) }); }
  async remove(id: string): Promise<void> {
    await this.#pool.remove(id);
    void this.live.close(id);
  }
}

/** Alert history, zone counts, alarm frames and live events of the whole cluster, from NATS. */
export class ClusterFeed implements AlertHistory, LiveEventSource {
  readonly #alerts: CrowdAlertV1[] = [];
  readonly #zones = new Map<string, ZoneCount>();
  readonly #snapshots = new Map<string, Uint8Array>();
  readonly #listeners = new Set<(e: PipelineEvent) => void>();
  readonly #subs: Subscription[] = [];
  #watch: { stop(): void } | null = null;
  readonly #log: Logger;

  constructor(log: Logger) { this.#log = log; }

  async start(nc: NatsConnection, snapshots: KV): Promise<void> {
    // The watch first: it is the step that can fail (and be retried) before any subscription exists.
    // Alarm frames: the latest ones are kept here (the API answers them synchronously); older ones stay in KV.
    const it = await snapshots.watch({ include: KvWatchInclude.UpdatesOnly });
    this.#watch = { stop: () => it.stop() };
    void (async () => {
      for await (const e of it) {
        if (e.operation !== 'PUT') continue;
        this.#snapshots.set(e.key, e.value);
        while (this.#snapshots.size > 64) this.#snapshots.delete(this.#snapshots.keys().next().value as string);
      }
    })().catch(() => undefined);
    const sub = (subject: string, fn: (data: unknown) => void): void => {
      const s = nc.subscribe(subject);
      this.#subs.push(s);
      void (async () => {
        for await (const m of s) {
          // The alert sinks' start-up probe carries no payload (and is refused by the stream).
          if (m.data.length === 0) continue;
          try { fn(JSON.parse(dec.decode(m.data))); } catch (err) { this.#log.warn('cluster feed: a message did not parse', { subject: m.subject, err: err as Error }); }
        }
      })();
    };
    const take = (alert: CrowdAlertV1): void => {
      // A republish (after a crash, or a retried ack) carries the same message id, and a decision published in
      // both versions arrives twice with the same v1 id: shown once.
      if (this.#alerts.some((a) => a.messageId === alert.messageId)) return;
      this.#alerts.push(alert);
      if (this.#alerts.length > 1000) this.#alerts.splice(0, 500);
      this.#emit({ type: 'alert', alert });
    };
    sub('citybrain.alerts.crowd.>', (d) => take(validateAlert(d)));
    // A cluster may publish crowd decisions in v2 only (nats.crowdSchemas): the history shows them in v1's form.
    sub('citybrain.v2.alerts.crowd.>', (d) => take(crowdV1View(validateAlertV2(d))));
    sub('citybrain.events.zone_count.>', (d) => {
      const c = d as ZoneCount;
      this.#zones.set(`${c.cameraId}/${c.zoneId}`, c);
      this.#emit({ type: 'zone_count', count: c });
    });
    sub('citybrain.events.stream_health.>', (d) => this.#emit(d as PipelineEvent));
  }

  #emit(e: PipelineEvent): void {
    for (const l of this.#listeners) {
      try { l(e); } catch (err) { this.#log.warn('live listener threw', { err: err as Error }); }
    }
  }

  on(fn: (e: PipelineEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  alertHistory(limit = 100): CrowdAlertV1[] { return this.#alerts.slice(-limit).reverse(); }
  snapshot(id: string): Uint8Array | null { return this.#snapshots.get(id) ?? null; }
  zoneCounts(): ZoneCount[] { return [...this.#zones.values()]; }

  stop(): void {
    for (const s of this.#subs) s.unsubscribe();
    this.#watch?.stop();
  }
}
