import test from 'ava';
import { createLogger } from '../common/log.js';
import { AlertError } from '../common/errors.js';
import { freePort } from '../common/net.js';
import { DEFAULT_CORE_USER, openAlertSink, type AlertSinkEvent } from '../alerts/index.js';
import { crowdEvent, readDurable, startNats } from './harness/nats.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const quiet = createLogger({ level: 'error' });
const ctx = { district: 'Shinan', location: null, snapshotRef: null };

test('alerts - NATS unreachable: submit keeps going into a bounded outbox, which drains once NATS is up', async (t) => {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-alerts-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const started = Date.now();
  const sink = await openAlertSink({ servers: `nats://127.0.0.1:${port}`, ...DEFAULT_CORE_USER, dataDir: dir, node: 'n1', outboxLimit: 10, log: quiet });
  t.teardown(() => sink.close());
  t.true(Date.now() - started < 5_000, 'opening does not wait for NATS');
  const events: AlertSinkEvent[] = [];
  sink.on((e) => events.push(e));
  for (let i = 0; i < 5; i++) await sink.submit(crowdEvent(i, 'gate'), ctx);
  let s = sink.status();
  t.false(s.connected);
  // Each crowd decision is two messages in the outbox: schema v1 and v2 (the limit counts messages).
  t.is(s.outboxDepth, 10);
  t.regex(s.lastError ?? '', /cannot be reached/);
  const full = await t.throwsAsync(sink.submit(crowdEvent(5, 'gate'), ctx), { instanceOf: AlertError });
  t.is(full?.code, 'ALERT_OUTBOX_FULL');
  t.is(sink.status().rejected, 1);
  t.true(events.some((e) => e.type === 'rejected' && e.code === 'ALERT_OUTBOX_FULL'));

  const nats = await startNats({ port });
  t.teardown(() => nats.stop());
  t.true(await sink.drain(15_000));
  s = sink.status();
  t.true(s.connected);
  t.is(s.published, 10);
  t.is(s.lastError, null);
  const got = await readDurable(nats.url, 'outage-check', 5);
  t.deepEqual(got.map((a) => a.count), [20, 21, 22, 23, 24]);
});

test('alerts - a malformed event is rejected before the outbox with ALERT_INVALID_EVENT', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const lines: string[] = [];
  const log = createLogger({ level: 'error', sink: (l) => lines.push(l) });
  const sink = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: nats.dir, node: 'n1', log });
  t.teardown(() => sink.close());
  const err = await t.throwsAsync(sink.submit(crowdEvent(0, 'gate', { count: Number.NaN }), ctx), { instanceOf: AlertError });
  t.is(err?.code, 'ALERT_INVALID_EVENT');
  await t.throwsAsync(sink.submit(crowdEvent(0, 'gate', { phase: 'begun' as 'raised' }), ctx), { message: /phase/ });
  t.is(sink.status().outboxDepth, 0);
  t.is(sink.status().rejected, 2);
  t.true(lines.some((l) => l.includes('ALERT_INVALID_EVENT')), 'logged');
  // A good one still goes through, with the next sequence.
  const ok = await sink.submit(crowdEvent(1, 'gate'), ctx);
  t.is(ok.seq, 1);
  t.true(await sink.drain(5_000));
});
