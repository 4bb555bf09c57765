/**
 * A camera URL with a password: the password never reaches a log line or an API answer, whatever path it
 * takes (ffmpeg's own error text, health reasons, status events, the camera listing, add and change answers).
 */
import test from 'ava';
import { createLogger } from '../common/log.js';
import { freePort } from '../common/net.js';
import { CameraPool } from '../ingest/index.js';
import { authHeaders, startCameraApi, testSettings, until } from './support/ingest.js';

test('ingest - credentials in camera URLs are masked in logs and in the API', async (t) => {
  t.timeout(60_000);
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', sink: (l) => lines.push(l) });
  const pool = new CameraPool(testSettings({ maxRetries: 1 }));
  // Logged the way the pipeline logs camera events, plus the raw event and config nested in objects.
  pool.on((e) => {
    if (e.type === 'health') log.info('camera health', { camera: e.cameraId, state: e.state, code: e.code, reason: e.reason });
    log.debug('ingest event', { event: e, config: pool.has(e.cameraId) ? pool.get(e.cameraId).config : null });
  });
  const api = await startCameraApi(pool, log);
  try {
    const port = await freePort();
    const url = `rtsp://user:secret@127.0.0.1:${port}/x`;
    const post = await fetch(`${api.url}/api/v1/cameras`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders }, body: JSON.stringify({ id: 'locked', url, transport: 'tcp' }) });
    t.is(post.status, 201);
    const posted = await post.text();
    t.false(posted.includes('secret'), posted);
    t.true(posted.includes('rtsp://***:***@127.0.0.1'));

    const r = pool.get('locked');
    await until('the camera to fail', 30_000, () => r.state === 'failed');
    t.is(r.health().code, 'INGEST_STREAM_UNREACHABLE');
    log.error('camera config', { url: r.config.url, nested: { urls: [r.config.url] } });

    const put = await fetch(`${api.url}/api/v1/cameras/locked`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...authHeaders }, body: JSON.stringify({ url, transport: 'tcp', fps: 2 }) });
    t.is(put.status, 200);
    const answers = [await put.text()];
    for (const path of ['/api/v1/cameras', '/api/v1/cameras/locked']) {
      const res = await fetch(`${api.url}${path}`, { headers: authHeaders });
      t.is(res.status, 200);
      answers.push(await res.text());
    }
    for (const a of answers) t.false(a.includes('secret'), a);
    t.true(lines.length > 3, 'events were logged');
    for (const l of lines) t.false(l.includes('secret'), l);
    t.true(lines.some((l) => l.includes('***:***@')), 'the masked URL is what was logged');
  } finally {
    pool.stop();
    await api.close();
  }
});
