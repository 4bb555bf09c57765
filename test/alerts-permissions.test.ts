import test from 'ava';
import { createLogger } from '../common/log.js';
import { AlertError } from '../common/errors.js';
import { ALARM_KINDS, alarmSubject, alertSubject, DEFAULT_CORE_USER, DEFAULT_SUBSCRIBER_USER, openAlertSink } from '../alerts/index.js';
import { connectAs, crowdEvent, startNats, streamCount } from './harness/nats.js';

const quiet = createLogger({ level: 'error' });

test('alerts - a subscriber cannot publish to alert subjects, of any kind', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  // The core creates the stream and publishes one genuine alert.
  const sink = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: nats.dir, node: 'n1', log: quiet });
  await sink.submit(crowdEvent(0, 'gate'), { district: 'Shinan', location: null, snapshotRef: null });
  t.true(await sink.drain(5_000));
  await sink.close();

  const nc = await connectAs(nats.url, DEFAULT_SUBSCRIBER_USER);
  t.teardown(() => nc.close());
  const subject = alertSubject('Shinan', 'cam-1', 'gate');
  const err = await t.throwsAsync(nc.jetstream({ timeout: 2_000 }).publish(subject, new TextEncoder().encode('{"forged":true}')));
  t.regex(err?.message ?? '', /Permissions Violation for Publish/);
  nc.publish(subject, new TextEncoder().encode('{"forged":true}')); // core NATS: refused by the server too
  await nc.flush();
  // Nor a watch-list, frequency or stranger alarm: nats.conf's rules are written against citybrain.alerts.>.
  for (const kind of ALARM_KINDS) {
    const forged = await t.throwsAsync(nc.jetstream({ timeout: 2_000 }).publish(alarmSubject(kind, 'Shinan', 'cam-1'), new TextEncoder().encode('{"forged":true}')));
    t.regex(forged?.message ?? '', /Permissions Violation for Publish/);
  }
  t.is(await streamCount(nats.url), 1, 'only the genuine alert is stored');

  // And the core's start-up check names the user and the subject when it runs as the subscriber.
  const asSub = await t.throwsAsync(openAlertSink({ servers: nats.url, ...DEFAULT_SUBSCRIBER_USER, dataDir: `${nats.dir}/sub`, node: 'n2', log: quiet }), { instanceOf: AlertError });
  t.is(asSub?.code, 'ALERT_NATS_AUTH');
  t.regex(asSub?.message ?? '', /user "subscriber"/);
  t.regex(asSub?.message ?? '', /subject "citybrain\.alerts\.crowd\./);
});
