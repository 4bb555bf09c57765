/**
 * Live view over the real API: a WebSocket client receives MPEG-TS (sync byte 0x47 every 188 bytes) relayed
 * by ffmpeg from the simulated camera; the (cap+1)th viewer is refused; the relay stops after the last viewer
 * leaves and the idle delay passes.
 */
import test from 'ava';
import { createRequire } from 'node:module';
import { TEST_OPERATOR_TOKEN, simCamera, sleep, startCameraApi, startSim, testSettings, until } from './support/ingest.js';

/** The slice of the ws client used here (ws ships no types in this tree). */
interface WsClient {
  on(event: 'message', fn: (data: Buffer) => void): void;
  on(event: 'open', fn: () => void): void;
  on(event: 'close', fn: (code: number) => void): void;
  on(event: 'unexpected-response', fn: (req: unknown, res: { statusCode: number }) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  close(): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => WsClient;

const open = (url: string): Promise<{ ws: WsClient; bytes: Buffer[] }> => new Promise((resolve, reject) => {
  const ws = new WebSocket(url);
  const bytes: Buffer[] = [];
  ws.on('message', (d) => bytes.push(d));
  ws.on('open', () => resolve({ ws, bytes }));
  ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
  ws.on('error', reject);
});
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('ingest - live view relays MPEG-TS to WebSocket viewers, caps them and stops when idle', async (t) => {
  t.timeout(90_000);
  const { sim, pool, stop } = await startSim([{ id: 'live', source: 'vtest' }], testSettings({ liveMaxViewers: 2, liveIdleMs: 1_000 }));
  const api = await startCameraApi(pool);
  try {
    // Analysis off: the relay reads the camera on its own.
    pool.add(simCamera(sim, 'live', { enabled: false }));
    const wsUrl = `${api.url.replace('http', 'ws')}/api/v1/cameras/live/live?token=${TEST_OPERATOR_TOKEN}`;
    const a = await open(wsUrl);
    const b = await open(wsUrl);
    t.is(pool.live.viewers('live'), 2);
    const refused = await t.throwsAsync(open(wsUrl));
    t.is((refused as Error & { status?: number }).status, 503, 'the third viewer is refused');
    const missing = await t.throwsAsync(open(wsUrl.replace('/live/live', '/nope/live')));
    t.is((missing as Error & { status?: number }).status, 404);

    await until('200 TS packets', 30_000, () => Buffer.concat(a.bytes).length >= 188 * 200);
    const ts = Buffer.concat(a.bytes);
    // ffmpeg writes whole TS packets, so the stream starts on a packet boundary.
    for (let i = 0; i + 188 <= ts.length; i += 188) {
      if (ts[i] !== 0x47) { t.fail(`no sync byte at ${i}`); break; }
    }
    await until('the second viewer fed too', 5_000, () => b.bytes.length > 0);

    const pid = pool.live.pid('live');
    t.truthy(pid);
    a.ws.close();
    b.ws.close();
    await until('viewers gone', 5_000, () => pool.live.viewers('live') === 0);
    await sleep(300);
    t.true(pool.live.running('live'), 'the relay waits out the idle delay');
    await until('the relay to stop', 10_000, () => !pool.live.running('live') && !alive(pid!));
    t.pass();
  } finally {
    await api.close();
    await stop();
  }
});
