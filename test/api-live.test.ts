import test from 'ava';
import { createRequire } from 'node:module';
import type { CrowdAlertV1 } from '../alerts/index.js';
import { startHarness, TOKENS, T0, type ApiHarness } from './support/api-app.js';

/** What the test uses of a ws client (ws ships no types here). */
interface WsClient {
  on(ev: 'message', fn: (data: Buffer) => void): void;
  on(ev: 'open' | 'close', fn: () => void): void;
  on(ev: 'unexpected-response', fn: (req: { destroy(): void }, res: { statusCode: number }) => void): void;
  on(ev: 'error', fn: (err: Error) => void): void;
  close(): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => WsClient;

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 1 }); });
test.after.always(async () => { await h?.close(); });

function connect(token: string | null): Promise<{ ws: WsClient; messages: Array<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/v1/live${token ? `?token=${token}` : ''}`);
    const messages: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
    ws.on('unexpected-response', (req, res) => {
      // With this listener set, ws leaves the refused request open: close it so the process can exit.
      req.destroy();
      reject(Object.assign(new Error('refused'), { status: res.statusCode }));
    });
    ws.on('error', reject);
    ws.on('open', () => resolve({ ws, messages }));
  });
}

const until = async (fn: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

function alert(camera: string): CrowdAlertV1 {
  return {
    schemaVersion: 1, kind: 'crowd', id: `inc-${camera}`, messageId: `m-${camera}`, seq: 1, phase: 'raised', district: 'shinan', camera, zone: 'plaza',
    location: null, count: 9, threshold: 8, density: null, windowMs: 3000, severity: 'low', startedAt: T0, at: T0 + 3000, emittedAt: T0 + 3001,
    publishedAt: null, evidence: [8, 9, 9], snapshotRef: `/api/v1/snapshots/${camera}-7`, node: 'test',
  };
}

test('api - the live WebSocket delivers zone counts and alerts of the caller\'s cameras only', async (t) => {
  const ps = await connect(TOKENS.ps);
  const traffic = await connect(TOKENS.traffic);
  t.teardown(() => { ps.ws.close(); traffic.ws.close(); });
  await until(() => ps.messages.length > 0 && traffic.messages.length > 0);
  t.like(ps.messages[0], { type: 'hello', tokenId: 'inv-ps', departments: ['public-security'] });
  await until(() => h.events.listeners === 2);

  h.events.emit({ type: 'zone_count', count: { cameraId: 'cam-tr-1', zoneId: 'plaza', count: 5, density: null, at: T0 } });
  h.events.emit({ type: 'zone_count', count: { cameraId: 'cam-ps-1', zoneId: 'plaza', count: 3, density: null, at: T0 } });
  h.events.emit({ type: 'alert', alert: alert('cam-ps-2') });
  h.events.emit({ type: 'dropped', cameraId: 'cam-ps-1', total: 1, at: T0 });
  await until(() => ps.messages.length >= 3 && traffic.messages.length >= 2);
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(ps.messages.slice(1).map((m) => m['type']), ['zone_count', 'alert']);
  t.like(ps.messages[1], { count: { cameraId: 'cam-ps-1', count: 3 } });
  t.like(ps.messages[2], { alert: { camera: 'cam-ps-2', phase: 'raised' } });
  t.deepEqual(traffic.messages.slice(1), [{ type: 'zone_count', count: { cameraId: 'cam-tr-1', zoneId: 'plaza', count: 5, density: null, at: T0 } }]);

  ps.ws.close();
  traffic.ws.close();
  await until(() => h.events.listeners === 0);
  t.pass();
});

test('api - the live WebSocket refuses a missing or wrong token with 401', async (t) => {
  for (const token of [null, 'wrong-token']) {
    const err = await t.throwsAsync(connect(token));
    t.is((err as Error & { status?: number }).status, 401);
  }
});

test('api - alerts, zone counts and snapshots are scoped to the caller\'s cameras', async (t) => {
  h.history.alerts = [alert('cam-ps-1'), alert('cam-tr-1')];
  h.history.counts = [{ cameraId: 'cam-ps-1', zoneId: 'plaza', count: 1, density: null, at: T0 }, { cameraId: 'cam-tr-1', zoneId: 'plaza', count: 2, density: null, at: T0 }];
  h.history.snapshots.set('cam-tr-1-7', new Uint8Array([0xff, 0xd8, 0xff, 0xd9]));
  const a = await (await h.get('/api/v1/alerts', TOKENS.ps)).json() as { alerts: CrowdAlertV1[] };
  t.deepEqual(a.alerts.map((x) => x.camera), ['cam-ps-1']);
  const z = await (await h.get('/api/v1/zones', TOKENS.traffic)).json() as { zones: { cameraId: string }[] };
  t.deepEqual(z.zones.map((x) => x.cameraId), ['cam-tr-1']);
  t.is((await h.get('/api/v1/snapshots/cam-tr-1-7', TOKENS.ps)).status, 404);
  const snap = await h.get('/api/v1/snapshots/cam-tr-1-7', TOKENS.traffic);
  t.is(snap.status, 200);
  t.is(snap.headers.get('content-type'), 'image/jpeg');
  const all = await (await h.get('/api/v1/alerts?limit=1', TOKENS.admin)).json() as { alerts: CrowdAlertV1[] };
  t.is(all.alerts.length, 1);
});
