/**
 * The second deployment configuration: nats-server in operator mode with creds files minted by
 * `cvcore nats creds init`. A real nats-server on the minted config; the core's sink publishes with core.creds, a
 * desk's creds file reads the alert from a durable consumer (and through `cvcore alerts tail --creds`) and cannot
 * publish; the users' permissions say what nats.conf's say.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, connect, credsAuthenticator, DeliverPolicy, type NatsConnection } from 'nats';
import { createLogger } from '../common/log.js';
import { AlertError } from '../common/errors.js';
import { REPO_ROOT } from '../common/paths.js';
import {
  ALERT_STREAM, ALERT_STREAM_V2, CORE_PERMISSIONS, SUBSCRIBER_PERMISSIONS, mintOperatorCreds, openAlertSink, startNatsServer,
  validateAlert, validateAlertV2, type NatsPermissions,
} from '../alerts/index.js';
import { natsCommand } from '../cli/commands/nats.js';
import { parseTailArgs, tailAlerts } from '../cli/commands/alerts.js';
import { crowdEvent } from './harness/nats.js';

const quiet = createLogger({ level: 'error' });

/** The allow/deny lists of one permissions block of nats.conf (`NAME = { publish: {...} subscribe: {...} }`). */
function confPermissions(conf: string, name: string): { pubAllow: string[]; pubDeny: string[]; subAllow: string[] } {
  const start = conf.indexOf(`${name} = {`);
  if (start < 0) throw new Error(`${name} not in nats.conf`);
  const block = conf.slice(start, conf.indexOf('\n  }\n', start));
  const list = (section: string, key: string): string[] => {
    const s = block.indexOf(`${section}: {`);
    const body = block.slice(s, block.indexOf('\n    }', s));
    const m = new RegExp(`${key}: \\[([^\\]]*)\\]`).exec(body);
    return m ? [...(m[1] ?? '').matchAll(/"([^"]+)"/g)].map((x) => x[1] as string).sort() : [];
  };
  return { pubAllow: list('publish', 'allow'), pubDeny: list('publish', 'deny'), subAllow: list('subscribe', 'allow') };
}
const sorted = (p: NatsPermissions) => ({ pubAllow: [...p.pub.allow].sort(), pubDeny: [...p.pub.deny].sort(), subAllow: [...p.sub.allow].sort() });

test('nats creds - the operator-mode users have the permissions of nats.conf\'s users', async (t) => {
  const conf = await readFile(join(REPO_ROOT, 'nats.conf'), 'utf8');
  t.deepEqual(sorted(CORE_PERMISSIONS), confPermissions(conf, 'CORE_PERMS'));
  t.deepEqual(sorted(SUBSCRIBER_PERMISSIONS), confPermissions(conf, 'SUBSCRIBER_PERMS'));
});

test('nats creds - tail takes NATS_CREDS unless --user/--pass are given, and --creds over both', (t) => {
  t.is(parseTailArgs([], { NATS_CREDS: '/c/desk.creds' }).creds, '/c/desk.creds');
  t.is(parseTailArgs(['--user', 'subscriber', '--pass', 'x'], { NATS_CREDS: '/c/desk.creds' }).creds, null);
  t.is(parseTailArgs(['--user', 'subscriber', '--creds', '/d.creds'], { NATS_CREDS: '/c/desk.creds' }).creds, '/d.creds');
  t.is(parseTailArgs([], {}).creds, null);
});

test('nats creds - init writes 0600 creds and seeds, never overwrites, refuses bad names', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-creds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'creds');
  const m = await mintOperatorCreds({ out, desks: ['desk', 'duty-room'] });
  t.deepEqual(Object.keys(m.creds).sort(), ['admin', 'core', 'desk', 'duty-room']);
  for (const p of [...Object.values(m.creds), ...m.seeds]) t.is((await stat(p)).mode & 0o777, 0o600, p);
  t.is((await stat(out)).mode & 0o777, 0o700);
  const config = await readFile(m.config, 'utf8');
  t.regex(config, /^operator: ey/m);
  t.regex(config, new RegExp(`^system_account: ${m.systemAccountKey}$`, 'm'));
  t.regex(config, /^resolver: MEMORY$/m);
  t.true(config.includes(`${m.accountKey}: ey`), 'the cvcore account JWT is preloaded');
  for (const p of m.seeds) t.false(config.includes((await readFile(p, 'utf8')).trim()), `no seed in the server config (${p})`);
  const core = await readFile(m.creds['core']!, 'utf8');
  t.regex(core, /BEGIN NATS USER JWT/);
  t.regex(core, /BEGIN USER NKEY SEED/);

  const again = await t.throwsAsync(mintOperatorCreds({ out }), { instanceOf: AlertError });
  t.is(again?.code, 'ALERT_CREDS_EXISTS');
  t.is(await readFile(m.creds['core']!, 'utf8'), core, 'the existing creds are untouched');
  for (const bad of [['a.b'], ['core'], [''], ['x', 'x'], []]) {
    const err = await t.throwsAsync(mintOperatorCreds({ out: join(dir, 'other'), desks: bad }), { instanceOf: AlertError });
    t.is(err?.code, 'ALERT_CREDS_BAD_NAME', JSON.stringify(bad));
  }
  // The CLI: usage errors exit 2, a refusal exits 1 with the code.
  t.is(await natsCommand.run(['creds', 'init']), 2);
  t.is(await natsCommand.run(['creds']), 2);
  t.is(await natsCommand.run(['creds', 'init', '--out', out]), 1);
});

test('nats creds - a real nats-server on the minted config: the core publishes, a desk reads and cannot publish', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-operator-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'creds');
  t.is(await natsCommand.run(['creds', 'init', '--out', out, '--desk', 'desk']), 0);
  const server = await startNatsServer({ configPath: join(out, 'nats-operator.conf'), storeDir: join(dir, 'store') });
  t.teardown(() => server.stop());

  // The core, as a deployment runs it: NATS_CREDS, no user or password.
  const sink = await openAlertSink({ servers: server.url, user: '', pass: '', credsFile: join(out, 'core.creds'), dataDir: join(dir, 'core'), node: 'n1', log: quiet });
  t.teardown(() => sink.close());
  const sent = await sink.submit(crowdEvent(0, 'gate'), { district: 'Shinan', location: null, snapshotRef: null });
  t.true(await sink.drain(10_000), 'acked by JetStream');
  t.is(sink.status().published, 2, 'the decision in schema v1 and v2');

  const asDesk = async (): Promise<NatsConnection> => connect({ servers: server.url, authenticator: credsAuthenticator(await readFile(join(out, 'desk.creds'))), timeout: 3_000 });
  const nc = await asDesk();
  t.teardown(() => nc.close());
  const read = async (stream: string): Promise<unknown> => {
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(stream, { durable_name: 'desk-test', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
    const m = await (await nc.jetstream().consumers.get(stream, 'desk-test')).next({ expires: 5_000 });
    if (m === null) throw new Error(`nothing in ${stream}`);
    m.ack();
    return m.json();
  };
  const v1 = validateAlert(await read(ALERT_STREAM));
  t.is(v1.id, sent.id);
  t.is(v1.phase, 'raised');
  const v2 = validateAlertV2(await read(ALERT_STREAM_V2));
  t.is(v2.id, sent.id);
  t.is(v2.clearReason, null);

  // The desk may not publish an alert (it would be a forged one), nor touch the stream.
  const before = (await (await nc.jetstreamManager()).streams.info(ALERT_STREAM)).state.messages;
  const forged = await t.throwsAsync(nc.jetstream().publish('citybrain.alerts.crowd.Shinan.cam-1.gate', new TextEncoder().encode('{}')));
  t.regex(String((forged as { code?: string } | undefined)?.code) + (forged?.message ?? ''), /PERMISSIONS_VIOLATION|Permissions Violation/i);
  const purge = await t.throwsAsync((await nc.jetstreamManager()).streams.purge(ALERT_STREAM));
  t.truthy(purge);
  const check = await asDesk();
  t.teardown(() => check.close());
  t.is((await (await check.jetstreamManager()).streams.info(ALERT_STREAM)).state.messages, before, 'nothing was added or purged');

  // `cvcore alerts tail --creds`: the desk's tool with its creds file (v1 and v2 trees).
  const lines: string[] = [];
  t.is(await tailAlerts(parseTailArgs(['--url', server.url, '--creds', join(out, 'desk.creds'), '--durable', 'tail-1', '--count', '1', '--timeout-ms', '10000'], {}), (l) => lines.push(l)), 0);
  t.regex(lines[0] ?? '', /raised +medium +Shinan\/cam-1\/gate/);
  const v2lines: string[] = [];
  t.is(await tailAlerts(parseTailArgs(['--url', server.url, '--creds', join(out, 'desk.creds'), '--subject', 'citybrain.v2.alerts.>', '--durable', 'tail-2', '--json', '--count', '1', '--timeout-ms', '10000'], {}), (l) => v2lines.push(l)), 0);
  t.is((JSON.parse(v2lines[0] ?? '{}') as { schemaVersion?: number }).schemaVersion, 2);
  // A desk's creds cannot be a core: its start-up probe is refused, naming the creds file and the subject.
  const deskAsCore = await t.throwsAsync(openAlertSink({ servers: server.url, user: '', pass: '', credsFile: join(out, 'desk.creds'), dataDir: join(dir, 'desk-core'), node: 'n2', log: quiet }), { instanceOf: AlertError });
  t.is(deskAsCore?.code, 'ALERT_NATS_AUTH');
  t.regex(deskAsCore?.message ?? '', /creds .*desk\.creds/);
  // The core's creds cannot read: it may not create consumers.
  const asCore = await t.throwsAsync(tailAlerts(parseTailArgs(['--url', server.url, '--creds', join(out, 'core.creds'), '--timeout-ms', '1000'], {}), () => undefined), { instanceOf: AlertError });
  t.is(asCore?.code, 'ALERT_NATS_AUTH');
});
