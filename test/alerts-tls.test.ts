/**
 * Alerts to a NATS that speaks TLS only: a real nats-server with a certificate from a throw-away CA (openssl),
 * the core's sink trusting that CA (nats.tls / NATS_CA), a subscriber reading the alert back over TLS; a client
 * that does not trust the CA is refused.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, connect, DeliverPolicy } from 'nats';
import { ALERT_STREAM, natsTlsOptions, openAlertSink } from '../alerts/index.js';
import { createLogger } from '../common/log.js';
import { freePort, waitForPort } from '../common/net.js';
import { spawnTracked, stopChild, which } from '../common/proc.js';
import { crowdEvent } from './harness/nats.js';

let dir = '';
let url = '';
let stopServer = async (): Promise<void> => undefined;
const USER = { user: 'core', pass: 'tls-test-pass' };

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cvcore-nats-tls-'));
  const o = (args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }); };
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=cvcore test CA']);
  o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  const port = await freePort();
  await writeFile(join(dir, 'nats.conf'), [
    `listen: "127.0.0.1:${port}"`,
    `jetstream { store_dir: "${join(dir, 'js')}" }`,
    `tls { cert_file: "${join(dir, 'server.pem')}", key_file: "${join(dir, 'server.key')}", timeout: 2 }`,
    `authorization { users = [ { user: "${USER.user}", password: "${USER.pass}" } ] }`,
  ].join('\n'));
  const child = spawnTracked((await which('nats-server'))!, ['-c', join(dir, 'nats.conf')]);
  stopServer = () => stopChild(child);
  await waitForPort(port, '127.0.0.1', 15_000);
  url = `tls://127.0.0.1:${port}`;
});
test.after.always(async () => {
  await stopServer();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('alerts reach a TLS-only NATS through the configured CA, and a client without it is refused', async (t) => {
  const tls = { ca: join(dir, 'ca.pem') };
  const sink = await openAlertSink({ servers: url, ...USER, tls, dataDir: join(dir, 'outbox'), node: 'tls-node', log: createLogger({ level: 'error' }) });
  t.teardown(() => sink.close());
  const alert = await sink.submit(crowdEvent(0, 'plaza'), { district: 'shinan', location: null, snapshotRef: null });
  await sink.drain(10_000);

  const nc = await connect({ servers: url, ...USER, ...natsTlsOptions(tls) });
  t.teardown(() => nc.close());
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add(ALERT_STREAM, { durable_name: 'tls-test', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
  const consumer = await nc.jetstream().consumers.get(ALERT_STREAM, 'tls-test');
  const m = await consumer.next({ expires: 5_000 });
  t.truthy(m);
  t.is((m!.json() as { id: string }).id, alert.id);

  // Without the CA the server's certificate is not trusted: no connection.
  await t.throwsAsync(connect({ servers: url, ...USER, timeout: 3_000, reconnect: false }));
});
