/**
 * `cvcore bench cluster`: what cluster mode costs and how it behaves when a node dies. Three parts, each runnable
 * alone with `--part control|search|failover` (default: all), everything on 127.0.0.1, every process stopped:
 *
 *  - control: a real 3-server NATS cluster (nats-cluster.conf, KV buckets with 3 replicas), C cameras (default
 *    2,000) as the desired set and K LeaseKeepers (default 5), each with its own Membership and NATS
 *    connection, started together. Time until every camera has a live lease (read from the leases bucket by an
 *    observer), spread per node, lease operations/s and renewals/s in steady state; then one keeper crashes
 *    (stops renewing, no release) and the seconds until its cameras are all held by the others.
 *  - search: S = 4 shards over two in-process index replicas fed N records (default 20,000) through
 *    RecordPublisher, against ONE plain local index with the same records (the bare baseline): attribute-query
 *    p50/p99 through ClusterIndex (scatter-gather over NATS) vs `index.query`, and whether both answer the same.
 *  - failover: real node processes (startLocalCluster: 3 nats-servers, node-1 api+index, node-2 and node-3
 *    analytics+index, 2 simulated cameras at 1 fps): SIGKILL the analytics node holding cameras K times (default
 *    3), seconds until its cameras are held elsewhere AND their zone counts flow again, restart it; alerts
 *    duplicated, incidents left open, records lost (streams vs what the API can find).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AckPolicy, connect, DeliverPolicy, type JetStreamClient, type KV, type NatsConnection } from 'nats';
import { createLogger, type Logger } from '../common/log.js';
import { DEFAULTS } from '../config/index.js';
import type { ObjectClass, TrackRecord } from '../common/messages.js';
import {
  ClusterIndex, CLUSTER_USERS, KV_BUCKETS, LeaseKeeper, Membership, RecordPublisher, SearchService, ShardConsumer, STREAMS, demoPassword,
  ensureRecordStreams, follow, openBucket, startNatsCluster, type Lease, type NatsCluster,
} from '../cluster/index.js';
import { openIndex, type Scope, type SearchIndex, type SearchQuery } from '../search-index/index.js';
import { ALERT_STREAM } from '../alerts/index.js';
import { startLocalCluster, DEMO_CAMERA_PREFIX } from '../runtime/index.js';
import { rng } from './index.js';
import { benchDataKey } from './data-key.js';

type Part = 'control' | 'search' | 'failover';
const PARTS: readonly Part[] = ['control', 'search', 'failover'];

interface Options {
  json: boolean;
  parts: Part[];
  cameras: number;
  keepers: number;
  capacity: number;
  ttlMs: number;
  renewMs: number;
  steadyS: number;
  records: number;
  queries: number;
  kills: number;
  threshold: number;
  keep: boolean;
  keeperUser: string;
}

const USAGE = 'usage: bench cluster [--part control|search|failover] [--cameras 2000] [--keepers 5] [--capacity 600] [--ttl-ms 8000] [--renew-ms 2000] '
  + '[--steady-s 10] [--records 20000] [--queries 200] [--kills 3] [--threshold 2] [--keeper-user node|analytics|admin] [--keep] [--json]';

function parse(args: readonly string[]): Options {
  const o: Options = {
    json: false, parts: [...PARTS], cameras: 2_000, keepers: 5, capacity: 600, ttlMs: DEFAULTS.cluster.leaseTtlMs, renewMs: DEFAULTS.cluster.renewMs, steadyS: 10,
    records: 20_000, queries: 200, kills: 3, threshold: 2, keep: false, keeperUser: CLUSTER_USERS.node,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') { o.json = true; continue; }
    if (a === '--keep') { o.keep = true; continue; }
    const v = args[++i];
    if (v === undefined) throw new RangeError(`${a} needs a value; ${USAGE}`);
    if (a === '--keeper-user') {
      if (![CLUSTER_USERS.node, CLUSTER_USERS.analytics, CLUSTER_USERS.admin].includes(v as 'node')) throw new RangeError('--keeper-user must be node, analytics or admin');
      o.keeperUser = v;
      continue;
    }
    if (a === '--part') {
      if (v !== 'all' && !PARTS.includes(v as Part)) throw new RangeError(`--part must be control, search, failover or all; ${USAGE}`);
      o.parts = v === 'all' ? [...PARTS] : [v as Part];
      continue;
    }
    const keys: Record<string, [keyof Options, number, number]> = {
      '--cameras': ['cameras', 1, 100_000], '--keepers': ['keepers', 2, 32], '--capacity': ['capacity', 1, 100_000], '--ttl-ms': ['ttlMs', 1_000, 600_000],
      '--renew-ms': ['renewMs', 100, 60_000], '--steady-s': ['steadyS', 1, 120], '--records': ['records', 100, 1_000_000], '--queries': ['queries', 10, 100_000],
      '--kills': ['kills', 0, 20], '--threshold': ['threshold', 1, 100],
    };
    const k = keys[a];
    if (!k) throw new RangeError(`unknown option ${a}; ${USAGE}`);
    const n = Number(v);
    if (!Number.isInteger(n) || n < k[1] || n > k[2]) throw new RangeError(`${a} must be an integer in ${k[1]}..${k[2]}`);
    (o as unknown as Record<string, number>)[k[0]] = n;
  }
  if (o.renewMs * 3 > o.ttlMs) throw new RangeError(`--renew-ms must be at most a third of --ttl-ms (${o.ttlMs}), as the config requires`);
  return o;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 2): number => (Number.isFinite(x) ? Number(x.toFixed(d)) : x);

function pct(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Polls `pred` every `everyMs` until it is true (returns the elapsed ms) or `timeoutMs` passes (returns null). */
async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<number | null> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await pred()) return Date.now() - t0;
    await sleep(everyMs);
  }
  return null;
}

async function connectAs(url: string, user: string, name: string): Promise<NatsConnection> {
  return connect({ servers: url.split(','), user, pass: demoPassword(user), name, timeout: 5_000, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 2_000, maxPingOut: 2 });
}

/** A new bucket's leader election answers 503 for a moment: retried for up to 30 s. */
async function openBucketRetry(js: JetStreamClient, name: string): Promise<KV> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await openBucket(js, name, { replicas: 3 });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

// ---------------------------------------------------------------------------------------------- control plane

interface ControlResult {
  cameras: number;
  keepers: number;
  capacity: number;
  ttl_ms: number;
  renew_ms: number;
  cameras_assigned_s: number | null;
  cameras_assigned_at_timeout: number;
  per_node_min: number;
  per_node_max: number;
  per_node_at_steady_end: Record<string, number>;
  lease_ops_per_s: number;
  lease_ops_total: number;
  claims: number;
  claim_conflicts: number;
  renewal_failures: number;
  releases: number;
  steady_s: number;
  steady_renewals_per_s: number;
  steady_ops_per_s: number;
  crashed_node: string | null;
  crashed_node_cameras: number;
  control_failover_s: number | null;
  after_failover_per_node: Record<string, number>;
  unheld_after_failover: Record<string, number>;
  keeper_stats: Record<string, unknown>;
  keeper_user: string;
  nats_async_errors: number;
  nats_async_error_samples: string[];
}

async function runControl(o: Options, root: string, say: (m: string) => void): Promise<ControlResult> {
  const dir = join(root, 'control');
  const log = createLogger({ level: (process.env['CVCORE_BENCH_LOG'] as 'info' | undefined) ?? 'error' });
  const cluster = await startNatsCluster({ servers: 3, dir: join(dir, 'nats'), name: 'bench-control' });
  const conns: NatsConnection[] = [];
  const permErrors = { count: 0, first: [] as string[] };
  const keepers: { id: string; keeper: LeaseKeeper; membership: Membership; nc: NatsConnection; crashed: boolean }[] = [];
  let watch: { stop(): void } | null = null;
  try {
    const admin = await connectAs(cluster.url, CLUSTER_USERS.admin, 'bench-observer');
    conns.push(admin);
    const ajs = admin.jetstream({ timeout: 10_000 });
    await openBucketRetry(ajs, KV_BUCKETS.nodes);
    const leasesKv = await openBucketRetry(ajs, KV_BUCKETS.leases);
    // The observer: every lease as the bucket has it (value + server write time).
    const leases = new Map<string, { node: string; written: number }>();
    watch = await follow<Lease>(leasesKv, (key, v) => {
      if (v) leases.set(key, { node: v.value.node, written: v.written }); else leases.delete(key);
    });
    const desired: ReadonlySet<string> = new Set(Array.from({ length: o.cameras }, (_, i) => `cam-${String(i + 1).padStart(5, '0')}`));
    const live = (now = Date.now()): Map<string, string> => {
      const out = new Map<string, string>();
      for (const [id, l] of leases) if (l.node !== '' && now - l.written < o.ttlMs && desired.has(id)) out.set(id, l.node);
      return out;
    };
    const perNode = (m: Map<string, string>): Record<string, number> => {
      const c: Record<string, number> = {};
      for (const k of keepers) if (!k.crashed) c[k.id] = 0;
      for (const n of m.values()) c[n] = (c[n] ?? 0) + 1;
      return c;
    };
    for (let k = 0; k < o.keepers; k++) {
      const id = `node-${k + 1}`;
      const nc = await connectAs(cluster.url, o.keeperUser, `bench-${id}`);
      conns.push(nc);
      // NATS errors the server sends this connection asynchronously (a permissions violation names its subject).
      void (async () => {
        for await (const st of nc.status()) {
          if (st.type !== 'error') continue;
          const m = String((st.data as unknown as { message?: string })?.message ?? st.data);
          permErrors.count++;
          if (permErrors.first.length < 3 && !permErrors.first.includes(m)) permErrors.first.push(m);
        }
      })().catch(() => undefined);
      const js = nc.jetstream({ timeout: 10_000 });
      const nodesKv = await openBucketRetry(js, KV_BUCKETS.nodes);
      const kv = await openBucketRetry(js, KV_BUCKETS.leases);
      const instance = randomUUID();
      const nlog = log.child({ node: id });
      const membership = await Membership.join({ kv: nodesKv, id, roles: ['analytics'], instance, capacity: o.capacity, shards: [], apiUrl: null, ttlMs: o.ttlMs, renewMs: o.renewMs, log: nlog });
      const keeper = new LeaseKeeper({ kv, membership, node: id, instance, capacity: o.capacity, ttlMs: o.ttlMs, renewMs: o.renewMs, desired: () => desired, log: nlog });
      keepers.push({ id, keeper, membership, nc, crashed: false });
    }
    // Every membership sees every other before the keepers start, so the first round already knows N.
    await waitFor(() => keepers.every((k) => k.membership.analyticsNodes().length === o.keepers), 15_000);
    say(`control: ${o.cameras} cameras, ${o.keepers} keepers (capacity ${o.capacity}, ttl ${o.ttlMs} ms, renew ${o.renewMs} ms), 3 nats-servers, R3 buckets`);
    const t0 = performance.now();
    await Promise.all(keepers.map((k) => k.keeper.start()));
    const assignedMs = await waitFor(() => live().size === o.cameras, 120_000, 50);
    const assigned = assignedMs === null ? null : (performance.now() - t0) / 1000;
    const atAssigned = perNode(live());
    const counts = Object.values(atAssigned);
    say(`  all ${o.cameras} cameras leased after ${assigned === null ? 'TIMEOUT' : `${assigned.toFixed(2)} s`}; per node min ${Math.min(...counts)} max ${Math.max(...counts)}`);
    // Steady state: renewals only (and any rebalancing that is still going on).
    const sum = (f: (s: ReturnType<LeaseKeeper['stats']>) => number): number => keepers.reduce((a, k) => a + f(k.keeper.stats()), 0);
    const r0 = sum((s) => s.renewals);
    const op0 = sum((s) => s.operations);
    const s0 = performance.now();
    await sleep(o.steadyS * 1000);
    const steadySecs = (performance.now() - s0) / 1000;
    const steadyRenewals = (sum((s) => s.renewals) - r0) / steadySecs;
    const steadyOps = (sum((s) => s.operations) - op0) / steadySecs;
    const opsTotal = sum((s) => s.operations);
    const runSecs = (performance.now() - t0) / 1000;
    const steadyEnd = perNode(live());
    say(`  steady state over ${steadySecs.toFixed(1)} s: ${steadyRenewals.toFixed(0)} renewals/s, ${steadyOps.toFixed(0)} KV writes/s; whole run ${(opsTotal / runSecs).toFixed(0)} ops/s`);

    // A crash: the keeper with the most cameras stops renewing without handing anything back, its membership
    // entry goes stale with it (Membership only stops its timer through leave(), which deletes the entry as a
    // clean stop would, so its NATS connection is closed instead: renewals fail as they would for a dead node).
    const victim = [...keepers].sort((a, b) => b.keeper.held().length - a.keeper.held().length)[0]!;
    const lost = victim.keeper.held();
    await victim.keeper.stop(false);
    await victim.nc.close();
    victim.crashed = true;
    const tc = performance.now();
    const failMs = await waitFor(() => {
      const m = live();
      return lost.every((id) => { const n = m.get(id); return n !== undefined && n !== victim.id; });
    }, 3 * o.ttlMs + 60_000, 50);
    const failover = failMs === null ? null : (performance.now() - tc) / 1000;
    const after = perNode(live());
    // What is left unheld, and why (as the observer sees the bucket), and what each keeper thinks.
    const nowU = Date.now();
    const unheld = { free: 0, stale_by_crashed: 0, stale_by_live: 0, missing: 0 };
    for (const id of desired) {
      const l = leases.get(id);
      if (!l) unheld.missing++;
      else if (l.node === '') unheld.free++;
      else if (nowU - l.written >= o.ttlMs) { if (l.node === victim.id) unheld.stale_by_crashed++; else unheld.stale_by_live++; }
    }
    const keeperStats = Object.fromEntries(keepers.map((k) => [k.id, { ...k.keeper.stats(), crashed: k.crashed, views_live: k.keeper.view().filter((v) => !v.stale).length, analytics_nodes_seen: k.membership.analyticsNodes().length }]));
    say(`  ${victim.id} crashed holding ${lost.length} cameras: all re-held by the others after ${failover === null ? 'TIMEOUT' : `${failover.toFixed(2)} s`} (${JSON.stringify(after)})`);
    return {
      cameras: o.cameras, keepers: o.keepers, capacity: o.capacity, ttl_ms: o.ttlMs, renew_ms: o.renewMs,
      cameras_assigned_s: assigned === null ? null : round(assigned, 3),
      cameras_assigned_at_timeout: assigned === null ? live().size : o.cameras,
      per_node_min: Math.min(...counts), per_node_max: Math.max(...counts), per_node_at_steady_end: steadyEnd,
      lease_ops_per_s: Math.round(opsTotal / runSecs), lease_ops_total: opsTotal,
      claims: sum((s) => s.claims), claim_conflicts: sum((s) => s.claimConflicts), renewal_failures: sum((s) => s.renewalFailures), releases: sum((s) => s.releases),
      steady_s: round(steadySecs, 1), steady_renewals_per_s: Math.round(steadyRenewals), steady_ops_per_s: Math.round(steadyOps),
      crashed_node: victim.id, crashed_node_cameras: lost.length, control_failover_s: failover === null ? null : round(failover, 3), after_failover_per_node: after,
      unheld_after_failover: unheld, keeper_stats: keeperStats, keeper_user: o.keeperUser, nats_async_errors: permErrors.count, nats_async_error_samples: permErrors.first,
    };
  } finally {
    for (const k of keepers) {
      if (!k.crashed) await k.keeper.stop(false).catch(() => undefined);
      await k.membership.leave().catch(() => undefined);
    }
    watch?.stop();
    for (const c of conns) await c.close().catch(() => undefined);
    await cluster.stop();
  }
}

// ------------------------------------------------------------------------------------------------------ search

const S = 4;
const CLASSES: ObjectClass[] = ['car', 'car', 'car', 'person', 'person', 'bus', 'truck', 'motorcycle', 'bicycle'];
const COLOURS = ['white', 'black', 'grey', 'silver', 'red', 'blue', 'green', 'yellow', 'brown', 'orange'];
const AGE_BANDS = ['0-17', '18-30', '31-45', '46-60', '60+'];
const DEPARTMENTS = ['police', 'traffic', 'housing', 'service', 'transport'];
const CAMERAS = 200;
const SPAN_MS = 7 * 86_400_000;
const DIMS = 1024;


/** Records as `bench index` draws them: 7 days, 200 cameras in 5 departments, street-scene classes and attributes, JPEG-sized thumbnails, 10 % faces. */
function makeRecords(n: number, t0: number): TrackRecord[] {
  const rand = rng(42);
  const gauss = (): number => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const identities = Array.from({ length: Math.max(1, Math.round(n / 100)) }, () => Float32Array.from({ length: DIMS }, gauss));
  const pool = Buffer.alloc(1 << 20);
  for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(rand() * 256);
  const out: TrackRecord[] = [];
  for (let i = 0; i < n; i++) {
    const isFace = i % 10 === 0;
    const cls = isFace ? 'person' : CLASSES[Math.floor(rand() * CLASSES.length)]!;
    const cam = Math.floor(rand() * CAMERAS);
    const start = t0 + Math.floor(rand() * SPAN_MS);
    const attributes: Record<string, string | number> = cls === 'person'
      ? { gender: rand() < 0.5 ? 'male' : 'female', ageBand: AGE_BANDS[Math.floor(rand() * AGE_BANDS.length)]!, colour: COLOURS[Math.floor(rand() * COLOURS.length)]! }
      : { colour: COLOURS[Math.floor(rand() * COLOURS.length)]!, vehicleType: cls };
    let embedding: Float32Array | null = null;
    if (isFace) {
      const c = identities[Math.floor(rand() * identities.length)]!;
      embedding = new Float32Array(DIMS);
      let s = 0;
      for (let j = 0; j < DIMS; j++) { const x = c[j]! + 0.7 * gauss(); embedding[j] = x; s += x * x; }
      const nn = Math.sqrt(s) || 1;
      for (let j = 0; j < DIMS; j++) embedding[j] = embedding[j]! / nn;
      attributes['faceQuality'] = 0.8;
    }
    const tlen = 1200 + Math.floor(rand() * 800);
    const off = Math.floor(rand() * (pool.length - tlen));
    out.push({
      id: `cam-${cam}:${i}:${start}`, cameraId: `cam-${cam}`, department: DEPARTMENTS[cam % DEPARTMENTS.length]!, district: `d${cam % 12}`,
      cls, start, end: start + 2000 + Math.floor(rand() * 30_000), hits: 20, score: 0.8,
      box: { x: 100, y: 100, w: 80, h: 160 }, attributes, thumbnail: pool.subarray(off, off + tlen), embedding,
    });
  }
  return out;
}

/** The same fixed mix of investigator queries for both sides (limit 50, half under a department scope). */
function queryMix(count: number, t0: number): Array<[SearchQuery, Scope]> {
  const q = rng(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(q() * xs.length)]!;
  const out: Array<[SearchQuery, Scope]> = [];
  for (let i = 0; i < count; i++) {
    const from = t0 + Math.floor(q() * (SPAN_MS - 3_600_000));
    const shapes: SearchQuery[] = [
      { attributes: { colour: pick(COLOURS) }, classes: ['car'], from, to: from + 3_600_000 },
      { cameraIds: [`cam-${Math.floor(q() * CAMERAS)}`], from, to: from + 3 * 3_600_000 },
      { classes: ['person'], attributes: { gender: pick(['male', 'female']), ageBand: pick(AGE_BANDS) } },
      { attributes: { colour: 'red', vehicleType: 'bus' } },
      { cameraIds: Array.from({ length: 10 }, () => `cam-${Math.floor(q() * CAMERAS)}`), classes: ['truck', 'bus'] },
      { from, to: from + 6 * 3_600_000 },
    ];
    out.push([{ ...shapes[i % shapes.length]!, limit: 50 }, i % 2 === 0 ? 'all' : { departments: [pick(DEPARTMENTS)] }]);
  }
  return out;
}

interface SearchResult {
  shards: number;
  replicas: number;
  records: number;
  queries: number;
  publish_s: number;
  publish_per_s: number;
  indexed_s: number | null;
  search_p50_ms: number;
  search_p99_ms: number;
  single_node_search_p50_ms: number;
  single_node_search_p99_ms: number;
  search_ratio_p50: number;
  search_ratio_p99: number;
  queries_same_answer: number;
  queries_missing_shards: number;
}

async function runSearch(o: Options, root: string, say: (m: string) => void): Promise<SearchResult> {
  const dir = join(root, 'search');
  const log = createLogger({ level: 'error' });
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const cluster: NatsCluster = await startNatsCluster({ servers: 3, dir: join(dir, 'nats'), name: 'bench-search' });
    cleanups.unshift(() => cluster.stop());
    const t0 = Date.UTC(2026, 0, 1);
    const records = makeRecords(o.records, t0);
    const faces = records.filter((r) => r.embedding).length;
    say(`search: ${o.records} records (${faces} with a face), S=${S} shards x 2 index replicas in-process, vs one local index`);
    // The bare baseline: one plain local index with every record.
    const single = await openIndex({ dataKey: benchDataKey(),  dir: join(dir, 'single'), dimensions: DIMS, batchSize: 512, flushMs: 20, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
    cleanups.unshift(() => single.close());
    for (const r of records) await single.put(r);
    await single.settle();

    const pubNc = await connectAs(cluster.url, CLUSTER_USERS.analytics, 'bench-publisher');
    cleanups.unshift(() => pubNc.close());
    const streams = { replicas: 3, trackDays: 30, faceDays: 7 };
    for (let attempt = 0; ; attempt++) {
      try { await ensureRecordStreams(await pubNc.jetstreamManager(), streams, log); break; } catch (err) { if (attempt > 30) throw err; await sleep(500); }
    }
    const publisher = new RecordPublisher(pubNc, { shards: S });
    const replicas: { index: SearchIndex; consumer: ShardConsumer; service: SearchService; nc: NatsConnection }[] = [];
    cleanups.unshift(async () => {
      for (const n of replicas) {
        await n.service.stop().catch(() => undefined);
        await n.consumer.stop().catch(() => undefined);
        await n.nc.close().catch(() => undefined);
        await n.index.close().catch(() => undefined);
      }
    });
    for (const name of ['index-a', 'index-b']) {
      const index = await openIndex({ dataKey: benchDataKey(),  dir: join(dir, name), dimensions: DIMS, batchSize: 256, flushMs: 20, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
      const nc = await connectAs(cluster.url, CLUSTER_USERS.index, `bench-${name}`);
      const all = Array.from({ length: S }, (_, i) => i);
      const consumer = await ShardConsumer.start(nc, { node: name, shards: S, indexShards: all, index, streams });
      const service = await SearchService.start(nc, { shards: S, indexShards: all, index });
      replicas.push({ index, consumer, service, nc });
    }
    const apiNc = await connectAs(cluster.url, CLUSTER_USERS.api, 'bench-api');
    cleanups.unshift(() => apiNc.close());
    const audit = await openIndex({ dataKey: benchDataKey(),  dir: join(dir, 'api-audit'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
    cleanups.unshift(() => audit.close());
    const api = new ClusterIndex(apiNc, { node: 'bench-api', shards: S, searchTimeoutMs: 3_000, audit });
    cleanups.unshift(async () => api.close());

    const p0 = performance.now();
    const WINDOW = 128;
    for (let i = 0; i < records.length; i += WINDOW) await Promise.all(records.slice(i, i + WINDOW).map((r) => publisher.publish(r)));
    const publishSecs = (performance.now() - p0) / 1000;
    say(`  published ${records.length} records in ${publishSecs.toFixed(1)} s (${Math.round(records.length / publishSecs)}/s, acked by 3 replicas)`);
    const idxMs = await waitFor(() => replicas.every((r) => r.index.stats().records >= records.length), 300_000, 200);
    const indexedSecs = idxMs === null ? null : (performance.now() - p0) / 1000;
    for (const r of replicas) await r.index.settle();
    say(`  both replicas hold every record ${indexedSecs === null ? 'NOT within 300 s' : `${indexedSecs.toFixed(1)} s after the first publish`}`);

    const mix = queryMix(o.queries, t0);
    // Warm-up (connections, caches) on both sides, not measured.
    for (const [q, scope] of mix.slice(0, 10)) { await api.query(q, scope); await single.query(q, scope); }
    const cl: number[] = [];
    const sl: number[] = [];
    let same = 0;
    let missing = 0;
    for (const [q, scope] of mix) {
      const a0 = performance.now();
      const got = await api.query(q, scope);
      cl.push(performance.now() - a0);
      const b0 = performance.now();
      const want = await single.query(q, scope);
      sl.push(performance.now() - b0);
      if (got.missingShards && got.missingShards.length > 0) missing++;
      if (got.records.length === want.records.length && got.records.every((r, i) => r.id === want.records[i]!.id)) same++;
    }
    const res: SearchResult = {
      shards: S, replicas: 2, records: records.length, queries: mix.length,
      publish_s: round(publishSecs, 2), publish_per_s: Math.round(records.length / publishSecs), indexed_s: indexedSecs === null ? null : round(indexedSecs, 2),
      search_p50_ms: round(pct(cl, 50)), search_p99_ms: round(pct(cl, 99)),
      single_node_search_p50_ms: round(pct(sl, 50)), single_node_search_p99_ms: round(pct(sl, 99)),
      search_ratio_p50: round(pct(cl, 50) / pct(sl, 50)), search_ratio_p99: round(pct(cl, 99) / pct(sl, 99)),
      queries_same_answer: same, queries_missing_shards: missing,
    };
    say(`  attribute queries (${mix.length}, limit 50): cluster p50 ${res.search_p50_ms} ms p99 ${res.search_p99_ms} ms; single index p50 ${res.single_node_search_p50_ms} ms p99 ${res.single_node_search_p99_ms} ms; ratio p99 ${res.search_ratio_p99}; same answer ${same}/${mix.length}`);
    return res;
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------- failover

interface ApiLease { cameraId: string; node: string; stale: boolean }
interface ApiStatus { leases: ApiLease[]; nodes: { id: string; alive: boolean; cameras: string[] }[]; unassigned: string[] }
interface SeenAlert { messageId: string; id: string; phase: string; node: string; camera: string; zone: string; at: number; publishedAt: number | null; received: number; count: number }
interface KillRow { kill: number; node: string; cameras: string[]; failover_s: number | null; lease_moved_s: number | null; rejoined_s: number | null; cameras_after_rejoin: number }

interface FailoverResult {
  servers: number;
  nodes: string[];
  cameras: number;
  fps: number;
  threshold: number;
  ttl_ms: number;
  renew_ms: number;
  kills_requested: number;
  kills: KillRow[];
  failover_s_p50: number | null;
  failover_s_max: number | null;
  alerts_received: number;
  alerts_raised: number;
  alerts_duplicated: number;
  alerts_duplicate_message_ids: number;
  alerts_double_raised_incidents: number;
  incidents_open_at_kill: number;
  incidents_continued: number;
  alerts_left_open: number;
  alerts_left_open_definition: string;
  decision_to_publish_ms_p50: number | null;
  decision_to_publish_ms_p99: number | null;
  records_in_streams: number | null;
  records_searchable: number | null;
  records_lost: number | null;
  records_lost_definition: string;
  logs: string | null;
  status_source: 'api' | 'kv' | null;
  records_counted_via: string | null;
  api_refused: string | null;
  error?: string;
}

async function runFailover(o: Options, root: string, say: (m: string) => void): Promise<FailoverResult> {
  const dir = join(root, 'failover');
  const fps = 1;
  const res: FailoverResult = {
    servers: 3, nodes: ['node-1 api+index', 'node-2 analytics+index', 'node-3 analytics+index'], cameras: 2, fps, threshold: o.threshold,
    ttl_ms: o.ttlMs, renew_ms: o.renewMs, kills_requested: o.kills, kills: [], failover_s_p50: null, failover_s_max: null,
    alerts_received: 0, alerts_raised: 0, alerts_duplicated: 0, alerts_duplicate_message_ids: 0, alerts_double_raised_incidents: 0,
    incidents_open_at_kill: 0, incidents_continued: 0, alerts_left_open: 0,
    alerts_left_open_definition: 'incidents open at a kill (raised or updated by the killed node, not cleared before the kill) that no other node continued '
      + '(no later alert with the same incident id from another node by the end of the run) while the zone count stayed at or above the threshold '
      + '(median of the zone counts published in the 30 s after the failover)',
    decision_to_publish_ms_p50: null, decision_to_publish_ms_p99: null,
    records_in_streams: null, records_searchable: null, records_lost: null,
    records_lost_definition: 'messages in CVCORE_TRACKS + CVCORE_FACES (unique record ids, JetStream de-duplicates republishes) minus records the api '
      + 'node finds through GET /api/v1/search (paged, limit 500), after the analytics nodes stopped cleanly and the consumers caught up',
    logs: null, status_source: null, records_counted_via: null, api_refused: null,
  };
  const log: Logger = createLogger({ level: 'error' });
  const cluster = await startLocalCluster({
    dir, servers: 3, cameras: 2, fps, threshold: o.threshold, capacity: 2, leaseTtlMs: o.ttlMs, renewMs: o.renewMs,
    nodes: [{ id: 'node-1', roles: ['api', 'index'] }, { id: 'node-2', roles: ['analytics', 'index'] }, { id: 'node-3', roles: ['analytics', 'index'] }],
    extra: { inference: { workers: 1 } }, log,
  });
  res.logs = dir;
  let admin: NatsConnection | null = null;
  let alertsIter: { stop(): void } | null = null;
  let leaseWatch: { stop(): void } | null = null;
  let searchApi: ClusterIndex | null = null;
  let searchAudit: SearchIndex | null = null;
  try {
    const apiUrl = cluster.node('node-1').apiUrl!;
    const auth = { authorization: 'Bearer demo-admin' };
    admin = await connectAs(cluster.nats.url, CLUSTER_USERS.admin, 'bench-failover-observer');
    // Leases: from node-1's API while it accepts demo-admin; else straight from KV CVCORE_LEASES (same data).
    const leaseKv = await openBucketRetry(admin.jetstream({ timeout: 10_000 }), KV_BUCKETS.leases);
    const kvLeases = new Map<string, { node: string; written: number }>();
    leaseWatch = await follow<Lease>(leaseKv, (key, v) => { if (v) kvLeases.set(key, { node: v.value.node, written: v.written }); else kvLeases.delete(key); });
    const status = async (): Promise<ApiStatus | null> => {
      if (res.status_source !== 'kv') {
        try {
          const r = await fetch(`${apiUrl}/api/v1/cluster`, { headers: auth, signal: AbortSignal.timeout(5_000) });
          if (r.ok) { res.status_source = 'api'; return (await r.json()) as ApiStatus; }
          if (r.status === 401) { res.status_source = 'kv'; res.api_refused = `GET /api/v1/cluster answered 401: ${await r.text()}`; }
        } catch { /* fall through */ }
      }
      const now = Date.now();
      return { nodes: [], unassigned: [], leases: [...kvLeases].map(([cameraId, l]) => ({ cameraId, node: l.node, stale: l.node === '' || now - l.written >= o.ttlMs })) };
    };
    // Zone counts: per camera, (arrival, capture time, count).
    const zone = new Map<string, { received: number; at: number; count: number }[]>();
    const zsub = admin.subscribe('citybrain.events.zone_count.>');
    void (async () => {
      for await (const m of zsub) {
        try {
          const c = m.json<{ cameraId: string; count: number; at: number }>();
          const arr = zone.get(c.cameraId) ?? [];
          arr.push({ received: Date.now(), at: c.at, count: c.count });
          zone.set(c.cameraId, arr);
        } catch { /* not a zone count */ }
      }
    })();
    const cams = Array.from({ length: 2 }, (_, i) => `${DEMO_CAMERA_PREFIX}${i + 1}`);
    const flowing = (cam: string, since: number): boolean => (zone.get(cam) ?? []).some((z) => z.at > since);
    say(`failover: 3 nats-servers, node-1 api+index, node-2/3 analytics+index (capacity 2), cameras ${cams.join(', ')} at ${fps} fps, threshold ${o.threshold}; logs in ${dir}`);

    // Start-up: both cameras leased and their zone counts flowing.
    const upMs = await waitFor(async () => {
      const s = await status();
      return s !== null && cams.every((c) => s.leases.some((l) => l.cameraId === c && !l.stale && l.node !== '')) && cams.every((c) => flowing(c, 0));
    }, 240_000, 500);
    if (upMs === null) throw new Error(`the local cluster did not analyse both cameras within 240 s (see ${dir}/node-*.log)`);
    say(`  both cameras analysed ${(upMs / 1000).toFixed(1)} s after the nodes started`);

    // Alerts: a durable consumer of the alert stream from its start (the stream exists once a node's sink opened it).
    const jsm = await admin.jetstreamManager();
    await waitFor(async () => { try { await jsm.streams.info(ALERT_STREAM); return true; } catch { return false; } }, 60_000, 500);
    await jsm.consumers.add(ALERT_STREAM, { durable_name: 'bench-cluster', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: 'citybrain.alerts.>' });
    const alerts: SeenAlert[] = [];
    const consumer = await admin.jetstream().consumers.get(ALERT_STREAM, 'bench-cluster');
    const messages = await consumer.consume({ max_messages: 256 });
    alertsIter = { stop: () => { void messages.close().catch(() => undefined); } };
    void (async () => {
      for await (const m of messages) {
        try {
          const a = m.json<SeenAlert>();
          alerts.push({ messageId: a.messageId, id: a.id, phase: a.phase, node: a.node, camera: a.camera, zone: a.zone, at: a.at, publishedAt: a.publishedAt, count: a.count, received: Date.now() });
        } catch { /* not an alert */ }
        m.ack();
      }
    })().catch(() => undefined);

    const kills: { node: string; at: number; failedOverAt: number | null }[] = [];
    for (let k = 1; k <= o.kills; k++) {
      const s = await status();
      const held = new Map<string, string[]>();
      for (const l of s?.leases ?? []) if (!l.stale && l.node !== '') held.set(l.node, [...(held.get(l.node) ?? []), l.cameraId]);
      const victimId = ['node-2', 'node-3'].sort((a, b) => (held.get(b)?.length ?? 0) - (held.get(a)?.length ?? 0))[0]!;
      const victimCams = held.get(victimId) ?? [];
      if (victimCams.length === 0) { say(`  kill ${k}: no analytics node holds a camera; stopping the kills`); break; }
      const victim = cluster.node(victimId);
      const tKill = Date.now();
      await victim.kill();
      let leaseMovedAt: number | null = null;
      const doneMs = await waitFor(async () => {
        const st = await status();
        const moved = st !== null && victimCams.every((c) => st.leases.some((l) => l.cameraId === c && !l.stale && l.node !== '' && l.node !== victimId));
        if (moved && leaseMovedAt === null) leaseMovedAt = Date.now();
        return moved && victimCams.every((c) => flowing(c, tKill));
      }, 3 * o.ttlMs + 90_000, 250);
      // The moment counts flowed again: the arrival of the first zone count captured after the kill.
      let failedOverAt: number | null = null;
      if (doneMs !== null) {
        failedOverAt = Math.max(leaseMovedAt ?? tKill, ...victimCams.map((c) => (zone.get(c) ?? []).find((z) => z.at > tKill)?.received ?? Date.now()));
      }
      kills.push({ node: victimId, at: tKill, failedOverAt });
      const row: KillRow = {
        kill: k, node: victimId, cameras: victimCams, failover_s: failedOverAt === null ? null : round((failedOverAt - tKill) / 1000),
        lease_moved_s: leaseMovedAt === null ? null : round((leaseMovedAt - tKill) / 1000), rejoined_s: null, cameras_after_rejoin: 0,
      };
      say(`  kill ${k}: SIGKILL ${victimId} holding ${victimCams.join(', ')}: leases moved after ${row.lease_moved_s ?? 'TIMEOUT'} s, counts flowing again after ${row.failover_s ?? 'TIMEOUT'} s`);
      // Back again: it registers and takes its fair share (1 of the 2 cameras) again.
      const tStart = Date.now();
      await victim.start();
      const backMs = await waitFor(async () => {
        const st = await status();
        const mine = st?.leases.filter((l) => l.node === victimId && !l.stale) ?? [];
        return mine.length >= 1 && mine.every((l) => flowing(l.cameraId, tStart)) && cams.every((c) => flowing(c, tStart));
      }, 180_000, 500);
      const after = (await status())?.leases.filter((l) => l.node === victimId && !l.stale).length ?? 0;
      row.rejoined_s = backMs === null ? null : round(backMs / 1000);
      row.cameras_after_rejoin = after;
      res.kills.push(row);
      say(`          ${victimId} restarted: holds ${after} camera(s) with counts flowing after ${row.rejoined_s ?? 'TIMEOUT (180 s)'} s`);
    }
    const fo = res.kills.map((r) => r.failover_s).filter((x): x is number => x !== null);
    res.failover_s_p50 = fo.length ? round(pct(fo, 50)) : null;
    res.failover_s_max = fo.length ? round(Math.max(...fo)) : null;

    // Let the last owners decide (updates, clears) for a while after the last kill.
    await sleep(15_000);

    // Records: stop the analytics nodes cleanly (tracks end into records, the outbox drains), then compare.
    await Promise.all(['node-2', 'node-3'].map((id) => cluster.node(id).stop()));
    const streamCount = async (): Promise<number> => {
      let n = 0;
      for (const s of [STREAMS.tracks, STREAMS.faces]) n += (await jsm.streams.info(s)).state.messages;
      return n;
    };
    const viaApi = async (): Promise<number | null> => {
      let n = 0;
      let cursor: string | null = null;
      for (let page = 0; page < 1000; page++) {
        const r = await fetch(`${apiUrl}/api/v1/search?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: auth, signal: AbortSignal.timeout(10_000) });
        if (!r.ok) return null;
        const body = (await r.json()) as { records: unknown[]; nextCursor: string | null };
        n += body.records.length;
        cursor = body.nextCursor;
        if (!cursor) return n;
      }
      return n;
    };
    // The API first; when it refuses demo-admin, an in-process ClusterIndex over the admin connection asks the
    // same index nodes the same way (scatter-gather, scope all).
    const viaCluster = async (): Promise<number> => {
      if (!searchApi) {
        searchAudit = await openIndex({ dataKey: benchDataKey(),  dir: join(dir, 'bench-audit'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
        searchApi = new ClusterIndex(admin!, { node: 'bench', shards: 4, searchTimeoutMs: 5_000, audit: searchAudit });
      }
      let n = 0;
      let cursor: string | undefined;
      for (let page = 0; page < 1000; page++) {
        const p = await searchApi.query(cursor === undefined ? { limit: 500 } : { limit: 500, cursor }, 'all');
        n += p.records.length;
        cursor = p.nextCursor ?? undefined;
        if (cursor === undefined) break;
      }
      return n;
    };
    const searchable = async (): Promise<number | null> => {
      const a = await viaApi().catch(() => null);
      if (a !== null) { res.records_counted_via = 'GET /api/v1/search (demo-admin)'; return a; }
      res.records_counted_via = 'in-process ClusterIndex (admin NATS user): the API refused demo-admin';
      return viaCluster();
    };
    try {
      const inStreams = await streamCount();
      let found: number | null = null;
      let last = -1;
      await waitFor(async () => {
        found = await searchable().catch(() => null);
        const ok = found !== null && (found >= inStreams || found === last);
        last = found ?? -1;
        return ok;
      }, 60_000, 3_000);
      res.records_in_streams = inStreams;
      res.records_searchable = found;
      res.records_lost = found === null ? null : Math.max(0, inStreams - found);
      say(`  records: ${inStreams} in the streams, ${found ?? '?'} searchable through node-1 -> lost ${res.records_lost ?? '?'}`);
    } catch (err) {
      say(`  records: could not compare (${(err as Error).message})`);
    }

    // Alerts.
    await sleep(2_000);
    res.alerts_received = alerts.length;
    const byMsg = new Map<string, number>();
    for (const a of alerts) byMsg.set(a.messageId, (byMsg.get(a.messageId) ?? 0) + 1);
    res.alerts_duplicate_message_ids = [...byMsg.values()].filter((c) => c > 1).length;
    const raised = new Map<string, number>();
    for (const a of alerts) if (a.phase === 'raised') raised.set(a.id, (raised.get(a.id) ?? 0) + 1);
    res.alerts_raised = [...raised.values()].reduce((x, y) => x + y, 0);
    res.alerts_double_raised_incidents = [...raised.values()].filter((c) => c > 1).length;
    res.alerts_duplicated = res.alerts_duplicate_message_ids + res.alerts_double_raised_incidents;
    const windows = alerts.filter((a) => a.publishedAt !== null).map((a) => a.publishedAt! - a.at);
    res.decision_to_publish_ms_p50 = windows.length ? pct(windows, 50) : null;
    res.decision_to_publish_ms_p99 = windows.length ? pct(windows, 99) : null;
    for (const kill of kills) {
      const before = alerts.filter((a) => a.received <= kill.at + 500 && a.at < kill.at);
      const lastById = new Map<string, SeenAlert>();
      for (const a of before) lastById.set(a.id, a);
      for (const [id, a] of lastById) {
        if (a.node !== kill.node || a.phase === 'cleared') continue;
        res.incidents_open_at_kill++;
        const continued = alerts.some((x) => x.id === id && x.node !== kill.node && x.at >= kill.at);
        if (continued) { res.incidents_continued++; continue; }
        const from = kill.failedOverAt ?? kill.at;
        const counts = (zone.get(a.camera) ?? []).filter((z) => z.received >= from && z.received < from + 30_000).map((z) => z.count);
        if (counts.length > 0 && pct(counts, 50) >= o.threshold) res.alerts_left_open++;
      }
    }
    say(`  alerts: ${alerts.length} received (${res.alerts_raised} raised), duplicated ${res.alerts_duplicated} (same messageId ${res.alerts_duplicate_message_ids}, incidents raised twice ${res.alerts_double_raised_incidents}); `
      + `open at a kill ${res.incidents_open_at_kill}, continued by the next owner ${res.incidents_continued}, left open ${res.alerts_left_open}; decision->publish p50 ${res.decision_to_publish_ms_p50 ?? '-'} ms p99 ${res.decision_to_publish_ms_p99 ?? '-'} ms`);
    zsub.unsubscribe();
    return res;
  } catch (err) {
    res.error = (err as Error).message;
    say(`  failover part failed: ${res.error}`);
    return res;
  } finally {
    alertsIter?.stop();
    leaseWatch?.stop();
    (searchApi as ClusterIndex | null)?.close();
    await (searchAudit as SearchIndex | null)?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await cluster.stop();
  }
}

// -------------------------------------------------------------------------------------------------------- main

export async function benchCluster(args: string[]): Promise<number> {
  let o: Options;
  try {
    o = parse(args);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const say = (m: string): void => { if (!o.json) process.stdout.write(m + '\n'); else process.stderr.write(m + '\n'); };
  const root = await mkdtemp(join(tmpdir(), 'cvcore-bench-cluster-'));
  const out: Record<string, unknown> = { bench: 'cluster', cpus: cpus().length, parts: o.parts };
  let failed = false;
  const t0 = performance.now();
  try {
    if (o.parts.includes('control')) {
      try {
        const c = await runControl(o, root, say);
        out['control'] = c;
        Object.assign(out, { cameras_assigned_s: c.cameras_assigned_s, lease_ops_per_s: c.lease_ops_per_s, steady_renewals_per_s: c.steady_renewals_per_s, control_failover_s: c.control_failover_s });
      } catch (err) { failed = true; out['control'] = { error: (err as Error).message }; say(`control part failed: ${(err as Error).message}`); }
    }
    if (o.parts.includes('search')) {
      try {
        const s = await runSearch(o, root, say);
        out['search'] = s;
        Object.assign(out, {
          search_p50_ms: s.search_p50_ms, search_p99_ms: s.search_p99_ms, single_node_search_p50_ms: s.single_node_search_p50_ms,
          single_node_search_p99_ms: s.single_node_search_p99_ms, search_ratio_p99: s.search_ratio_p99,
        });
      } catch (err) { failed = true; out['search'] = { error: (err as Error).message }; say(`search part failed: ${(err as Error).message}`); }
    }
    if (o.parts.includes('failover')) {
      try {
        const f = await runFailover(o, root, say);
        out['failover'] = f;
        if (f.error) failed = true;
        Object.assign(out, {
          failover_s_p50: f.failover_s_p50, failover_s_max: f.failover_s_max, records_lost: f.records_lost, alerts_duplicated: f.alerts_duplicated, alerts_left_open: f.alerts_left_open,
        });
      } catch (err) { failed = true; out['failover'] = { error: (err as Error).message }; say(`failover part failed: ${(err as Error).message}`); }
    }
    out['wall_s'] = round((performance.now() - t0) / 1000, 1);
    out['parameters'] = {
      cameras: o.cameras, keepers: o.keepers, capacity: o.capacity, ttl_ms: o.ttlMs, renew_ms: o.renewMs, steady_s: o.steadyS,
      records: o.records, queries: o.queries, shards: S, kills: o.kills, threshold: o.threshold, keeper_user: o.keeperUser,
    };
    if (o.json) process.stdout.write(JSON.stringify(out) + '\n');
    else say(`done in ${String(out['wall_s'])} s${o.keep ? `; data kept in ${root}` : ''}`);
    return failed ? 1 : 0;
  } finally {
    if (!o.keep) await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => undefined);
    else process.stderr.write(`bench cluster: data kept in ${root}\n`);
  }
}
