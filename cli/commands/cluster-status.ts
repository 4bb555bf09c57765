/**
 * `cvcore cluster status` and `cvcore cluster drain NODE`: a cluster's state and a node's drain, through the
 * HTTP API of any node that serves it (GET /api/v1/cluster, POST /api/v1/cluster/nodes/:id/drain), like
 * `cvcore cameras`. The `cvcore cluster` dispatcher calls these two functions.
 */
import { parseArgs } from 'node:util';
import type { ClusterStatus } from '../../cluster/index.js';
import { reportError } from '../run.js';

export const CLUSTER_STATUS_USAGE = 'cvcore cluster status [--api URL] [--token T] [--json]';
export const CLUSTER_DRAIN_USAGE = 'cvcore cluster drain NODE [--api URL] [--token T]';

const DEFAULT_API = (): string => process.env['CVCORE_API'] ?? 'http://127.0.0.1:8080';

/** The API base URL and the bearer token every call carries. */
interface Target { readonly base: string; readonly token: string | undefined }

/** One API call; a non-2xx answer is printed as the API's `error CODE: message` and thrown as reported. */
async function call(api: Target, method: string, path: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${api.base}${path}`, { method, headers: api.token ? { authorization: `Bearer ${api.token}` } : {} });
  } catch (cause) {
    // An operator's mistake (wrong URL, core down), not a bug: one line, no stack.
    process.stderr.write(`error: cannot reach the cvcore API at ${api.base} (${(cause as Error).message}); is the core running? (--api URL)\n`);
    throw Object.assign(new Error('unreachable', { cause }), { reported: true });
  }
  const text = await res.text();
  let json: unknown = null;
  try { json = text ? JSON.parse(text) as unknown : null; } catch { /* not JSON: shown as text below */ }
  if (!res.ok) {
    const e = (json ?? {}) as { code?: string; message?: string };
    process.stderr.write(`error ${e.code ?? res.status}: ${e.message ?? text}\n`);
    throw Object.assign(new Error('api'), { reported: true });
  }
  return json;
}

const out = (s: string): void => { process.stdout.write(s + '\n'); };

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function options(args: string[], json: boolean): { api: Target; json: boolean; positionals: string[] } {
  const { values, positionals } = parseArgs({
    args, strict: true, allowPositionals: true,
    options: {
      api: { type: 'string', default: DEFAULT_API() },
      token: { type: 'string', default: process.env['CVCORE_TOKEN'] },
      ...(json ? { json: { type: 'boolean', default: false } } : {}),
    },
  });
  return { api: { base: String(values.api).replace(/\/+$/, ''), token: values.token as string | undefined }, json: values['json'] === true, positionals };
}

/** The readable form of a status: nodes, consumers' lag, unassigned cameras, shards without a replica. */
export function formatClusterStatus(s: ClusterStatus): string {
  const alive = s.nodes.filter((n) => n.alive).length;
  const lines = [`cluster at ${new Date(s.at).toISOString()}: ${s.nodes.length} node(s), ${alive} alive; ${s.shards} shard(s) x ${s.replicas} replica(s)`, ''];
  if (s.nodes.length === 0) lines.push('no nodes');
  else {
    lines.push(table([['NODE', 'ROLES', 'ALIVE', 'DRAINING', 'CAMERAS', 'LEASES', 'SHARDS', 'API'],
      ...s.nodes.map((n) => {
        const held = s.leases.filter((l) => l.node === n.id);
        const stale = held.filter((l) => l.stale).length;
        return [n.id, n.roles.join(',') || '-', n.alive ? 'yes' : 'NO', n.draining ? 'yes' : 'no', `${n.cameras.length}/${n.capacity}`,
          `${held.length - stale}${stale ? ` (+${stale} stale)` : ''}`, n.shards.join(',') || '-', n.apiUrl ?? '-'];
      })]));
  }
  lines.push('');
  if (s.consumers.length === 0) lines.push('no index consumers');
  else {
    lines.push(table([['CONSUMER', 'NODE', 'STREAM', 'SHARD', 'PENDING', 'ACK PENDING'],
      ...s.consumers.map((c) => [c.consumer, c.node, c.stream, String(c.shard), String(c.pending), String(c.ackPending)])]));
  }
  lines.push('');
  lines.push(s.unassigned.length ? `unassigned cameras (${s.unassigned.length}): ${s.unassigned.join(', ')}` : 'unassigned cameras: none');
  lines.push(s.shardsWithoutReplica.length ? `WARNING shards without a live replica: ${s.shardsWithoutReplica.join(', ')}` : 'every shard has a live replica');
  return lines.join('\n');
}

/**
 * `cvcore cluster status`. Exit 0 when every shard has a live replica and every camera is assigned, 1 when not
 * (the table says which), 2 on an error (bad arguments, API unreachable, API error, e.g. 404 on a single node).
 * With --json it prints the status object and exits 0.
 */
export async function clusterStatus(args: string[]): Promise<number> {
  try {
    const o = options(args, true);
    if (o.positionals.length) { process.stderr.write(`unexpected argument "${o.positionals[0]}"\nusage: ${CLUSTER_STATUS_USAGE}\n`); return 2; }
    const status = await call(o.api, 'GET', '/api/v1/cluster') as ClusterStatus;
    if (o.json) { out(JSON.stringify(status, null, 2)); return 0; }
    out(formatClusterStatus(status));
    return status.shardsWithoutReplica.length || status.unassigned.length ? 1 : 0;
  } catch (err) {
    if ((err as { reported?: boolean }).reported) return 2;
    return reportError(err);
  }
}

/** `cvcore cluster drain NODE`: exit 0 once the API accepted the drain, 2 on an error (CLUSTER_UNKNOWN_NODE...). */
export async function clusterDrain(args: string[]): Promise<number> {
  try {
    const o = options(args, false);
    const [node, extra] = o.positionals;
    if (!node || extra !== undefined) { process.stderr.write(`cluster drain needs one NODE\nusage: ${CLUSTER_DRAIN_USAGE}\n`); return 2; }
    await call(o.api, 'POST', `/api/v1/cluster/nodes/${encodeURIComponent(node)}/drain`);
    out(`draining ${node}: it hands its cameras to the other nodes and takes no new ones (cvcore cluster status shows the progress)`);
    return 0;
  } catch (err) {
    if ((err as { reported?: boolean }).reported) return 2;
    return reportError(err);
  }
}
