import test from 'ava';
import { createLogger } from '../common/log.js';
import { AlertError } from '../common/errors.js';
import { openAlertSink } from '../alerts/index.js';
import { startNats } from './harness/nats.js';

const quiet = createLogger({ level: 'error' });

test('alerts - wrong credentials give a start-up error naming the user and the subject', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  for (const [user, pass] of [['core', 'not-the-password'], ['nobody', 'x']] as const) {
    const err = await t.throwsAsync(openAlertSink({ servers: nats.url, user, pass, dataDir: `${nats.dir}/${user}`, node: 'n1', log: quiet }), { instanceOf: AlertError });
    t.is(err?.code, 'ALERT_NATS_AUTH');
    t.regex(err?.message ?? '', new RegExp(`user "${user}"`));
    t.regex(err?.message ?? '', /subject "citybrain\.alerts\.>"/);
    t.is(err?.detail['user'], user);
  }
});
