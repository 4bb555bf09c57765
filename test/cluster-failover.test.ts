/**
 * Cluster mode against real components: a 3-server NATS cluster, three real cvcore node processes (node-1 api,
 * node-2 and node-3 analytics + index, so every shard has two replicas), the simulated camera pool at 1 fps.
 * One harness for the whole file, the tests run in order: department scope and the audit trail on cluster
 * searches; SIGKILL of an analytics node (its cameras move, its open incident goes on, acknowledged records
 * stay); SIGKILL of each index replica in turn (searches stay complete, the restarted one catches up and
 * answers the same); SIGKILL of one nats-server (nothing lost, nothing duplicated). Bounds are generous;
 * nothing here asserts a timing (bench cluster measures those).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, connect, DeliverPolicy, type NatsConnection } from 'nats';
import { startLocalCluster, type LocalCluster } from '../runtime/index.js';
import { REPO_ROOT } from '../common/paths.js';
import { CLUSTER_USERS, STREAMS, demoPassword, type ClusterStatus } from '../cluster/index.js';
import { ALERT_STREAM, ALERT_STREAM_V2, validateAlertV2, type CrowdAlertV1 } from '../alerts/index.js';
import { waitFor } from './support/wait.js';

const CAMERAS = 2;
let dir = '';
let cluster: LocalCluster | null = null;
let nc: NatsConnection | null = null;
const alerts: CrowdAlertV1[] = [];
let api = '';
let stopConsuming = (): void => undefined;

async function get<T>(path: string, token = 'demo-admin'): Promise<{ status: number; body: T }> {
  const res = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() as T };
}
/** What the last status call saw: the status, or why there was none (for a timeout's message). */
let lastStatus = 'nothing yet';
const status = async (): Promise<ClusterStatus | null> => {
  try {
    const r = await get<ClusterStatus>('/api/v1/cluster');
    lastStatus = r.status === 200 ? describe(r.body) : `HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`;
    return r.status === 200 ? r.body : null;
  } catch (err) {
    lastStatus = `no answer: ${(err as Error).message}`;
    return null;
  }
};
function describe(s: ClusterStatus): string {
  const nodes = s.nodes.map((n) => `${n.id}(${n.alive ? 'alive' : 'dead'} cap ${n.capacity}${n.draining ? ' draining' : ''}: ${n.cameras.join('+') || '-'})`);
  const leases = s.leases.map((l) => `${l.cameraId}@${l.node || 'free'}#${l.epoch}${l.stale ? ' stale' : ''}`);
  return `nodes ${nodes.join(' ')}; leases ${leases.join(' ')}; unassigned ${s.unassigned.join('+') || '-'}`;
}
const seen = (): string => lastStatus;
interface Page { records: { id: string; cameraId: string; department: string }[]; nextCursor: string | null; missingShards?: number[] }

/** Every record a query returns, paged; and whether any page named a missing shard. */
async function searchAll(query: string, token = 'demo-admin'): Promise<{ ids: string[]; departments: Set<string>; missing: boolean }> {
  const ids: string[] = [];
  const departments = new Set<string>();
  let cursor: string | null = null;
  let missing = false;
  for (let i = 0; i < 200; i++) {
    const r: { status: number; body: Page } = await get<Page>(`/api/v1/search?${query}&limit=500${cursor ? `&cursor=${cursor}` : ''}`, token);
    if (r.status !== 200) throw new Error(`search answered ${r.status}: ${JSON.stringify(r.body)}`);
    if ((r.body.missingShards ?? []).length > 0) missing = true;
    for (const rec of r.body.records) { ids.push(rec.id); departments.add(rec.department); }
    cursor = r.body.nextCursor;
    if (!cursor) break;
  }
  return { ids, departments, missing };
}

/** Records JetStream holds (the streams de-duplicate by record id, so this is the number of distinct records). */
async function streamRecords(): Promise<number> {
  const jsm = await nc!.jetstreamManager();
  let n = 0;
  for (const s of [STREAMS.tracks, STREAMS.faces]) n += (await jsm.streams.info(s)).state.messages;
  return n;
}

const live = (s: ClusterStatus, camera: string): string | null => s.leases.find((l) => l.cameraId === camera && !l.stale)?.node ?? null;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cvcore-cluster-'));
  cluster = await startLocalCluster({
    dir, servers: 3, cameras: CAMERAS, fps: 1, threshold: 2, shards: 4, replicas: 3, capacity: 2, leaseTtlMs: 6_000, renewMs: 1_000,
    nodes: [
      { id: 'node-1', roles: ['api'] },
      { id: 'node-2', roles: ['analytics', 'index'] },
      { id: 'node-3', roles: ['analytics', 'index'] },
    ],
    // The test pages through every record while it waits: no rate limit in its way.
    // Shard answers get a generous wait: the suite runs this beside other tests on two cores.
    extra: { inference: { workers: 1 }, api: { rateLimit: { perMinute: 1_000_000, burst: 100_000 } }, cluster: { searchTimeoutMs: 10_000 } },
  });
  api = cluster.node('node-1').apiUrl!;
  nc = await connect({ servers: cluster.nats.url.split(','), user: CLUSTER_USERS.admin, pass: demoPassword(CLUSTER_USERS.admin) });
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  await waitFor('the alert stream', 120_000, async () => jsm.streams.info(ALERT_STREAM).then(() => true, () => false));
  // Every alert the cluster stores, from the start, through a durable consumer (as a subscriber desk would).
  await jsm.consumers.add(ALERT_STREAM, { durable_name: 'cluster-test', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
  const consumer = await js.consumers.get(ALERT_STREAM, 'cluster-test');
  const messages = await consumer.consume();
  stopConsuming = () => messages.stop();
  void (async () => {
    for await (const m of messages) {
      alerts.push(m.json<CrowdAlertV1>());
      m.ack();
    }
  })().catch(() => undefined);
  await waitFor('both cameras analysed', 180_000, async () => {
    const s = await status();
    return s && s.unassigned.length === 0 && s.leases.filter((l) => !l.stale).length === CAMERAS ? s : null;
  }, seen);
});

test.after.always(async () => {
  stopConsuming();
  await nc?.close().catch(() => undefined);
  await cluster?.stop();
  // CVCORE_KEEP_TEST_DATA=1 keeps the node logs and configs for a look after a failure.
  if (dir && !process.env['CVCORE_KEEP_TEST_DATA']) await rm(dir, { recursive: true, force: true });
});

/** Runs `cvcore start` on node-2's config changed by `change`; resolves its exit code and stderr. */
async function startVariant(name: string, change: (cfg: Record<string, any>) => void): Promise<{ code: number | null; stderr: string }> {
  const cfg = JSON.parse(await readFile(cluster!.node('node-2').configPath, 'utf8')) as Record<string, any>;
  cfg['dataDir'] = join(dir, name);
  change(cfg);
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(cfg));
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'bin', 'cvcore.js'), 'start', '--config', file], { timeout: 120_000, env: { ...process.env, NATS_URL: '' } },
      (err, _stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr }));
  });
}

test.serial('bad input: a live duplicate node id, a changed shard count and a user without a permission are refused with typed errors', async (t) => {
  // Another process with node-2's id (its own data dir, so another instance) while node-2 renews.
  const dup = await startVariant('dup', () => undefined);
  t.is(dup.code, 2, dup.stderr);
  t.regex(dup.stderr, /CLUSTER_DUPLICATE_NODE/);
  const shards = await startVariant('shards', (c) => { c['node'] = 'node-9'; c['cluster'].shards = 8; });
  t.is(shards.code, 2, shards.stderr);
  t.regex(shards.stderr, /CLUSTER_SHARDS_CHANGED/);
  // An analytics node connecting as the index user may not write leases: the subject is named.
  const perm = await startVariant('perm', (c) => { c['node'] = 'node-8'; c['nats'].user = 'index'; c['nats'].pass = demoPassword('index'); });
  t.is(perm.code, 2, perm.stderr);
  t.regex(perm.stderr, /CLUSTER_NATS_PERMISSION.*"\$KV\.CVCORE_LEASES\._probe"/);
});

test.serial('department scope and the audit trail hold on cluster searches, as on one node', async (t) => {
  await waitFor('records of both departments', 180_000, async () => {
    const all = await searchAll('class=person');
    return all.departments.has('public-security') && all.departments.has('traffic') ? all : null;
  });
  const ps = await searchAll('class=person', 'demo-investigator-ps');
  const traffic = await searchAll('class=person', 'demo-investigator-traffic');
  t.true(ps.ids.length > 0 && traffic.ids.length > 0);
  t.deepEqual([...ps.departments], ['public-security']);
  t.deepEqual([...traffic.departments], ['traffic']);
  // A record of another department answers like one that does not exist.
  const foreign = traffic.ids[0]!;
  t.is((await get(`/api/v1/tracks/${encodeURIComponent(foreign)}`, 'demo-investigator-ps')).status, 404);
  t.is((await get(`/api/v1/tracks/${encodeURIComponent(foreign)}`, 'demo-investigator-traffic')).status, 200);
  // Each search is in the cluster-wide trail once, by the api node that served it.
  const trail = await waitFor('the searches in the audit trail', 30_000, async () => {
    const r = await get<{ entries: { tokenId: string; action: string; results: unknown }[] }>('/api/v1/audit?limit=1000');
    const mine = r.body.entries.filter((e) => e.tokenId === 'demo-investigator-ps' || e.tokenId === 'demo-investigator-traffic');
    return mine.some((e) => e.tokenId === 'demo-investigator-ps' && e.action.includes('track')) ? mine : null;
  });
  t.true(trail.some((e) => e.tokenId === 'demo-investigator-traffic' && e.action.includes('search')));
  // Investigators may not read the trail.
  t.is((await get('/api/v1/audit', 'demo-investigator-ps')).status, 403);
});

test.serial('erasure through an api node reaches both index replicas and the record log: the track is gone from search; the audit entry is there', async (t) => {
  const people = await searchAll('class=person', 'demo-investigator-ps');
  const target = people.ids[0]!;
  t.truthy(target);
  const res = await fetch(`${api}/api/v1/erasures`, {
    method: 'POST', headers: { authorization: 'Bearer demo-admin', 'content-type': 'application/json' },
    body: JSON.stringify({ trackIds: [target, 'cam-none:1:2'], reason: 'data subject request', caseRef: 'DSR-cluster-1' }),
  });
  const receipt = await res.json() as { tracks: string[]; notFound: string[]; cluster?: { applied: string[]; pending: string[] }; recordLog?: { deleted: number; notFound: string[] } };
  t.is(res.status, 200, JSON.stringify(receipt));
  t.deepEqual(receipt.tracks, [target]);
  t.deepEqual(receipt.notFound, ['cam-none:1:2']);
  t.deepEqual(receipt.cluster, { applied: ['node-2', 'node-3'], pending: [] }, 'both replicas applied it before the answer');
  t.deepEqual(receipt.recordLog, { deleted: 1, notFound: [] });
  t.is((await get(`/api/v1/tracks/${encodeURIComponent(target)}`)).status, 404);
  t.false((await searchAll('class=person')).ids.includes(target));
  // The record log no longer holds it (message id = record id), read with the admin user.
  const jsm = await nc!.jetstreamManager();
  for (const stream of [STREAMS.tracks, STREAMS.faces]) {
    const oc = await nc!.jetstream().consumers.get(stream, { headers_only: true });
    const total = (await jsm.streams.info(stream)).state.messages;
    let seen = 0;
    while (seen < total) {
      let got = 0;
      for await (const m of await oc.fetch({ max_messages: 500, expires: 2_000 })) {
        got++; seen++;
        t.not(m.headers?.get('Nats-Msg-Id'), target);
        if (m.info.pending === 0) break;
      }
      if (got === 0) break;
    }
    await oc.delete().catch(() => undefined);
  }
  const trail = await waitFor('the erasure in the audit trail', 30_000, async () => {
    const r = await get<{ entries: { tokenId: string; action: string; query: Record<string, unknown> }[] }>('/api/v1/audit?limit=1000');
    return r.body.entries.find((e) => e.action === 'erasure' && e.query?.['caseRef'] === 'DSR-cluster-1') ?? null;
  });
  t.is(trail.tokenId, 'demo-admin');
  // Audit redaction stays a single-node operation.
  const redact = await fetch(`${api}/api/v1/erasures`, {
    method: 'POST', headers: { authorization: 'Bearer demo-admin', 'content-type': 'application/json' },
    body: JSON.stringify({ trackIds: [people.ids[1] ?? target], reason: 'r', caseRef: 'c', redactAudit: true }),
  });
  t.is(redact.status, 501);
});

test.serial('cameras added and removed through an api node: analysed by some node; removal clears its open incident and frees its lease', async (t) => {
  const cfg = JSON.parse(await readFile(cluster!.node('node-1').configPath, 'utf8')) as { cameras: { url: string }[] };
  // A third camera on the first one's stream (the RTSP server serves many readers).
  const body = { id: 'cam-extra', url: cfg.cameras[0]!.url, transport: 'udp', department: 'traffic', district: 'shinan', fps: 1, width: 640, height: 480,
    zones: [{ id: 'plaza', polygon: [[0, 0], [639, 0], [639, 479], [0, 479]], crowd: { threshold: 2, clearThreshold: 0, sustainMs: 2000, clearMs: 4000, cooldownMs: 10000, updateStep: 2, severities: [{ severity: 'low', minCount: 2 }] } }] };
  const res = await fetch(`${api}/api/v1/cameras`, { method: 'POST', headers: { authorization: 'Bearer demo-operator', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.is(res.status, 201);
  const dup = await fetch(`${api}/api/v1/cameras`, { method: 'POST', headers: { authorization: 'Bearer demo-operator', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.is(dup.status, 409);
  await waitFor('cam-extra analysed by a node', 120_000, async () => { const s = await status(); return s && live(s, 'cam-extra') ? s : null; });
  const raised = await waitFor('an incident on cam-extra', 120_000, async () => alerts.find((a) => a.camera === 'cam-extra' && a.phase === 'raised') ?? null);
  t.is((await fetch(`${api}/api/v1/cameras/cam-extra`, { method: 'DELETE', headers: { authorization: 'Bearer demo-operator' } })).status, 204);
  // Removal is the one way an incident ends without dispersing: cleared, and the lease handed back.
  const cleared = await waitFor('the incident cleared by the removal', 60_000, async () => alerts.find((a) => a.id === raised.id && a.phase === 'cleared') ?? null);
  t.is(cleared.camera, 'cam-extra');
  // Schema v2 says why (a desk on CITYBRAIN_ALERTS_V2): the camera was removed.
  const jsm = await nc!.jetstreamManager();
  await jsm.consumers.add(ALERT_STREAM_V2, { durable_name: 'cluster-test-v2', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: 'citybrain.v2.alerts.crowd.shinan.cam-extra.>' });
  const v2 = await nc!.jetstream().consumers.get(ALERT_STREAM_V2, 'cluster-test-v2');
  const clearV2 = await waitFor('the v2 clear of cam-extra', 30_000, async () => {
    const m = await v2.next({ expires: 2_000 });
    if (m === null) return null;
    m.ack();
    const a = validateAlertV2(m.json());
    return a.id === raised.id && a.phase === 'cleared' ? a : null;
  });
  t.is(clearV2.clearReason, 'camera-removed');
  await waitFor('no live lease on cam-extra', 60_000, async () => { const s = await status(); return s && !live(s, 'cam-extra') ? s : null; });
  t.is((await get('/api/v1/cameras/cam-extra', 'demo-operator')).status, 404);
});

test.serial('SIGKILL of an analytics node: its cameras are analysed elsewhere, its open incident goes on, no acknowledged record is lost', async (t) => {
  // A camera with an open incident, and the node that holds it.
  const raised = await waitFor('a raised incident', 180_000, async () => alerts.find((a) => a.phase === 'raised') ?? null);
  const s0 = (await status())!;
  const victim = live(s0, raised.camera);
  t.truthy(victim, `camera ${raised.camera} has a live lease`);
  const before = await streamRecords();
  await cluster!.node(victim!).kill();
  const s1 = await waitFor(`camera ${raised.camera} held by another node`, 120_000, async () => {
    const s = await status();
    return s && CAMERAS === s.leases.filter((l) => !l.stale && l.node !== victim).length ? s : null;
  }, seen);
  const heir = live(s1, raised.camera)!;
  t.not(heir, victim);
  // The heir continues the same incident: an update (or its clear) with the same id, from the heir.
  const continued = await waitFor('the incident continued by the new owner', 120_000, async () =>
    alerts.find((a) => a.id === raised.id && a.node === heir && (a.phase === 'updated' || a.phase === 'cleared')) ?? null);
  t.is(continued.camera, raised.camera);
  // Never a second raise for the zone while the first is open.
  const raises = alerts.filter((a) => a.camera === raised.camera && a.zone === raised.zone && a.phase === 'raised');
  const cleared = alerts.some((a) => a.id === raised.id && a.phase === 'cleared');
  t.is(raises.filter((a) => a.startedAt >= raised.startedAt).length, cleared ? raises.filter((a) => a.startedAt >= raised.startedAt).length : 1);
  // Every record JetStream acknowledged before the kill is searchable (the index acks only what RocksDB holds).
  const after = await waitFor('the index to hold every stored record', 120_000, async () => {
    const [n, all] = [await streamRecords(), await searchAll('from=0')];
    return all.ids.length >= n && n >= before ? all : null;
  });
  t.true(after.ids.length >= before);
  t.is(new Set(after.ids).size, after.ids.length, 'no record twice');
  const restartedAt = Date.now();
  await cluster!.node(victim!).start();
  await waitFor(`${victim} back in the cluster`, 120_000, async () => (await status())?.nodes.find((n) => n.id === victim && n.alive && n.startedAt > restartedAt) ?? null);
});

test.serial('SIGKILL of an index node: searches answer from the other replica; restarted, it catches up and answers the same', async (t) => {
  // Tracks that began before the cutoff but end later still arrive, so a later answer may hold more records
  // than the reference: it must hold all of them, once each, in the index's order.
  const cutoff = Date.now() - 5_000;
  const q = `to=${cutoff}`;
  const holdsAll = (got: { ids: string[] }, ref: { ids: string[] }): boolean => {
    const set = new Set(got.ids);
    return set.size === got.ids.length && ref.ids.every((id) => set.has(id)) && got.ids.filter((id) => ref.ids.includes(id)).join() === ref.ids.join();
  };
  const reference = await searchAll(q);
  t.false(reference.missing);
  t.true(reference.ids.length > 0);
  const killedAt = Date.now();
  await cluster!.node('node-3').kill();
  // node-2 holds every shard too: answers are complete (a search that met the dying replica is asked again).
  const without3 = await waitFor('complete answers from node-2', 60_000, async () => {
    const r = await searchAll(q);
    return r.missing ? null : r;
  });
  t.true(holdsAll(without3, reference), 'node-2 answers every record of the reference');
  await cluster!.node('node-3').start();
  // Caught up: node-3's consumers have nothing pending, then node-2 goes and node-3 answers alone.
  await waitFor('node-3 caught up', 120_000, async () => {
    const s = await status();
    const mine = s?.consumers.filter((c) => c.node === 'node-3') ?? [];
    // The restarted incarnation (started after the kill), with nothing left to deliver to it.
    return mine.length === 8 && mine.every((c) => c.pending === 0 && c.ackPending === 0) && s!.nodes.some((n) => n.id === 'node-3' && n.alive && n.startedAt > killedAt) ? s : null;
  });
  await cluster!.node('node-2').kill();
  const only3 = await waitFor('answers from node-3 alone', 60_000, async () => {
    const r = await searchAll(q);
    return r.missing ? null : r;
  });
  t.true(holdsAll(only3, reference), 'node-3, caught up, answers every record of the reference');
  const killed2At = Date.now();
  await cluster!.node('node-2').start();
  await waitFor('node-2 back', 120_000, async () => (await status())?.nodes.find((n) => n.id === 'node-2' && n.alive && n.startedAt > killed2At) ?? null);
});

test.serial('SIGKILL of one of three nats-servers: nothing lost, nothing duplicated', async (t) => {
  const server = cluster!.nats.servers[1]!;
  const before = alerts.length;
  await server.kill();
  // The cluster goes on: alerts keep coming (zone counts keep changing) and records keep being stored.
  const recordsBefore = await waitFor('the stream readable with a server down', 60_000, async () => streamRecords().catch(() => null));
  await waitFor('records stored with a server down', 180_000, async () => ((await streamRecords().catch(() => 0)) > recordsBefore ? true : null));
  await server.start();
  await waitFor('alerts flowing', 180_000, async () => (alerts.length > before ? true : null));
  // Everything JetStream holds is searchable once, and no alert was stored twice.
  const all = await waitFor('the index to hold every stored record', 180_000, async () => {
    const [n, r] = [await streamRecords(), await searchAll('from=0')];
    return r.ids.length >= n ? r : null;
  });
  t.is(new Set(all.ids).size, all.ids.length, 'no record twice');
  const ids = alerts.map((a) => a.messageId);
  t.is(new Set(ids).size, ids.length, 'no alert stored twice');
  // Per incident: one raise.
  const raisesPerIncident = new Map<string, number>();
  for (const a of alerts) if (a.phase === 'raised') raisesPerIncident.set(a.id, (raisesPerIncident.get(a.id) ?? 0) + 1);
  t.true([...raisesPerIncident.values()].every((n) => n === 1));
});

test.serial('cvcore cluster drain: a node hands its cameras to the others and takes none until it restarts', async (t) => {
  // Fair share first: two live analytics nodes, two cameras, one each.
  await waitFor('one camera on each analytics node', 120_000, async () => {
    const s = await status();
    return s && ['node-2', 'node-3'].every((id) => s.nodes.some((n) => n.id === id && n.alive && n.cameras.length === 1)) ? s : null;
  }, seen);
  const res = await fetch(`${api}/api/v1/cluster/nodes/node-3/drain`, { method: 'POST', headers: { authorization: 'Bearer demo-operator' } });
  t.is(res.status, 202);
  const drained = await waitFor('node-3 drained', 120_000, async () => {
    const s = await status();
    const n3 = s?.nodes.find((n) => n.id === 'node-3');
    return s && n3?.draining && n3.cameras.length === 0 && s.unassigned.length === 0 ? s : null;
  }, seen);
  t.deepEqual(drained.nodes.find((n) => n.id === 'node-2')!.cameras, ['cam-1', 'cam-2']);
  t.is((await fetch(`${api}/api/v1/cluster/nodes/node-9/drain`, { method: 'POST', headers: { authorization: 'Bearer demo-operator' } })).status, 404);
});

test.serial('a token issued through a cluster api node is kept in the shared bucket, works, and stops when revoked', async (t) => {
  const post = async (path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${api}${path}`, {
      method: 'POST', headers: { authorization: 'Bearer demo-admin', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };
  const made = await post('/api/v1/tokens', { person: 'Cluster Desk', role: 'investigator', departments: ['public-security'], expiresIn: '1d' });
  t.is(made.status, 201, JSON.stringify(made.body));
  const { token, secret } = made.body as { token: { id: string }; secret: string };
  // In the bucket every api node follows (hash only), read here with the admin user.
  const kv = await nc!.jetstream().views.kv('CVCORE_ISSUED_TOKENS');
  const stored = JSON.parse(new TextDecoder().decode((await kv.get(token.id))!.value)) as Record<string, unknown>;
  t.like(stored, { id: token.id, person: 'Cluster Desk', revoked: null });
  t.false(JSON.stringify(stored).includes(secret));
  t.is((await get('/api/v1/search?class=person&limit=1', secret)).status, 200);
  t.is((await post(`/api/v1/tokens/${token.id}/revoke`)).status, 200);
  const after = await get<{ code: string }>('/api/v1/search?class=person&limit=1', secret);
  t.is(after.status, 401);
  t.is(after.body.code, 'API_TOKEN_REVOKED');
});
