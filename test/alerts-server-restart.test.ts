import test from 'ava';
import { createLogger } from '../common/log.js';
import { DEFAULT_CORE_USER, openAlertSink } from '../alerts/index.js';
import { crowdEvent, readDurable, startNats, zoneOrderViolations } from './harness/nats.js';

const quiet = createLogger({ level: 'error' });

test('alerts - restart nats-server while alerts flow: a durable consumer gets each alert once, in order per zone', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const sink = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: nats.dir, node: 'n1', log: quiet });
  t.teardown(() => sink.close());
  const zones = ['gate', 'plaza', 'exit'];
  const perZone = 40;
  const ctx = { district: 'Shinan', location: null, snapshotRef: null };
  let restarted = false;
  let sawDisconnected = false;
  for (let i = 0; i < perZone; i++) {
    for (const z of zones) await sink.submit(crowdEvent(i, z), ctx);
    if (i === 15) {
      // Restart without awaiting between submits' publishes: some are in flight when the server goes.
      await nats.down();
      for (let k = 0; k < 50 && sink.status().connected; k++) await new Promise((r) => setTimeout(r, 20));
      sawDisconnected = !sink.status().connected;
    }
    if (i === 25 && !restarted) { await nats.start(); restarted = true; }
    await new Promise((r) => setTimeout(r, 3));
  }
  t.true(sawDisconnected, 'status reports the outage');
  t.true(await sink.drain(20_000), 'outbox empties after the restart');
  const got = await readDurable(nats.url, 'restart-check', zones.length * perZone);
  t.is(got.length, zones.length * perZone);
  t.is(new Set(got.map((a) => a.messageId)).size, got.length, 'no duplicates');
  t.deepEqual(zoneOrderViolations(got), []);
  t.is(sink.status().outboxDepth, 0);
});
