/**
 * Camera leases against a real nats-server (JetStream KV): fair share between two nodes, and a hand-over step
 * that never ends (decisions waiting on a NATS that is failing over) must not stop a node's lease rounds: the
 * lease is released after the hand-over bound, so the other node gets its share and the stuck node keeps
 * renewing the camera it kept.
 */
import test from 'ava';
import { connect, type NatsConnection } from 'nats';
import { DEFAULT_ADMIN_USER } from '../alerts/index.js';
import { LeaseKeeper, Membership, openBucket } from '../cluster/index.js';
import { createLogger } from '../common/log.js';
import { startNats, type NatsHarness } from './harness/nats.js';
import { waitFor } from './support/wait.js';

let nats: NatsHarness;
let nc: NatsConnection;
const log = createLogger({ level: 'error' });
const CAMERAS = new Set(['cam-1', 'cam-2']);
const TTL = 3_000;
const RENEW = 500;

test.before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url, user: DEFAULT_ADMIN_USER.user, pass: DEFAULT_ADMIN_USER.pass });
});
test.after.always(async () => {
  await nc?.close().catch(() => undefined);
  await nats?.stop();
});

async function node(id: string, kvs: { nodes: string; leases: string }, beforeRelease?: (cameraId: string) => Promise<void>, desired: ReadonlySet<string> = CAMERAS): Promise<{ m: Membership; k: LeaseKeeper; stop(): Promise<void> }> {
  const js = nc.jetstream();
  const nodesKv = await openBucket(js, kvs.nodes, { replicas: 1 });
  const leasesKv = await openBucket(js, kvs.leases, { replicas: 1 });
  const m = await Membership.join({ kv: nodesKv, id, roles: ['analytics'], instance: `${id}-instance-0000000000000000000000`, capacity: 2, shards: [], apiUrl: null, ttlMs: TTL, renewMs: RENEW, log });
  const k = new LeaseKeeper({
    kv: leasesKv, membership: m, node: id, instance: `${id}-instance`, capacity: 2, ttlMs: TTL, renewMs: RENEW, desired: () => desired, log,
    handoverTimeoutMs: 1_000, ...(beforeRelease ? { beforeRelease } : {}),
  });
  await k.start();
  return { m, k, async stop() { await k.stop(false); await m.leave(); } };
}

test.serial('two nodes share two cameras one each', async (t) => {
  const kvs = { nodes: 'T_NODES_A', leases: 'T_LEASES_A' };
  const a = await node('node-a', kvs);
  await waitFor('node-a holding both cameras', 30_000, async () => (a.k.held().length === 2 ? true : null));
  const b = await node('node-b', kvs);
  await waitFor('one camera each', 30_000, async () => (a.k.held().length === 1 && b.k.held().length === 1 ? true : null),
    () => `a ${a.k.held().join('+')} b ${b.k.held().join('+')}`);
  t.deepEqual(new Set([...a.k.held(), ...b.k.held()]), CAMERAS);
  await b.stop();
  await a.stop();
});

test.serial('a hand-over step that never ends does not stop the rounds: the lease is released after the bound and the node keeps renewing the other', async (t) => {
  const kvs = { nodes: 'T_NODES_B', leases: 'T_LEASES_B' };
  let stuck = 0;
  // Never resolves, as an outbox waiting on a NATS that is failing over would.
  const a = await node('node-a', kvs, () => { stuck++; return new Promise<void>(() => undefined); });
  await waitFor('node-a holding both cameras', 30_000, async () => (a.k.held().length === 2 ? true : null));
  const b = await node('node-b', kvs);
  await waitFor('one camera each', 30_000, async () => (a.k.held().length === 1 && b.k.held().length === 1 ? true : null),
    () => `a ${a.k.held().join('+')} b ${b.k.held().join('+')}`);
  t.true(stuck >= 1, "the hand-over step ran");
  const renewals = a.k.stats().renewals;
  // node-a's rounds go on: it renews what it kept, and the share holds over several TTLs.
  await new Promise((r) => setTimeout(r, 2 * TTL));
  t.true(a.k.stats().renewals > renewals, 'node-a still renews');
  t.is(a.k.held().length, 1);
  t.is(b.k.held().length, 1);
  await b.stop();
  await a.stop();
});

test.serial('a hand-over nobody takes comes back once, and the share is not evened out again at once (no camera left dark in a loop)', async (t) => {
  const kvs = { nodes: 'T_NODES_C', leases: 'T_LEASES_C' };
  const a = await node('node-a', kvs);
  await waitFor('node-a holding both cameras', 30_000, async () => (a.k.held().length === 2 ? true : null));
  // node-b counts in the share but sees no camera to take (a node whose camera view is broken).
  const b = await node('node-b', kvs, undefined, new Set());
  await waitFor('node-a handing one camera over', 30_000, async () => (a.k.held().length === 1 ? true : null));
  await waitFor('the camera back at node-a after a TTL', 30_000, async () => (a.k.held().length === 2 ? true : null));
  // Backed off: for the next TTL node-a keeps both cameras, rather than handing one over every few seconds.
  const start = Date.now();
  let dark = 0;
  while (Date.now() - start < TTL) {
    if (a.k.held().length < 2) dark++;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.is(dark, 0);
  t.is(b.k.held().length, 0);
  await b.stop();
  await a.stop();
});
