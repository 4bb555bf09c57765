/** Nobody reads the queue: frames are dropped oldest-first and counted, memory stays at the queue's bound. */
import test from 'ava';
import { simCamera, sleep, startSim, testSettings, until } from './support/ingest.js';

test('ingest - a slow consumer makes drops rise while queue depth and bytes stay bounded', async (t) => {
  t.timeout(60_000);
  const { sim, pool, stop } = await startSim([{ id: 'slow', source: 'synthetic' }], testSettings({ queueSize: 3 }));
  try {
    pool.add(simCamera(sim, 'slow', { fps: 10 }));
    const r = pool.get('slow');
    const frameBytes = 320 * 240 * 3;
    let dropEvents = 0;
    pool.on((e) => { if (e.type === 'dropped') dropEvents++; });
    await until('live', 20_000, () => r.state === 'live');
    const samples: { dropped: number; depth: number; bytes: number }[] = [];
    for (let i = 0; i < 8; i++) {
      await sleep(500);
      samples.push({ dropped: r.queue.dropped, depth: r.queue.size, bytes: r.queue.bytes });
    }
    for (const s of samples) {
      t.true(s.depth <= 3);
      t.true(s.bytes <= 3 * frameBytes, `${s.bytes} bytes held`);
    }
    t.true(samples.at(-1)!.dropped > samples[0]!.dropped + 10, 'drops keep rising');
    t.is(r.health().framesDropped, r.queue.dropped);
    t.true(dropEvents > 10, 'each drop is a status event');
    t.is(r.state, 'live', 'a full queue is not a camera fault');
  } finally {
    await stop();
  }
});
