/**
 * A revoked token's open live view is closed: a person's token watches a simulated camera (real RTSP server,
 * real ffmpeg relay, real API and token store); an admin revokes it; the socket closes with 4401
 * API_TOKEN_REVOKED, the viewer's seat is freed, and the same secret cannot open it again.
 */
import test from 'ava';
import { createRequire } from 'node:module';
import { createLogger } from '../common/log.js';
import { openIndex } from '../search-index/index.js';
import { join } from 'node:path';
import { openTokenStore, startApi, WS_CLOSE_TOKEN } from '../api/index.js';
import { simCamera, startSim, testSettings, until } from './support/ingest.js';
import { tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

interface WsClient {
  on(event: 'message', fn: (data: Buffer) => void): void;
  on(event: 'open', fn: () => void): void;
  on(event: 'close', fn: (code: number, reason: Buffer) => void): void;
  on(event: 'unexpected-response', fn: (req: { destroy(): void }, res: { statusCode: number }) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  close(): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => WsClient;

const ADMIN = 'live-view-admin-secret';

test('tokens - revoking a token closes its open camera live view with 4401 and frees the seat', async (t) => {
  t.timeout(120_000);
  const { dir, cleanup } = tempDir('tokens-live');
  t.teardown(cleanup);
  const store = await openTokenStore({ dir: join(dir, 'tokens') });
  // A real index: the token routes write the audit trail.
  const index = await openIndex({ dataKey: testDataKey(), dir: join(dir, 'index'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
  const { sim, pool, stop } = await startSim([{ id: 'live', source: 'vtest' }], testSettings({ liveMaxViewers: 2, liveIdleMs: 1_000 }));
  const api = await startApi({
    host: '127.0.0.1', port: 0, index, cameras: pool, history: { alertHistory: () => [], snapshot: () => null, zoneCounts: () => [] },
    events: null, stats: null, alerts: null, faces: null, tokenStore: store, log: createLogger({ sink: () => undefined }),
    access: { tokens: [{ id: 'admin', token: ADMIN, role: 'admin', departments: ['*'] }], rateLimit: { perMinute: 60_000, burst: 10_000 }, maxUploadBytes: 1 << 20 },
  });
  try {
    pool.add(simCamera(sim, 'live', { enabled: false }));
    const made = await (await fetch(`${api.url}/api/v1/tokens`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ person: 'Viewer One', role: 'investigator', departments: ['*'] }),
    })).json() as { token: { id: string }; secret: string };
    const url = `${api.url.replace('http', 'ws')}/api/v1/cameras/live/live?token=${encodeURIComponent(made.secret)}`;
    const bytes: Buffer[] = [];
    const ws = new WebSocket(url);
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (d) => bytes.push(d));
    await new Promise<void>((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    await until('the live view to send MPEG-TS', 60_000, () => Buffer.concat(bytes).length >= 188 * 20);
    t.is(pool.live.viewers('live'), 1);

    const r = await fetch(`${api.url}/api/v1/tokens/${made.token.id}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    t.is(r.status, 200);
    const c = await Promise.race([closed, new Promise<null>((res) => setTimeout(() => res(null), 15_000).unref())]);
    t.deepEqual(c, { code: WS_CLOSE_TOKEN, reason: 'API_TOKEN_REVOKED' });
    await until('the seat freed', 10_000, () => pool.live.viewers('live') === 0);
    const again = await fetch(url.replace('ws', 'http'));
    t.is(again.status, 401);
    t.is(((await again.json()) as { code: string }).code, 'API_TOKEN_REVOKED');
  } finally {
    await api.close();
    await stop();
    await store.close();
    await index.close();
  }
});
