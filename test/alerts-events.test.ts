import test from 'ava';
import { createLogger } from '../common/log.js';
import { DEFAULT_CORE_USER, DEFAULT_SUBSCRIBER_USER, natsSettingsFromEnv, openAlertSink, type AlertSinkEvent } from '../alerts/index.js';
import { connectAs, startNats } from './harness/nats.js';

const quiet = createLogger({ level: 'error' });

test('alerts - zone counts and stream health go out on core NATS; while disconnected they are dropped and counted', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const sink = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: nats.dir, node: 'n1', log: quiet });
  t.teardown(() => sink.close());
  const events: AlertSinkEvent[] = [];
  sink.on((e) => events.push(e));
  const sub = await connectAs(nats.url, DEFAULT_SUBSCRIBER_USER);
  t.teardown(() => sub.close());
  const got: Array<{ subject: string; body: unknown }> = [];
  const s = sub.subscribe('citybrain.events.>', { callback: (_err, m) => got.push({ subject: m.subject, body: m.json() }) });
  await sub.flush();
  sink.publishEvent('zone_count', ['Shinan', 'cam-1', 'gate'], { count: 12, at: 1 });
  sink.publishEvent('stream_health', ['Shinan', 'cam 1'], { state: 'up' });
  for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(got, [
    { subject: 'citybrain.events.zone_count.Shinan.cam-1.gate', body: { count: 12, at: 1 } },
    { subject: 'citybrain.events.stream_health.Shinan.cam_1', body: { state: 'up' } },
  ]);
  s.unsubscribe();

  await nats.down();
  for (let i = 0; i < 100 && sink.status().connected; i++) await new Promise((r) => setTimeout(r, 20));
  t.false(sink.status().connected);
  t.true(events.some((e) => e.type === 'disconnected'));
  sink.publishEvent('zone_count', ['Shinan', 'cam-1', 'gate'], { count: 13 });
  t.is(sink.status().eventsDropped, 1);
  await nats.start();
  for (let i = 0; i < 200 && !sink.status().connected; i++) await new Promise((r) => setTimeout(r, 20));
  t.true(sink.status().connected);
  t.true(events.some((e) => e.type === 'connected'));
});

test('alerts - a deployment points the core at its cluster with NATS_URL, NATS_USER, NATS_PASS or NATS_CREDS', (t) => {
  t.deepEqual(natsSettingsFromEnv({}), { servers: null, user: DEFAULT_CORE_USER.user, pass: DEFAULT_CORE_USER.pass, credsFile: undefined });
  t.deepEqual(natsSettingsFromEnv({ NATS_URL: 'nats://a:4222,nats://b:4222', NATS_USER: 'cvcore-7', NATS_PASS: 's3cret', NATS_CREDS: '/etc/cvcore.creds' }),
    { servers: 'nats://a:4222,nats://b:4222', user: 'cvcore-7', pass: 's3cret', credsFile: '/etc/cvcore.creds' });
});
