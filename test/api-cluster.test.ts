/**
 * GET /api/v1/cluster and POST /api/v1/cluster/nodes/:id/drain: 404 on a single node, roles, the status as the
 * ClusterSource gives it (checked against the route's own response schema from the OpenAPI document), drain
 * calling through with CLUSTER_UNKNOWN_NODE as a 404, and the cluster summary in GET /api/v1/health. The source
 * here is a plain object holding a ClusterStatus; the real one is the cluster integration tests' to exercise.
 */
import test from 'ava';
import Fastify from 'fastify';
import { ClusterError } from '../common/errors.js';
import type { ClusterStatus } from '../cluster/types.js';
import { TOKENS, type ApiHarness } from './support/api-app.js';
import { STATUS, startClusterHarnesses, type FakeCluster } from './support/cluster-status.js';

let cluster: FakeCluster;
let single: ApiHarness;
let clustered: ApiHarness;
test.before(async () => {
  ({ single, clustered, cluster } = await startClusterHarnesses());
});
test.after.always(async () => { await Promise.all([single?.close(), clustered?.close()]); });

const post = (h: ApiHarness, path: string, token?: string): Promise<Response> =>
  fetch(h.url + path, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
const body = async (res: Response): Promise<{ code: string; message: string } & Record<string, unknown>> => await res.json() as { code: string; message: string };

test.serial('api - on a single node both cluster routes answer 404 API_NOT_FOUND saying it is not in cluster mode', async (t) => {
  for (const token of [TOKENS.operator, TOKENS.admin]) {
    for (const res of [await single.get('/api/v1/cluster', token), await post(single, '/api/v1/cluster/nodes/node-a/drain', token)]) {
      t.is(res.status, 404);
      const b = await body(res);
      t.is(b.code, 'API_NOT_FOUND');
      t.regex(b.message, /not in cluster mode/);
    }
  }
  const health = await body(await single.get('/api/v1/health', TOKENS.operator));
  t.false('cluster' in health, 'a single node\'s health has no cluster summary');
});

test.serial('api - the cluster routes need an operator or admin token, clustered or not', async (t) => {
  for (const h of [single, clustered]) {
    for (const send of [(tok?: string) => h.get('/api/v1/cluster', tok), (tok?: string) => post(h, '/api/v1/cluster/nodes/node-a/drain', tok)]) {
      const anon = await send();
      t.is(anon.status, 401);
      t.is((await body(anon)).code, 'API_UNAUTHORIZED');
      for (const inv of [TOKENS.ps, TOKENS.traffic]) {
        const res = await send(inv);
        t.is(res.status, 403);
        t.is((await body(res)).code, 'API_FORBIDDEN');
      }
    }
  }
  t.deepEqual(cluster.drained, [], 'a refused drain never reaches the cluster');
});

test.serial('api - GET /api/v1/cluster returns the source\'s status, valid against its response schema', async (t) => {
  const doc = await (await clustered.get('/api/v1/openapi.json')).json() as { paths: Record<string, Record<string, { tags?: string[]; responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };
  const op = doc.paths['/api/v1/cluster']!['get']!;
  t.deepEqual(op.tags, ['cluster']);
  const schema = op.responses['200']!.content!['application/json']!.schema;
  t.truthy(doc.paths['/api/v1/cluster/nodes/{id}/drain']!['post']!.responses['202']);

  // fastify's own validator (ajv), strict: no coercion, nothing removed; a broken status must fail it.
  const checker = Fastify({ ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } } });
  checker.post('/', { schema: { body: schema } }, async () => ({ ok: true }));
  await checker.ready();
  const valid = async (v: unknown): Promise<boolean> => (await checker.inject({ method: 'POST', url: '/', payload: v as object })).statusCode === 200;
  try {
    for (const token of [TOKENS.operator, TOKENS.opTraffic, TOKENS.admin]) {
      const res = await clustered.get('/api/v1/cluster', token);
      t.is(res.status, 200);
      const got = await res.json() as ClusterStatus;
      t.deepEqual(got, JSON.parse(JSON.stringify(STATUS)) as ClusterStatus, 'every field of the status goes out unchanged');
      t.true(await valid(got), 'the answer satisfies the route\'s response schema');
    }
    const { alive: _alive, ...nodeWithoutAlive } = STATUS.nodes[0]!;
    t.false(await valid({ ...STATUS, nodes: [nodeWithoutAlive] }), 'a node without alive is refused');
    t.false(await valid({ ...STATUS, shards: '4' }), 'a string count is refused');
    t.false(await valid({ ...STATUS, nodes: [{ ...STATUS.nodes[0], roles: ['gpu'] }] }), 'an unknown role is refused');
  } finally {
    await checker.close();
  }
});

test.serial('api - drain calls through with 202, and an unknown node is 404 CLUSTER_UNKNOWN_NODE', async (t) => {
  const res = await post(clustered, '/api/v1/cluster/nodes/node-b/drain', TOKENS.operator);
  t.is(res.status, 202);
  t.deepEqual(await res.json(), { node: 'node-b' });
  const admin = await post(clustered, `/api/v1/cluster/nodes/${encodeURIComponent('node-c')}/drain`, TOKENS.admin);
  t.is(admin.status, 202);
  t.deepEqual(cluster.drained, ['node-b', 'node-c']);

  const unknown = await post(clustered, '/api/v1/cluster/nodes/node-z/drain', TOKENS.admin);
  t.is(unknown.status, 404);
  t.deepEqual(await body(unknown), { code: 'CLUSTER_UNKNOWN_NODE', message: 'no node "node-z" in the cluster' });
  t.deepEqual(cluster.drained, ['node-b', 'node-c']);
});

test.serial('api - health carries a cluster summary, and reports an unreadable cluster instead of failing', async (t) => {
  const health = await body(await clustered.get('/api/v1/health', TOKENS.operator));
  t.deepEqual(health['cluster'], { nodes: 3, nodesAlive: 2, nodesDraining: 1, camerasAssigned: 3, camerasUnassigned: 2, shardsWithoutReplica: [3] });

  cluster.failWith = new ClusterError('CLUSTER_NATS_UNREACHABLE', 'no JetStream leader');
  try {
    const res = await clustered.get('/api/v1/health', TOKENS.admin);
    t.is(res.status, 200);
    t.deepEqual((await body(res))['cluster'], { error: { code: 'CLUSTER_NATS_UNREACHABLE', message: 'no JetStream leader' } });
    const status = await clustered.get('/api/v1/cluster', TOKENS.admin);
    t.is(status.status, 503);
    t.is((await body(status)).code, 'CLUSTER_NATS_UNREACHABLE');
  } finally {
    cluster.failWith = null;
  }
});
