import test from 'ava';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 3 }); });
test.after.always(async () => { await h?.close(); });

test('api - a missing or wrong token is 401 API_UNAUTHORIZED', async (t) => {
  for (const [path, token] of [['/api/v1/search', null], ['/api/v1/search', 'not-a-token'], ['/api/v1/cameras', null], ['/api/v1/audit', 'secret-admin-al']] as const) {
    const res = await h.get(path, token);
    t.is(res.status, 401, `${path} ${token}`);
    t.is((await res.json() as { code: string }).code, 'API_UNAUTHORIZED');
  }
  const basic = await fetch(`${h.url}/api/v1/search`, { headers: { authorization: `Basic ${TOKENS.ps}` } });
  t.is(basic.status, 401);
});

test('api - ?token= is accepted only where headers cannot be sent', async (t) => {
  t.is((await h.get(`/api/v1/search?token=${TOKENS.ps}`)).status, 401);
  const id = encodeURIComponent(h.records['public-security'][0]!.id);
  t.is((await h.get(`/api/v1/tracks/${id}/thumbnail?token=${TOKENS.ps}`)).status, 200);
});

test('api - a role without the right is 403 API_FORBIDDEN', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['GET', '/api/v1/search', TOKENS.operator],
    ['GET', `/api/v1/tracks/${encodeURIComponent(h.records.traffic[0]!.id)}`, TOKENS.operator],
    ['GET', '/api/v1/audit', TOKENS.ps],
    ['GET', '/api/v1/audit', TOKENS.operator],
    ['POST', '/api/v1/cameras', TOKENS.ps],
    ['DELETE', '/api/v1/cameras/cam-ps-1', TOKENS.ps],
    ['GET', '/api/v1/health', TOKENS.ps],
  ];
  for (const [method, path, token] of cases) {
    const res = await fetch(h.url + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) });
    t.is(res.status, 403, `${method} ${path}`);
    t.is((await res.json() as { code: string }).code, 'API_FORBIDDEN');
  }
  // The investigator's 403 on a camera does not depend on whether the camera exists.
  const a = await fetch(`${h.url}/api/v1/cameras/cam-tr-1`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKENS.ps}` } });
  const b = await fetch(`${h.url}/api/v1/cameras/nope`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKENS.ps}` } });
  t.is(a.status, b.status);
});

test('api - public routes need no token', async (t) => {
  for (const path of ['/health', '/metrics', '/api/v1/openapi.json']) t.is((await h.get(path)).status, 200, path);
  const health = await (await h.get('/health')).json() as { status: string; cameras: Record<string, number> };
  t.deepEqual(health.cameras, { stopped: 3 });
  t.false(JSON.stringify(health).includes('cam-'), 'public health names no camera');
});
