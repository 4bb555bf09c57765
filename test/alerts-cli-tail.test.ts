import test from 'ava';
import { createLogger } from '../common/log.js';
import { AlertError } from '../common/errors.js';
import { DEFAULT_CORE_USER, DEFAULT_SUBSCRIBER_USER, openAlertSink } from '../alerts/index.js';
import { alertsCommand, parseTailArgs, tailAlerts } from '../cli/commands/alerts.js';
import { crowdEvent, startNats } from './harness/nats.js';

const quiet = createLogger({ level: 'error' });

test('alerts - cvcore alerts tail reads a durable consumer, acknowledges, and names the user on refusal', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const sink = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: nats.dir, node: 'n1', log: quiet });
  t.teardown(() => sink.close());
  for (let i = 0; i < 3; i++) await sink.submit(crowdEvent(i, 'gate'), { district: 'Shinan', location: null, snapshotRef: 'cam-1/7' });
  await sink.submit(crowdEvent(0, 'pier'), { district: 'Laoshan', location: null, snapshotRef: null });
  t.true(await sink.drain(5_000));

  const base = ['--url', nats.url, '--durable', 'desk-1', '--subject', 'citybrain.alerts.crowd.Shinan.>'];
  const lines: string[] = [];
  t.is(await tailAlerts(parseTailArgs([...base, '--json', '--count', '3', '--timeout-ms', '5000'], {}), (l) => lines.push(l)), 0);
  t.deepEqual(lines.map((l) => (JSON.parse(l) as { count: number; district: string }).count), [20, 21, 22]);
  // Acknowledged: the same durable has nothing left; the count is not reached before the timeout (exit 3).
  const again: string[] = [];
  t.is(await tailAlerts(parseTailArgs([...base, '--count', '1', '--timeout-ms', '500'], {}), (l) => again.push(l)), 3);
  t.deepEqual(again, []);
  // Text lines for people.
  const text: string[] = [];
  t.is(await tailAlerts(parseTailArgs(['--url', nats.url, '--durable', 'desk-2', '--count', '4', '--timeout-ms', '5000'], {}), (l) => text.push(l)), 0);
  // Zones publish independently, so only a zone's own order is fixed in the stream.
  t.is(text.length, 4);
  t.regex(text.find((l) => l.includes('Laoshan')) ?? '', /raised +medium +Laoshan\/cam-1\/pier count=20 threshold=15/);

  const wrong = await t.throwsAsync(tailAlerts(parseTailArgs(['--url', nats.url, '--pass', 'nope', '--timeout-ms', '500'], {}), () => undefined), { instanceOf: AlertError });
  t.is(wrong?.code, 'ALERT_NATS_AUTH');
  t.regex(wrong?.message ?? '', new RegExp(`user "${DEFAULT_SUBSCRIBER_USER.user}"`));
  // The core may not create consumers: the refusal names the JetStream API subject.
  const asCore = await t.throwsAsync(tailAlerts(parseTailArgs(['--url', nats.url, '--user', 'core', '--pass', DEFAULT_CORE_USER.pass, '--timeout-ms', '500'], {}), () => undefined));
  t.regex(asCore?.message ?? '', /user "core" on subject "\$JS\.API\.CONSUMER\./);

  t.is(await alertsCommand.run(['follow']), 2);
  t.throws(() => parseTailArgs(['--count', '0'], {}), { instanceOf: RangeError, message: /--count/ });
});
