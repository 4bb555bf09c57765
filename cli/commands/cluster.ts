/**
 * `cvcore cluster up|status|drain`. `up` starts a whole local cluster on this machine (real nats-server
 * processes, real node processes, the simulated camera pool) and prints what it started, as `cvcore demo` does;
 * `status` and `drain` talk to any api node over HTTP (cluster-status.ts).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { createLogger } from '../../common/log.js';
import { CACHE_DIR } from '../../common/paths.js';
import type { ClusterRole } from '../../config/index.js';
import { startLocalCluster, type LocalCluster, type LocalNodeSpec } from '../../runtime/index.js';
import type { ClusterStatus } from '../../cluster/index.js';
import type { Command } from '../command.js';
import { reportError, runUntilSignal } from '../run.js';
import { CLUSTER_DRAIN_USAGE, CLUSTER_STATUS_USAGE, clusterDrain, clusterStatus } from './cluster-status.js';

const UP_USAGE = 'cvcore cluster up [--servers 3] [--nodes 3] [--cameras 3] [--fps 1] [--shards 4] [--capacity C] [--port 8080] [--data-dir DIR] [--threshold N]';

/**
 * The roles of node k of n in a local cluster: every node analyses and indexes (each shard gets a replica per
 * index node, so any one node may die), and the first two also serve the API (so one may die too).
 */
export function localRoles(k: number, n: number): ClusterRole[] {
  return k < Math.min(2, n) ? ['analytics', 'index', 'api'] : ['analytics', 'index'];
}

async function waitAssigned(cluster: LocalCluster, cameras: number, timeoutMs: number): Promise<ClusterStatus | null> {
  const api = cluster.nodes.find((n) => n.apiUrl)?.apiUrl;
  if (!api) return null;
  const deadline = Date.now() + timeoutMs;
  let last: ClusterStatus | null = null;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${api}/api/v1/cluster`, { headers: { authorization: 'Bearer demo-admin' } });
      if (res.ok) {
        last = await res.json() as ClusterStatus;
        if (last.leases.filter((l) => !l.stale).length >= cameras) return last;
      }
    } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  return last;
}

async function up(args: string[]): Promise<number> {
  let cluster: LocalCluster | null = null;
  try {
    const { values } = parseArgs({
      args, strict: true,
      options: {
        servers: { type: 'string', default: '3' },
        nodes: { type: 'string', default: '3' },
        cameras: { type: 'string', default: '3' },
        fps: { type: 'string', default: '1' },
        shards: { type: 'string', default: '4' },
        capacity: { type: 'string' },
        port: { type: 'string', default: '8080' },
        threshold: { type: 'string', default: '3' },
        'data-dir': { type: 'string', default: resolve(CACHE_DIR, 'cluster-data') },
      },
    });
    const int = (name: string, v: string | undefined, min: number, max: number): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} must be an integer from ${min} to ${max}`);
      return n;
    };
    const servers = int('servers', values.servers, 1, 9);
    const n = int('nodes', values.nodes, 1, 16);
    const cameras = int('cameras', values.cameras, 1, 64);
    const fps = Number(values.fps);
    if (!(fps > 0 && fps <= 30)) throw new RangeError('--fps must be a number in (0, 30]');
    // Room for one node's cameras to move when it dies.
    const capacity = values.capacity !== undefined ? int('capacity', values.capacity, 1, 1000) : Math.max(1, Math.ceil(cameras / Math.max(1, n - 1)));
    const nodes: LocalNodeSpec[] = Array.from({ length: n }, (_, k) => ({ id: `node-${k + 1}`, roles: localRoles(k, n) }));
    const log = createLogger();
    process.stdout.write(`starting ${servers} nats-server(s), ${n} node(s) and ${cameras} simulated camera(s) in ${values['data-dir']} ...\n`);
    cluster = await startLocalCluster({
      dir: values['data-dir'], servers, nodes, cameras, fps, capacity, shards: int('shards', values.shards, 1, 256),
      threshold: int('threshold', values.threshold, 1, 1000), apiPort: int('port', values.port, 1, 65535),
      // Several node processes share this machine's cores: one inference thread each.
      extra: { inference: { workers: 1 } }, log,
    });
    const status = await waitAssigned(cluster, cameras, 180_000);
    const out = (s = ''): boolean => process.stdout.write(s + '\n');
    out('cvcore cluster is running');
    for (const s of cluster.nats.servers) out(`  nats-server   ${s.name}  ${s.url}  (JetStream, routes, users from nats-cluster.conf)`);
    out(`  camera pool   RTSP server on 127.0.0.1:${cluster.sim.clientPort}, ffmpeg publishers looping vtest.avi (${cameras} cameras at ${fps} fps)`);
    for (const node of cluster.nodes) {
      const cams = status?.nodes.find((x) => x.id === node.id)?.cameras ?? [];
      out(`  node          ${node.id}  pid ${node.pid ?? '-'}  roles ${node.roles.join('+')}${node.apiUrl ? `  API ${node.apiUrl}` : ''}  cameras: ${cams.join(', ') || '-'}  log ${node.logPath}`);
    }
    if (status && status.unassigned.length > 0) out(`  unassigned    ${status.unassigned.join(', ')}`);
    const api = cluster.nodes.find((x) => x.apiUrl)?.apiUrl ?? 'http://127.0.0.1:8080';
    out('');
    out('Try:');
    out(`  npx cvcore cluster status --api ${api} --token demo-admin`);
    out(`  npx cvcore search --api ${api} --token demo-investigator-ps --class person`);
    out(`  npx cvcore alerts tail --url ${cluster.nats.url}`);
    out(`  kill -9 <a node's pid>     # its cameras move to the others within ~15 s`);
    out(`  web console: ${api}/console/ (demo tokens: demo-admin, demo-operator, demo-investigator-ps)`);
    out('Ctrl-C stops everything.');
    const c = cluster;
    return await runUntilSignal(() => c.stop());
  } catch (err) {
    await cluster?.stop();
    return reportError(err);
  }
}

export const clusterCommand: Command = {
  name: 'cluster',
  summary: 'cluster mode: start a local cluster (up), show a cluster (status), move a node\'s cameras away (drain)',
  usage: [UP_USAGE, `       ${CLUSTER_STATUS_USAGE}`, `       ${CLUSTER_DRAIN_USAGE}`].join('\n'),
  async run(args) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'up': return up(rest);
      case 'status': return clusterStatus(rest);
      case 'drain': return clusterDrain(rest);
      default:
        process.stderr.write(`usage: ${this.usage}\n`);
        return 2;
    }
  },
};
