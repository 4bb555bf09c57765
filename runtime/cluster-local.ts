/**
 * A whole cluster on this machine: real nats-server processes (routes, JetStream, nats-cluster.conf's users),
 * the simulated camera pool (a real RTSP server, ffmpeg publishers looping vtest.avi) and real cvcore node
 * processes (`cvcore start --config <node.json>`), each with its own data dir and log. `cvcore cluster up`,
 * the cluster tests and `bench cluster` use it; any node can be killed (SIGKILL) and started again.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, waitForPort } from '../common/net.js';
import { REPO_ROOT } from '../common/paths.js';
import { killChild, spawnTracked, stopChild } from '../common/proc.js';
import type { Logger } from '../common/log.js';
import type { ClusterRole } from '../config/index.js';
import { CLUSTER_USERS, demoPassword, startNatsCluster, type NatsCluster } from '../cluster/index.js';
import type { SimulatedCameraPool } from '../ingest/index.js';
import { demoConfig, startDemoCameras, DEMO_TOKENS } from './demo.js';

export interface LocalNodeSpec {
  readonly id: string;
  readonly roles: readonly ClusterRole[];
  /** Cameras it takes at most (analytics). */
  readonly capacity?: number;
  /** Shards it holds (index); empty: all. */
  readonly indexShards?: readonly number[];
}

export interface LocalClusterOptions {
  readonly dir: string;
  readonly servers: number;
  readonly nodes: readonly LocalNodeSpec[];
  readonly cameras: number;
  readonly fps?: number;
  readonly threshold?: number;
  readonly shards?: number;
  readonly replicas?: number;
  readonly capacity?: number;
  readonly leaseTtlMs?: number;
  readonly renewMs?: number;
  /** Config fields merged into every node's config (inference workers, tracking, ...). */
  readonly extra?: Record<string, unknown>;
  /** First API port (each api node takes the next free one from here); default: free ports. */
  readonly apiPort?: number;
  readonly log?: Logger;
}

export interface LocalNode {
  readonly id: string;
  readonly roles: readonly ClusterRole[];
  readonly configPath: string;
  readonly dataDir: string;
  readonly logPath: string;
  /** http://127.0.0.1:<port> for api nodes, else null. */
  readonly apiUrl: string | null;
  readonly running: boolean;
  readonly pid: number | null;
  start(): Promise<void>;
  /** SIGKILL: a crash, no clean-up of any kind. */
  kill(): Promise<void>;
  /** SIGTERM and wait (a clean stop hands leases back). */
  stop(): Promise<void>;
}

export interface LocalCluster {
  readonly nats: NatsCluster;
  readonly sim: SimulatedCameraPool;
  readonly nodes: readonly LocalNode[];
  node(id: string): LocalNode;
  stop(): Promise<void>;
}

const BIN = join(REPO_ROOT, 'bin', 'cvcore.js');

export async function startLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  const dir = resolve(o.dir);
  await mkdir(dir, { recursive: true });
  const nats = await startNatsCluster({ servers: o.servers, dir: join(dir, 'nats'), ...(o.log ? { log: o.log } : {}) });
  let sim: SimulatedCameraPool | null = null;
  const nodes: LocalNode[] = [];
  try {
    sim = await startDemoCameras(o.cameras);
    const base = demoConfig(sim, { cameras: o.cameras, dataDir: dir, apiPort: 0, ...(o.fps !== undefined ? { fps: o.fps } : {}), ...(o.threshold !== undefined ? { threshold: o.threshold } : {}) });
    let nextPort = o.apiPort ?? 0;
    for (const spec of o.nodes) {
      const dataDir = join(dir, spec.id);
      await mkdir(dataDir, { recursive: true });
      const api = spec.roles.includes('api');
      const port = api ? (nextPort > 0 ? nextPort++ : await freePort()) : 0;
      const user = spec.roles.length === 1 ? CLUSTER_USERS[spec.roles[0]!] : CLUSTER_USERS.node;
      const config = {
        ...(o.extra ?? {}),
        node: spec.id,
        dataDir,
        // Seeds the pool once (the first api node); afterwards the KV bucket is the truth.
        cameras: JSON.parse(JSON.stringify(base.cameras)) as unknown,
        nats: { url: nats.url, user, pass: demoPassword(user) },
        api: { ...((o.extra?.['api'] as object | undefined) ?? {}), host: '127.0.0.1', port, tokens: DEMO_TOKENS },
        cluster: {
          ...((o.extra?.['cluster'] as object | undefined) ?? {}),
          roles: spec.roles,
          shards: o.shards ?? 4,
          replicas: Math.min(o.replicas ?? 3, o.servers),
          capacity: spec.capacity ?? o.capacity ?? 4,
          indexShards: spec.indexShards ?? [],
          ...(o.leaseTtlMs !== undefined ? { leaseTtlMs: o.leaseTtlMs } : {}),
          ...(o.renewMs !== undefined ? { renewMs: o.renewMs } : {}),
        },
      };
      const configPath = join(dir, `${spec.id}.json`);
      await writeFile(configPath, JSON.stringify(config, null, 2));
      const logPath = join(dir, `${spec.id}.log`);
      let child: ChildProcess | null = null;
      const node: LocalNode = {
        id: spec.id, roles: spec.roles, configPath, dataDir, logPath,
        apiUrl: api ? `http://127.0.0.1:${port}` : null,
        get running() { return child !== null; },
        get pid() { return child?.pid ?? null; },
        async start() {
          if (child) return;
          const out = createWriteStream(logPath, { flags: 'a' });
          const c = spawnTracked(process.execPath, [BIN, 'start', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NATS_URL: '', NATS_USER: '', NATS_PASS: '' } });
          c.stdout?.pipe(out);
          c.stderr?.pipe(out);
          child = c;
          c.once('exit', () => { if (child === c) child = null; });
          if (api) await waitForPort(port, '127.0.0.1', 120_000);
        },
        async kill() {
          if (child) await killChild(child);
        },
        async stop() {
          const c = child;
          if (c) await stopChild(c, 30_000);
        },
      };
      nodes.push(node);
    }
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    await sim?.stop();
    await nats.stop();
    throw err;
  }
  const s = sim;
  let stopping: Promise<void> | null = null;
  return {
    nats, sim: s, nodes,
    node(id) {
      const n = nodes.find((x) => x.id === id);
      if (!n) throw new RangeError(`no node ${id}`);
      return n;
    },
    stop: () => (stopping ??= (async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await s.stop();
      await nats.stop();
    })()),
  };
}
