import test from 'ava';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 1 }); });
test.after.always(async () => { await h?.close(); });

const call = (method: string, path: string, token: string, body?: unknown): Promise<Response> => fetch(h.url + path, {
  method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
  ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
});

test.serial('api - operators add, change and remove cameras within their departments', async (t) => {
  const add = await call('POST', '/api/v1/cameras', TOKENS.opTraffic, { id: 'cam-tr-2', url: 'rtsp://u:secret@10.0.0.2/s', department: 'traffic', enabled: false });
  t.is(add.status, 201);
  const view = await add.json() as { id: string; url: string; health: { state: string } };
  t.is(view.id, 'cam-tr-2');
  t.false(view.url.includes('secret'));
  t.true(h.cameras.has('cam-tr-2'));

  // Outside the operator's departments: adding is refused, and existing cameras there look absent.
  t.is((await call('POST', '/api/v1/cameras', TOKENS.opTraffic, { id: 'cam-ps-9', url: 'rtsp://10.0.0.9/s', department: 'public-security', enabled: false })).status, 403);
  t.is((await call('DELETE', '/api/v1/cameras/cam-ps-1', TOKENS.opTraffic)).status, 404);
  t.is((await call('PATCH', '/api/v1/cameras/cam-ps-1', TOKENS.opTraffic, { fps: 2 })).status, 404);
  t.is((await call('PATCH', '/api/v1/cameras/cam-tr-2', TOKENS.opTraffic, { department: 'public-security' })).status, 403);

  const patched = await call('PATCH', '/api/v1/cameras/cam-tr-2', TOKENS.opTraffic, { fps: 2, name: 'gate' });
  t.is(patched.status, 200);
  t.like(await patched.json(), { id: 'cam-tr-2', fps: 2, name: 'gate' });
  // The stored URL keeps its credentials (the view masks them; a PATCH must not write the mask back).
  t.is(h.cameras.get('cam-tr-2').config.url, 'rtsp://u:secret@10.0.0.2/s');

  const masked = await call('PATCH', '/api/v1/cameras/cam-tr-2', TOKENS.opTraffic, { url: view.url });
  t.is(masked.status, 400, 'the masked URL of a view is not written back');
  const bad = await call('PATCH', '/api/v1/cameras/cam-tr-2', TOKENS.opTraffic, { fps: 1000 });
  t.is(bad.status, 400);
  t.regex((await bad.json() as { code: string }).code, /^CONFIG_/);
  t.is((await call('POST', '/api/v1/cameras', TOKENS.operator, { id: 'cam-tr-2', url: 'rtsp://10.0.0.3/s', department: 'traffic', enabled: false })).status, 409);

  const health = await call('GET', '/api/v1/cameras/cam-tr-2/health', TOKENS.opTraffic);
  t.like(await health.json(), { cameraId: 'cam-tr-2', state: 'stopped' });
  const all = await (await call('GET', '/api/v1/health', TOKENS.opTraffic)).json() as { cameras: { cameraId: string }[] };
  t.deepEqual(all.cameras.map((c) => c.cameraId).sort(), ['cam-tr-1', 'cam-tr-2']);

  t.is((await call('DELETE', '/api/v1/cameras/cam-tr-2', TOKENS.opTraffic)).status, 204);
  t.false(h.cameras.has('cam-tr-2'));
  t.is((await call('DELETE', '/api/v1/cameras/cam-tr-2', TOKENS.opTraffic)).status, 404);
});
