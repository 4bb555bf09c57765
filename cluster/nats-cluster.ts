/**
 * A local NATS cluster: N real nats-server processes on free ports, routed to each other, JetStream on, the
 * users of nats-cluster.conf. `cvcore cluster up`, the cluster tests and `bench cluster` start one; a
 * deployment runs its own servers with the same shared file.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'nats';
import { ClusterError, SetupError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { freePort, waitForPort } from '../common/net.js';
import { REPO_ROOT } from '../common/paths.js';
import { killChild, spawnTracked, stopChild, which } from '../common/proc.js';
import { CLUSTER_USERS, demoPassword } from './subjects.js';
import { jetstreamKeyEnv, JETSTREAM_KEY_FILE } from '../alerts/index.js';

export interface NatsClusterServer {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly running: boolean;
  /** SIGKILL (a crash): the store stays, `start()` brings it back on the same ports. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsCluster {
  readonly servers: readonly NatsClusterServer[];
  /** Every client URL, comma-separated (what nodes get as nats.url). */
  readonly url: string;
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  readonly servers: number;
  /** Per-server config files and stores go under here. */
  readonly dir: string;
  readonly name?: string;
  readonly log?: Logger;
  /** Default: nats-cluster.conf at the repository root. */
  readonly sharedConfig?: string;
}

/** nats-cluster.conf at the repository root (beside nats.conf). */
export function defaultClusterConfigPath(): string {
  return join(REPO_ROOT, 'nats-cluster.conf');
}

export async function startNatsCluster(o: NatsClusterOptions): Promise<NatsCluster> {
  if (!Number.isInteger(o.servers) || o.servers < 1 || o.servers > 9) throw new RangeError('servers must be an integer from 1 to 9');
  const bin = await which('nats-server');
  if (bin === null) throw new SetupError('SETUP_NATS_SERVER_MISSING', 'nats-server is not installed (Debian: apt-get install nats-server; run the set-up script)');
  const shared = o.sharedConfig ?? defaultClusterConfigPath();
  if (!existsSync(shared)) throw new SetupError('SETUP_NATS_SERVER_MISSING', `${shared} does not exist`, { detail: { shared } });
  const dir = resolve(o.dir);
  await mkdir(dir, { recursive: true });
  const name = o.name ?? 'cvcore';
  const ports = await Promise.all(Array.from({ length: o.servers }, async () => ({ client: await freePort(), route: await freePort() })));
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`).join(', ');
  const servers: NatsClusterServer[] = [];
  for (let i = 0; i < o.servers; i++) {
    const sname = `${name}-nats-${i + 1}`;
    const conf = join(dir, `${sname}.conf`);
    const store = join(dir, `${sname}-store`);
    const p = ports[i]!;
    // nats-server resolves `include` against the including file's folder, so the path is relative.
    await writeFile(conf, [
      `# Written by cvcore (cluster/nats-cluster.ts): server ${i + 1} of ${o.servers}.`,
      `server_name: ${sname}`,
      'host: 127.0.0.1',
      `port: ${p.client}`,
      `cluster { name: ${name}, listen: 127.0.0.1:${p.route}, routes: [${routes}] }`,
      `include "${relative(dir, shared)}"`,
      '',
    ].join('\n'));
    await mkdir(store, { recursive: true });
    let child: ChildProcess | null = null;
    let tail = '';
    const server: NatsClusterServer = {
      name: sname,
      port: p.client,
      url: `nats://127.0.0.1:${p.client}`,
      get running() { return child !== null; },
      async start() {
        if (child) return;
        // JetStream is encrypted at rest (nats-cluster.conf): the key from $CVCORE_JS_KEY or <dir>/keys/jetstream.key.
        const c = spawnTracked(bin, ['-c', conf, '-sd', store], { env: await jetstreamKeyEnv(join(dir, JETSTREAM_KEY_FILE)) });
        child = c;
        c.stdout?.on('data', (b: Buffer) => { tail = (tail + b.toString()).slice(-4_000); });
        c.stderr?.on('data', (b: Buffer) => { tail = (tail + b.toString()).slice(-4_000); });
        c.once('exit', () => { if (child === c) child = null; });
        try {
          await waitForPort(p.client, '127.0.0.1', 10_000);
        } catch (err) {
          throw new ClusterError('CLUSTER_NATS_UNREACHABLE', `nats-server ${sname} did not start: ${tail.trim().split('\n').slice(-3).join(' | ')}`, { cause: err });
        }
      },
      async kill() {
        if (child) await killChild(child);
      },
      async stop() {
        const c = child;
        if (c) await stopChild(c, 5_000);
      },
    };
    servers.push(server);
  }
  const url = servers.map((s) => s.url).join(',');
  const stopAll = async (): Promise<void> => { await Promise.all(servers.map((s) => s.stop())); };
  try {
    await Promise.all(servers.map((s) => s.start()));
    await waitForJetStream(url, 30_000);
  } catch (err) {
    await stopAll();
    throw err;
  }
  o.log?.info('nats cluster started', { servers: servers.map((s) => s.url) });
  return { servers, url, stop: stopAll };
}

/** Resolves once the cluster has a JetStream meta leader (it answers account info), or rejects after timeoutMs. */
export async function waitForJetStream(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const nc = await connect({ servers: url.split(','), user: CLUSTER_USERS.admin, pass: demoPassword(CLUSTER_USERS.admin), timeout: 2_000 });
      try {
        const jsm = await nc.jetstreamManager({ timeout: 2_000 });
        await jsm.getAccountInfo();
        return;
      } finally {
        await nc.close();
      }
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new ClusterError('CLUSTER_NATS_UNREACHABLE', `the NATS cluster at ${url} has no JetStream leader after ${timeoutMs} ms: ${(last as Error | null)?.message ?? 'no answer'}`);
}
