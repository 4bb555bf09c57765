/**
 * JetStream encryption at rest in the shipped configuration: the real nats-server from nats.conf, with its key
 * made beside the data key (`<dataDir>/keys/jetstream.key`, 0600) or taken from $CVCORE_JS_KEY. A stored
 * message's bytes are not in the store files; the same key reads it back after a restart. A control server
 * without encryption shows the check can fail (there the bytes are on disk).
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { JETSTREAM_KEY_ENV, startNatsServer } from '../alerts/index.js';
import { freePort, waitForPort } from '../common/net.js';
import { spawnTracked, stopChild, which } from '../common/proc.js';

const ADMIN = { user: 'admin', pass: 'admin-demo-pass' };

async function storeBytes(dir: string): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(await readFile(join(e.parentPath, e.name)));
  return Buffer.concat(out);
}

async function putSecret(nc: NatsConnection, secret: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'SECRETS', subjects: ['secret.>'] });
  await nc.jetstream().publish('secret.person', new TextEncoder().encode(secret));
}

async function getSecret(nc: NatsConnection): Promise<string> {
  const jsm = await nc.jetstreamManager();
  const m = await jsm.streams.getMessage('SECRETS', { seq: 1 });
  return new TextDecoder().decode(m.data);
}

test('alerts - JetStream stores messages encrypted with a key beside the data key; the same key reads them after a restart', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cvcore-jskey-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const saved = process.env[JETSTREAM_KEY_ENV];
  delete process.env[JETSTREAM_KEY_ENV];
  t.teardown(() => { if (saved !== undefined) process.env[JETSTREAM_KEY_ENV] = saved; });
  const secret = `person-${randomBytes(12).toString('hex')}-seen-at-gate-7`;
  const storeDir = join(dataDir, 'nats');
  let server = await startNatsServer({ storeDir });
  try {
    const nc = await connect({ servers: server.url, ...ADMIN });
    await putSecret(nc, secret);
    await nc.drain();
  } finally {
    await server.stop();
  }
  const keyFile = join(dataDir, 'keys', 'jetstream.key');
  t.is((await stat(keyFile)).mode & 0o777, 0o600, 'the key file is 0600');
  const disk = await storeBytes(storeDir);
  t.true(disk.length > 0, 'the store holds files');
  t.false(disk.includes(Buffer.from(secret)), 'the message is not in the store in clear');
  // Subjects are not secret here: nats-server 2.9 keeps its per-subject index (msgs/<n>.fss) in clear, so
  // subject names (camera ids, alert kinds) are on disk; payloads and headers are not (README, Encryption at rest).

  // The same key (from the file) opens the store again.
  server = await startNatsServer({ storeDir });
  try {
    const nc = await connect({ servers: server.url, ...ADMIN });
    t.is(await getSecret(nc), secret);
    await nc.drain();
  } finally {
    await server.stop();
  }

  // $CVCORE_JS_KEY wins over the file: a deployment's key from its secret store. One that begins with a digit
  // (nats-server would parse it as a number and stop) still starts the server.
  const other = join(dataDir, 'other');
  process.env[JETSTREAM_KEY_ENV] = `7${randomBytes(32).toString('base64')}`;
  server = await startNatsServer({ storeDir: join(other, 'nats') });
  await server.stop();
  await t.throwsAsync(stat(join(other, 'keys', 'jetstream.key')), undefined, 'no key file is made when the environment gives the key');
});

test('alerts - control: a nats-server without the cipher leaves the message in clear (the check above can fail)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-jsclear-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  await writeFile(join(dir, 'clear.conf'), `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${join(dir, 'js')}" }\n`);
  const child = spawnTracked((await which('nats-server'))!, ['-c', join(dir, 'clear.conf')]);
  const secret = `person-${randomBytes(12).toString('hex')}`;
  try {
    await waitForPort(port, '127.0.0.1', 15_000);
    const nc = await connect({ servers: `nats://127.0.0.1:${port}` });
    await putSecret(nc, secret);
    await nc.drain();
  } finally {
    await stopChild(child);
  }
  t.true((await storeBytes(join(dir, 'js'))).includes(Buffer.from(secret)));
});
