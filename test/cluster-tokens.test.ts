/**
 * Tokens issued to people in cluster mode (runtime/cluster-tokens.ts): two real API servers, each with its own
 * KvTokenStore over its own connection (as two api nodes), on one KV bucket in a real 3-server NATS cluster with
 * the cluster's users (nats-cluster.conf). A token issued on one api node works on the other; a revocation on one
 * closes the token's live socket on the other (4401) and its next request there answers 401 API_TOKEN_REVOKED;
 * two revocations at once converge on one; a restarted api node reads every token back; only hashes are in the bucket;
 * an analytics node's user cannot write the bucket.
 */
import test from 'ava';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { connect, type KV, type NatsConnection } from 'nats';
import { sha256Hex, WS_CLOSE_TOKEN } from '../api/index.js';
import { ClusterError } from '../common/errors.js';
import { startNatsCluster, type NatsCluster } from '../cluster/nats-cluster.js';
import { CLUSTER_USERS, KV_BUCKETS, demoPassword, openBucket, readAll } from '../cluster/index.js';
import { KvTokenStore } from '../runtime/cluster-tokens.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';
import { tempDir } from './support/index-records.js';
import { waitFor } from './support/wait.js';

interface WsClient {
  on(ev: 'open', fn: () => void): void;
  on(ev: 'close', fn: (code: number, reason: Buffer) => void): void;
  on(ev: 'unexpected-response', fn: (req: { destroy(): void }, res: { statusCode: number }) => void): void;
  on(ev: 'error', fn: (err: Error) => void): void;
  close(): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => WsClient;

interface ApiNode { nc: NatsConnection; kv: KV; store: KvTokenStore; h: ApiHarness }

let cluster: NatsCluster | null = null;
const nodes: ApiNode[] = [];
const cleanups: Array<() => Promise<unknown> | unknown> = [];

const connectAs = (user: string): Promise<NatsConnection> =>
  connect({ servers: cluster!.url.split(','), user, pass: demoPassword(user), timeout: 5_000, maxReconnectAttempts: -1, reconnectTimeWait: 250 });

async function apiNode(): Promise<ApiNode> {
  const nc = await connectAs(CLUSTER_USERS.api);
  const kv = await openBucket(nc.jetstream(), KV_BUCKETS.issuedTokens, { replicas: 3 });
  const store = await KvTokenStore.open(kv);
  const h = await startHarness({ perDepartment: 1, tokenStore: store });
  const node = { nc, kv, store, h };
  cleanups.push(async () => { await h.close(); await store.close(); await nc.close(); });
  return node;
}

test.before(async () => {
  const { dir, cleanup } = tempDir('cluster-tokens');
  cleanups.push(cleanup);
  cluster = await startNatsCluster({ servers: 3, dir: join(dir, 'nats') });
  cleanups.push(() => cluster!.stop());
  nodes.push(await apiNode(), await apiNode());
});
test.after.always(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
});

async function call(h: ApiHarness, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(h.url + path, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function issue(h: ApiHarness, person: string): Promise<{ id: string; secret: string }> {
  const r = await call(h, 'POST', '/api/v1/tokens', TOKENS.admin, { person, role: 'investigator', departments: ['traffic'] });
  if (r.status !== 201) throw new Error(`create answered ${r.status} ${JSON.stringify(r.body)}`);
  const b = r.body as { token: { id: string }; secret: string };
  return { id: b.token.id, secret: b.secret };
}

function live(h: ApiHarness, secret: string): Promise<{ closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/v1/live?token=${encodeURIComponent(secret)}`);
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('unexpected-response', (req, res) => { req.destroy(); reject(Object.assign(new Error('refused'), { status: res.statusCode })); });
    ws.on('error', reject);
    ws.on('open', () => resolve({ closed }));
    cleanups.push(() => ws.close());
  });
}

const within = <T>(p: Promise<T>, ms = 30_000): Promise<T> =>
  Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`not within ${ms} ms`)), ms).unref())]);

test.serial('cluster tokens - issued on one api node, it works on the other; revoked there, its socket on the first closes with 4401', async (t) => {
  const [a, b] = nodes as [ApiNode, ApiNode];
  const made = await issue(a.h, 'Ana Li');
  t.is((await a.h.get('/api/v1/search?class=car', made.secret)).status, 200, 'the issuing node counts it at once');
  // The other node learns it through its watch of the bucket.
  await waitFor('the token to work on the other api node', 30_000, async () => ((await b.h.get('/api/v1/search?class=car', made.secret)).status === 200 ? true : null));
  const listed = await call(b.h, 'GET', `/api/v1/tokens/${made.id}`, TOKENS.admin);
  t.like(listed.body, { id: made.id, person: 'Ana Li', state: 'active', createdBy: 'admin' });

  // A live socket on node A; the revocation is made on node B.
  const ws = await live(a.h, made.secret);
  const revoked = await call(b.h, 'POST', `/api/v1/tokens/${made.id}/revoke`, TOKENS.admin);
  t.is(revoked.status, 200);
  t.like(revoked.body, { id: made.id, state: 'revoked', revokedBy: 'admin' });
  t.deepEqual(await within(ws.closed), { code: WS_CLOSE_TOKEN, reason: 'API_TOKEN_REVOKED' }, 'the socket on the other node is closed');
  const refused = await a.h.get('/api/v1/search?class=car', made.secret);
  t.is(refused.status, 401);
  t.is(((await refused.json()) as { code: string }).code, 'API_TOKEN_REVOKED');
  const onB = await b.h.get('/api/v1/search?class=car', made.secret);
  t.is(onB.status, 401, 'the revoking node refuses it on the next request');
  t.is(((await onB.json()) as { code: string }).code, 'API_TOKEN_REVOKED');
});

test.serial('cluster tokens - two revocations at once on two nodes converge on one; the bucket holds hashes only; a restarted node reads every token back', async (t) => {
  const [a, b] = nodes as [ApiNode, ApiNode];
  const made = await issue(a.h, 'Bo Chen');
  await waitFor('the token on the other node', 30_000, async () => (b.store.get(made.id) ? true : null));
  const [ra, rb] = await Promise.all([
    call(a.h, 'POST', `/api/v1/tokens/${made.id}/revoke`, TOKENS.admin),
    call(b.h, 'POST', `/api/v1/tokens/${made.id}/revoke`, TOKENS.admin),
  ]);
  t.is(ra.status, 200);
  t.is(rb.status, 200);
  t.is(ra.body['state'], 'revoked');
  t.is(rb.body['state'], 'revoked');
  // The bucket keeps one revocation, and both nodes converge on it (nats-server 2.9 may let both revision-checked
  // writes through when they race on an R3 stream: then the last one is the one every node shows).
  const bucketRevoked = async (): Promise<number | null> => (await readAll<{ revoked: number | null }>(a.kv)).get(made.id)?.value.revoked ?? null;
  await waitFor('both nodes to show the bucket\'s revocation', 30_000, async () => {
    const r = await bucketRevoked();
    return r !== null && a.store.get(made.id)?.revoked === r && b.store.get(made.id)?.revoked === r ? true : null;
  });
  t.true([ra.body['revoked'], rb.body['revoked']].includes(await bucketRevoked()), 'the bucket holds one of the two');

  // Only the SHA-256 of a secret is in the bucket.
  const raw = await readAll<Record<string, unknown>>(a.kv);
  t.true(raw.size >= 2);
  const stored = raw.get(made.id)!.value;
  t.is(stored['sha256'], sha256Hex(made.secret));
  t.false(JSON.stringify([...raw.values()]).includes(made.secret));

  // A restarted api node (a fresh store on a fresh connection) has every token, with its state.
  const c = await apiNode();
  t.like(c.store.get(made.id), { person: 'Bo Chen' });
  t.not(c.store.get(made.id)!.revoked, null);
  t.deepEqual(c.store.list().map((x) => x.id), a.store.list().map((x) => x.id));
  const r = await c.h.get('/api/v1/search?class=car', made.secret);
  t.is(r.status, 401);
});

test.serial('cluster tokens - an analytics node\'s user may not write the bucket: a typed CLUSTER_NATS_PERMISSION naming the subject', async (t) => {
  const nc = await connectAs(CLUSTER_USERS.analytics);
  cleanups.push(() => nc.close());
  const kv = await openBucket(nc.jetstream(), KV_BUCKETS.issuedTokens, { replicas: 3 });
  const store = await KvTokenStore.open(kv);
  cleanups.push(() => store.close());
  const err = await t.throwsAsync(store.create({ person: 'Mallory', role: 'admin', departments: ['*'] }, 'analytics'));
  t.true(err instanceof ClusterError);
  t.is((err as ClusterError).code, 'CLUSTER_NATS_PERMISSION');
  t.regex(err!.message, /CVCORE_ISSUED_TOKENS/);
  t.false(nodes[0]!.store.list().some((x) => x.person === 'Mallory'));
});
