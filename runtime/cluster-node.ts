/**
 * A cluster node: one binary, one config, the roles its `cluster` section names.
 *  - analytics: claims camera leases up to its capacity, runs the pipeline on the cameras it holds, publishes
 *    records to the shard streams, keeps open incidents in KV and fences its alerts by lease epoch.
 *  - index: holds shards (durable consumers into a local RocksDB) and answers searches for them.
 *  - api: the HTTP API and console over the whole cluster (scatter-gather search, the camera pool in KV, the
 *    cluster-wide audit trail, alert feed and alarm frames).
 * Stops in the order that loses nothing: API, cameras (tracks end into records), alerts drained, leases handed
 * back, membership left, index consumers stopped after their last ack, NATS closed.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { JetStreamManager, KV, NatsConnection } from 'nats';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { TrackRecord } from '../common/messages.js';
import type { ApiTokenConfig, CvcoreConfig } from '../config/index.js';
import { requireFfmpeg } from '../common/proc.js';
import { openIndex, type SearchIndex } from '../search-index/index.js';
import { natsTlsFrom, openAlertSink, type AlertSink } from '../alerts/index.js';
import { startApi, type ApiServer, type ClusterSource } from '../api/index.js';
import { closeFaceEmbedder, embedFaceFromImage, setFaceEmbedderBackend } from '../inference/index.js';
import {
  AuditMaterialiser, ClusterCameraPool, createJson, readAll, ClusterIndex, IncidentStore, KV_BUCKETS, LeaseKeeper, LeaseView, Membership, RecordPublisher,
  SearchService, ShardConsumer, ErasureApplier, ensureErasureStream, clusterErrorOf, clusterStatus, connectCluster, ensureAuditStream, ensureRecordStreams, ensureShardCount,
  heldShards, nodeInstance, withRetry, checkPublishPermissions, probeSubjects, nodeSubject, openBucket, requestDrain, type ClusterStatus, type LeaseLossReason,
} from '../cluster/index.js';
import { Pipeline } from './pipeline.js';
import { auditChainOptions } from './stack.js';
import { openCoreDataKey } from './data-key.js';
import type { DataKeyring } from '../common/data-key.js';
import { ClusterCameraRegistry, ClusterFeed } from './cluster-api.js';
import { KvTokenStore } from './cluster-tokens.js';

/** Alarm frames are kept as long as the alert stream keeps alerts. */
const SNAPSHOT_TTL_MS = 7 * 24 * 3_600_000;
const SNAPSHOT_BUCKET_BYTES = 512 * 1024 * 1024;
/** How long a camera handed back waits for its last alerts to leave the outbox. */
const HANDOVER_DRAIN_MS = 2_000;

export interface ClusterNodeOptions {
  readonly config: CvcoreConfig;
  readonly log: Logger;
}

export interface ClusterNode {
  readonly id: string;
  readonly config: CvcoreConfig;
  readonly natsUrl: string;
  /** null unless the node has the api role. */
  readonly apiUrl: string | null;
  readonly pipeline: Pipeline | null;
  readonly leases: LeaseKeeper | null;
  readonly alerts: AlertSink | null;
  readonly records: RecordPublisher | null;
  readonly index: SearchIndex | null;
  /** The data key ring (the same key file on every node: see README, Encryption at rest). */
  readonly dataKey: DataKeyring;
  status(): Promise<ClusterStatus>;
  stop(): Promise<void>;
}

/** The records stream as the pipeline's record sink: put resolves on the JetStream ack; flush waits for all. */
class StreamRecordSink {
  readonly #pub: RecordPublisher;
  readonly #inFlight = new Set<Promise<void>>();
  constructor(pub: RecordPublisher) { this.#pub = pub; }
  put(record: TrackRecord): Promise<void> {
    const p = this.#pub.publish(record);
    this.#inFlight.add(p);
    void p.catch(() => undefined).finally(() => this.#inFlight.delete(p));
    return p;
  }
  async flush(): Promise<void> { await Promise.allSettled([...this.#inFlight]); }
}

/**
 * The alert sink sets its stream up at start; on a cluster whose servers are still electing the stream's
 * leader that answers 503 for a while. Other failures (credentials, permissions) are final at once.
 */
async function openSinkWithRetry(open: () => Promise<AlertSink>, log: Logger): Promise<AlertSink> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await open();
    } catch (err) {
      if ((err as { code?: string }).code !== 'ALERT_NATS_JETSTREAM' || Date.now() > deadline) throw err;
      log.warn('the alert stream is not ready yet; retrying', { err: err as Error });
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/** The config's tokens as stored cluster-wide: the SHA-256 only, never the secret. */
function storedToken(t: ApiTokenConfig): ApiTokenConfig {
  return { id: t.id, tokenSha256: t.tokenSha256 ?? createHash('sha256').update(t.token!, 'utf8').digest('hex'), role: t.role, departments: t.departments };
}

async function loadTokens(kv: KV): Promise<ApiTokenConfig[]> {
  // Keys first, then values: reading values inside the keys iterator stalls it after the first.
  return [...(await readAll<ApiTokenConfig>(kv)).values()].map((v) => v.value).sort((a, b) => (a.id < b.id ? -1 : 1));
}

export async function startClusterNode(o: ClusterNodeOptions): Promise<ClusterNode> {
  const { config, log: baseLog } = o;
  const cl = config.cluster;
  if (!cl) throw new ConfigError('CONFIG_MISSING_FIELD', 'cluster: a cluster node needs the cluster section', { detail: { path: 'cluster' } });
  // An empty variable counts as unset (a launcher may clear it for its children).
  const env = (k: string): string | undefined => process.env[k] || undefined;
  const servers = env('NATS_URL') ?? config.nats.url;
  if (!servers) throw new ConfigError('CONFIG_MISSING_FIELD', 'nats.url: a cluster node needs the NATS cluster\'s URLs (or NATS_URL)', { detail: { path: 'nats.url' } });
  const user = env('NATS_USER') ?? config.nats.user;
  const pass = env('NATS_PASS') ?? config.nats.pass;
  const id = config.node;
  const log = baseLog.child({ node: id });
  const roles = new Set(cl.roles);
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  if (roles.has('analytics')) await requireFfmpeg();

  const cleanup: (() => Promise<unknown>)[] = [];
  const unwind = async (): Promise<void> => {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => log.warn('shutdown step failed', { err: err as Error }));
    cleanup.length = 0;
  };
  // Start-up steps wait out what passes by itself (a stream's leader being elected, a server restarting).
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try { return await withRetry(what, fn, { retryForMs: 60_000, maxDelayMs: 2_000 }); } catch (err) { throw clusterErrorOf(err, what, user); }
  };
  try {
    const nc: NatsConnection = await connectCluster({ servers, user, pass, name: `cvcore-${id}`, tls: natsTlsFrom(config.nats.tls) });
    cleanup.push(() => nc.close());
    const js = nc.jetstream({ timeout: 5_000 });
    const jsm: JetStreamManager = await step('reaching JetStream', () => nc.jetstreamManager({ timeout: 5_000 }));
    const R = cl.replicas;
    const bucket = (name: string, extra: { ttlMs?: number; maxBytes?: number } = {}): Promise<KV> =>
      step(`opening key-value bucket ${name}`, () => openBucket(js, name, { replicas: R, ...extra }));
    const meta = await bucket(KV_BUCKETS.meta);
    await step('checking the shard count', () => ensureShardCount(meta, cl.shards));
    const nodesKv = await bucket(KV_BUCKETS.nodes);
    const camerasKv = await bucket(KV_BUCKETS.cameras);
    const leasesKv = await bucket(KV_BUCKETS.leases);
    const instance = await nodeInstance(dataDir);
    const shards = roles.has('index') ? heldShards(cl.shards, cl.indexShards) : [];
    const apiUrl = roles.has('api') ? (cl.advertiseUrl ?? `${config.api.tls ? 'https' : 'http'}://${config.api.host}:${config.api.port}`) : null;

    // The pool's first seeding (once per cluster) comes from whichever api node starts first.
    // Every stream and bucket this node writes to exists now (analytics and api create theirs below first).
    if (roles.has('analytics')) await step('creating the record streams', () => ensureRecordStreams(jsm, { replicas: R, trackDays: config.index.trackDays, faceDays: config.index.faceDays }, log));
    if (roles.has('api')) await step('creating the audit stream', () => ensureAuditStream(jsm, { replicas: R }, log));
    if (roles.has('analytics')) { await bucket(KV_BUCKETS.incidents); await bucket(KV_BUCKETS.snapshots, { ttlMs: SNAPSHOT_TTL_MS, maxBytes: SNAPSHOT_BUCKET_BYTES }); }
    if (roles.has('api')) {
      await bucket(KV_BUCKETS.tokens);
      await bucket(KV_BUCKETS.issuedTokens);
      // An erasure publishes to the erasure stream and rewrites alarm frames: both exist before the probe.
      await bucket(KV_BUCKETS.snapshots, { ttlMs: SNAPSHOT_TTL_MS, maxBytes: SNAPSHOT_BUCKET_BYTES });
      await step('creating the erasure stream', () => ensureErasureStream(jsm, { replicas: R, retentionDays: Math.max(config.index.trackDays, config.index.faceDays) }, log));
    }
    await checkPublishPermissions(js, probeSubjects(cl.roles), user);

    if (roles.has('api')) await step('seeding the camera pool', () => ClusterCameraPool.seed(meta, camerasKv, config.cameras, log));
    const pool = new ClusterCameraPool(camerasKv, log, { schemes: config.ingest.urlSchemes, allowFiles: false });
    await step('reading the camera pool', () => pool.start());
    cleanup.push(async () => pool.stop());

    const membership = await step('joining the cluster', () => Membership.join({
      // Capacity 0 until the pipeline runs (set below), so no camera is handed to a node still loading models.
      kv: nodesKv, id, roles: cl.roles, instance, capacity: 0, shards, apiUrl, ttlMs: cl.leaseTtlMs, renewMs: cl.renewMs, log,
    }));
    cleanup.push(() => membership.leave());

    // ---- index ------------------------------------------------------------------------------------------
    const dataKey = await step('opening the data key', () => openCoreDataKey(config, dataDir, log));
    cleanup.push(() => dataKey.stop());
    let localIndex: SearchIndex | null = null;
    if (roles.has('index') || roles.has('api')) {
      // An api-only node keeps just the materialised audit trail in it.
      // Its audit trail (the materialised copy of the cluster's) is a chain of this node's, signed with its key.
      localIndex = await openIndex({
        dataKey: dataKey.ring, dir: join(dataDir, 'index'), batchSize: config.index.batchSize, flushMs: config.index.flushMs,
        retention: { trackDays: config.index.trackDays, faceDays: config.index.faceDays }, log,
        audit: await auditChainOptions(config, dataDir, log),
      });
      const li = localIndex;
      cleanup.push(() => li.close());
    }
    // Erasures (cluster/erasure.ts) are kept as long as the longest record retention, plus a day.
    const erasureStream = { replicas: R, retentionDays: Math.max(config.index.trackDays, config.index.faceDays) };
    if (roles.has('index')) {
      // The erasures first: their ids are the tombstones the shard consumers must never store again.
      const erasures = await step('starting the erasure consumers', () => ErasureApplier.start(nc, {
        node: id, shards: cl.shards, indexShards: cl.indexShards, index: localIndex!, stream: erasureStream, log,
      }));
      cleanup.push(() => erasures.stop());
      const consumer = await step('starting the shard consumers', () => ShardConsumer.start(nc, {
        node: id, shards: cl.shards, indexShards: cl.indexShards, index: localIndex!, log, skip: (rid) => erasures.isErased(rid),
        streams: { replicas: R, trackDays: config.index.trackDays, faceDays: config.index.faceDays },
      }));
      cleanup.push(() => consumer.stop());
      const service = await step('starting the search service', () => SearchService.start(nc, { shards: cl.shards, indexShards: cl.indexShards, index: localIndex!, log }));
      cleanup.push(() => service.stop());
    }

    // ---- analytics --------------------------------------------------------------------------------------
    let pipeline: Pipeline | null = null;
    let leases: LeaseKeeper | null = null;
    let sink: AlertSink | null = null;
    let publisher: RecordPublisher | null = null;
    if (roles.has('analytics')) {
      const incidentsKv = await bucket(KV_BUCKETS.incidents);
      const snapshotsKv = await bucket(KV_BUCKETS.snapshots, { ttlMs: SNAPSHOT_TTL_MS, maxBytes: SNAPSHOT_BUCKET_BYTES });
      const incidents = new IncidentStore(incidentsKv, id);
      let keeper: LeaseKeeper | null = null;
      sink = await openSinkWithRetry(() => openAlertSink({
        servers, user, pass, tls: natsTlsFrom(config.nats.tls), dataDir: join(dataDir, 'outbox'), node: id, replicas: R, log,
        fence: (cameraId, epoch) => keeper?.epochOf(cameraId) === epoch, crowdSchemas: config.nats.crowdSchemas,
      }), log);
      const s = sink;
      cleanup.push(async () => { await s.drain(3_000); await s.close(); });
      publisher = new RecordPublisher(nc, { shards: cl.shards, log });
      const pub = publisher;
      cleanup.push(async () => pub.close());
      const p = await Pipeline.start({
        config: { ...config, cameras: [] }, index: new StreamRecordSink(publisher), alerts: sink, log,
        incidents: {
          async decide(ev, open) {
            const epoch = keeper?.epochOf(ev.cameraId) ?? null;
            if (epoch === null) return null;
            return (await incidents.record(ev, open, epoch)) ? epoch : null;
          },
        },
        onSnapshot: (sid, jpeg) => { void snapshotsKv.put(sid, jpeg).catch((err: unknown) => log.warn('alarm frame not stored cluster-wide', { err: err as Error })); },
      });
      pipeline = p;
      cleanup.push(() => p.stop());
      // The lease went elsewhere: its incidents stay open for the next owner (a removal closes them before the release).
      const stopCamera = (cameraId: string): void => { if (p.cameras.has(cameraId)) p.cameras.remove(cameraId, 'released'); };
      keeper = new LeaseKeeper({
        kv: leasesKv, membership, node: id, instance, capacity: cl.capacity, ttlMs: cl.leaseTtlMs, renewMs: cl.renewMs, log,
        desired: () => pool.enabledIds(),
        beforeRelease: async (cameraId: string, reason: LeaseLossReason) => {
          // Removed or disabled: the one way an incident ends without dispersing. Otherwise the next owner continues it.
          // The pool still has a camera that is disabled; a removed one it no longer has (the clear's reason, schema v2).
          if (reason === 'removed') await p.closeIncidents(cameraId, pool.get(cameraId)?.enabled === false ? 'camera-disabled' : 'camera-removed');
          stopCamera(cameraId);
          // Decisions under way reach the outbox while the lease is still held, then the outbox empties.
          await p.idle();
          await s.drain(HANDOVER_DRAIN_MS);
        },
      });
      const k = keeper;
      k.onAcquired((cameraId, lease) => {
        const cfg = pool.get(cameraId);
        if (!cfg) return;
        void (async () => {
          const open = await incidents.load(cameraId, cfg.zones.map((z) => z.id)).catch(() => new Map());
          if (k.epochOf(cameraId) !== lease.epoch) return;
          if (!p.cameras.has(cameraId)) p.cameras.add(cfg);
          p.resumeIncidents(cameraId, open);
          if (open.size > 0) log.info('continuing open incidents of a camera taken over', { camera: cameraId, zones: [...open.keys()] });
        })();
      });
      k.onLost((cameraId) => stopCamera(cameraId));
      pool.onChange((cameraId, cfg) => {
        // A changed camera this node holds restarts with its new config (a disabled or removed one is handed
        // back by the next lease round, which clears its incidents first).
        if (cfg && cfg.enabled && k.epochOf(cameraId) !== null && p.cameras.has(cameraId)) p.cameras.update(cameraId, cfg);
      });
      membership.onDrain(() => { void k.tick(); });
      await membership.setCapacity(cl.capacity);
      await step('following the leases', () => k.start());
      cleanup.push(() => k.stop(true));
      // Camera health for api nodes (GET /api/v1/cameras shows the owner's view).
      const healthSub = nc.subscribe(nodeSubject(id, 'health'), {
        callback: (_err, m) => { m.respond(new TextEncoder().encode(JSON.stringify(p.cameras.list().map((v) => v.health)))); },
      });
      cleanup.push(async () => healthSub.unsubscribe());
    }

    // ---- api --------------------------------------------------------------------------------------------
    let api: ApiServer | null = null;
    const leaseView = new LeaseView();
    await step('following the leases', () => leaseView.start(leasesKv));
    cleanup.push(async () => leaseView.stop());
    const status = (): Promise<ClusterStatus> => clusterStatus({
      membership, leases: () => leaseView.entries(), enabledCameras: () => pool.enabledIds(), jsm, shards: cl.shards, replicas: R, ttlMs: cl.leaseTtlMs,
    });
    if (roles.has('api')) {
      const tokensKv = await bucket(KV_BUCKETS.tokens);
      if (config.api.tokens.length > 0) {
        // Seeded once per cluster like the cameras; afterwards the bucket is the truth.
        for (const t of config.api.tokens) await step('seeding the API tokens', () => createJson(tokensKv, t.id, storedToken(t)));
      }
      const tokens = await step('reading the API tokens', () => loadTokens(tokensKv));
      // Tokens issued to people: one bucket for every api node, so one revocation counts everywhere.
      const issuedKv = await bucket(KV_BUCKETS.issuedTokens);
      const tokenStore = await step('following the issued tokens', () => KvTokenStore.open(issuedKv, { log }));
      cleanup.push(() => tokenStore.close());
      const materialiser = await step('materialising the audit trail', () => AuditMaterialiser.start(nc, { node: id, index: localIndex!, log }));
      cleanup.push(() => materialiser.stop());
      const snapshotsKv = await bucket(KV_BUCKETS.snapshots, { ttlMs: SNAPSHOT_TTL_MS, maxBytes: SNAPSHOT_BUCKET_BYTES });
      const index = new ClusterIndex(nc, { node: id, shards: cl.shards, searchTimeoutMs: cl.searchTimeoutMs, audit: localIndex!, erasure: { stream: erasureStream, frames: snapshotsKv }, log });
      const feed = new ClusterFeed(log);
      await step('following alerts and zone counts', () => feed.start(nc, snapshotsKv));
      cleanup.push(async () => feed.stop());
      const registry = new ClusterCameraRegistry(pool, nc, membership, leaseView, config);
      registry.start();
      cleanup.push(() => registry.stop());
      setFaceEmbedderBackend(config.inference.backend);
      cleanup.push(() => closeFaceEmbedder());
      const cluster: ClusterSource = { status, drain: (node) => requestDrain(nodesKv, node) };
      const pl = pipeline;
      api = await startApi({
        host: config.api.host, port: config.api.port, index, cameras: registry, history: feed, events: feed,
        stats: pl, alerts: sink, faces: { embedFaceFromImage }, access: { ...config.api, tokens }, transport: config.api, cluster, cameraUrlSchemes: config.ingest.urlSchemes, log,
        tokenStore, dataKey: dataKey.ring,
      });
      const a = api;
      cleanup.push(() => a.close());
    }
    // Leases are renewed on this thread: a stall long enough to miss renewals is worth a loud line.
    let lastTick = Date.now();
    const stallWatch = setInterval(() => {
      const now = Date.now();
      if (now - lastTick > 1_500) log.warn('event loop stalled: lease renewals were late', { stalledMs: now - lastTick - 250 });
      lastTick = now;
    }, 250);
    stallWatch.unref();
    cleanup.push(async () => clearInterval(stallWatch));
    log.info('cluster node started', { roles: cl.roles, shards, capacity: roles.has('analytics') ? cl.capacity : 0, api: api?.url ?? null });
    let stopped: Promise<void> | null = null;
    return {
      id, config, natsUrl: servers, apiUrl: api?.url ?? null, pipeline, leases, alerts: sink, records: publisher, index: localIndex, dataKey: dataKey.ring,
      status,
      stop: () => (stopped ??= unwind()),
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
