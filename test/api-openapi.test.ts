import test from 'ava';
import { startHarness, type ApiHarness } from './support/api-app.js';

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 1 }); });
test.after.always(async () => { await h?.close(); });

const ROUTES = [
  'get /health', 'get /metrics', 'get /api/v1/openapi.json',
  'get /api/v1/search', 'post /api/v1/faces/search', 'get /api/v1/tracks/{id}', 'get /api/v1/tracks/{id}/thumbnail', 'get /api/v1/tracks/{id}/plate', 'get /api/v1/audit', 'get /api/v1/audit/verify', 'get /api/v1/audit/export', 'post /api/v1/audit/checkpoint',
  'get /api/v1/cameras', 'post /api/v1/cameras', 'get /api/v1/cameras/{id}', 'patch /api/v1/cameras/{id}', 'delete /api/v1/cameras/{id}',
  'get /api/v1/cameras/{id}/health', 'get /api/v1/cameras/{id}/live', 'get /api/v1/health', 'get /api/v1/alerts', 'get /api/v1/zones', 'get /api/v1/snapshots/{id}', 'get /api/v1/live',
  'get /api/v1/cluster', 'post /api/v1/cluster/nodes/{id}/drain',
  'get /api/v1/auth/oidc', 'get /api/v1/auth/oidc/login', 'get /api/v1/auth/oidc/callback',
  'get /api/v1/watchlists', 'post /api/v1/watchlists', 'get /api/v1/watchlists/{id}', 'patch /api/v1/watchlists/{id}', 'delete /api/v1/watchlists/{id}',
  'get /api/v1/watchlists/{id}/entries', 'post /api/v1/watchlists/{id}/entries', 'get /api/v1/watchlists/{id}/entries/{entry}',
  'patch /api/v1/watchlists/{id}/entries/{entry}', 'delete /api/v1/watchlists/{id}/entries/{entry}', 'get /api/v1/watchlists/{id}/entries/{entry}/photos/{n}',
  'get /api/v1/watchlists/{id}/entries/{entry}/matches',
  'get /api/v1/cameras/{id}/recordings', 'get /api/v1/cameras/{id}/clip', 'post /api/v1/holds', 'get /api/v1/holds', 'delete /api/v1/holds/{id}',
  'get /api/v1/alarms', 'get /api/v1/alarms/{id}', 'get /api/v1/alarms/{id}/snapshot', 'get /api/v1/alarms/{id}/face', 'post /api/v1/alarms/{id}/ack', 'post /api/v1/alarms/{id}/dismiss',
  'post /api/v1/exports', 'get /api/v1/exports', 'get /api/v1/exports/key', 'get /api/v1/exports/{id}', 'get /api/v1/exports/{id}/download', 'post /api/v1/exports/{id}/hold', 'post /api/v1/exports/{id}/release',
  'post /api/v1/tokens', 'get /api/v1/tokens', 'get /api/v1/tokens/{id}', 'post /api/v1/tokens/{id}/revoke',
  'post /api/v1/erasures',
];

test('api - the OpenAPI document lists every route with its parameters, bodies, responses and security', async (t) => {
  const res = await h.get('/api/v1/openapi.json');
  t.is(res.status, 200);
  const doc = await res.json() as { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, unknown> }; responses: Record<string, unknown>; security?: unknown[]; summary?: string }>> };
  t.regex(doc.openapi, /^3\./);
  const listed = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)).sort();
  t.deepEqual(listed, [...ROUTES].sort());
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(ops)) {
      t.truthy(op.summary, `${m} ${p} has a summary`);
      t.true(Object.keys(op.responses).length > 0, `${m} ${p} has responses`);
      for (const name of [...p.matchAll(/\{(\w+)\}/g)].map((x) => x[1])) t.true(op.parameters?.some((q) => q.name === name && q.in === 'path'), `${m} ${p} path ${name}`);
    }
  }
  const search = doc.paths['/api/v1/search']!['get']!;
  for (const name of ['colour', 'plate', 'plateFuzzy', 'plateColour', 'upperColour', 'lowerColour']) t.true(search.parameters!.some((q) => q.name === name && q.in === 'query'), name);
  t.truthy(search.responses['400']);
  t.deepEqual(search.security, [{ bearerAuth: [] }]);
  t.truthy(doc.paths['/api/v1/faces/search']!['post']!.requestBody!.content['multipart/form-data']);
  t.truthy(doc.paths['/api/v1/cameras']!['post']!.requestBody!.content['application/json']);
  t.is(doc.paths['/health']!['get']!.security, undefined);
  t.true(doc.paths['/api/v1/live']!['get']!.parameters!.some((q) => q.name === 'token'));
});
