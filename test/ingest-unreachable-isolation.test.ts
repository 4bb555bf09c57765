/** An unreachable camera fails on its own: the camera next to it stays live and keeps decoding. */
import test from 'ava';
import { freePort } from '../common/net.js';
import { simCamera, sleep, startSim, testSettings, until } from './support/ingest.js';

test('ingest - an unreachable URL reaches backoff then failed without touching another camera', async (t) => {
  t.timeout(60_000);
  const { sim, pool, stop } = await startSim([{ id: 'good', source: 'synthetic' }], testSettings({ maxRetries: 2 }));
  try {
    pool.add(simCamera(sim, 'good'));
    const good = pool.get('good');
    await until('the good camera live', 20_000, () => good.state === 'live');
    const closed = await freePort();
    const badStates = new Set<string>();
    pool.on((e) => { if (e.type === 'health' && e.cameraId === 'bad') badStates.add(e.state); });
    pool.add(simCamera(sim, 'bad', { url: `rtsp://127.0.0.1:${closed}/nothing`, transport: 'tcp' }));
    const bad = pool.get('bad');
    const before = good.health().framesDecoded;
    await until('the bad camera to give up', 30_000, () => bad.state === 'failed');
    t.true(badStates.has('backoff'), [...badStates].join(', '));
    t.is(bad.health().code, 'INGEST_STREAM_UNREACHABLE');
    await sleep(1_000);
    t.is(good.state, 'live');
    t.true(good.health().framesDecoded > before + 5, 'the good camera kept decoding');
    t.is(good.health().restarts, 0);
  } finally {
    await stop();
  }
});
