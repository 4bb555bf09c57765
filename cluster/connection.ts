/**
 * A node's NATS connection to the cluster: every server URL, reconnecting for ever (a server down is a status,
 * not a crash), with the user its roles call for. Wrong credentials are a typed error at start.
 */
import { connect, type NatsConnection } from 'nats';
import { ClusterError } from '../common/errors.js';
import type { ClusterRole } from '../config/index.js';
import { CLUSTER_USERS } from './subjects.js';

export interface ClusterConnectOptions {
  /** One URL or several, comma-separated. */
  readonly servers: string;
  readonly user: string;
  readonly pass: string;
  readonly name: string;
}

export async function connectCluster(o: ClusterConnectOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: o.servers.split(',').map((s) => s.trim()).filter((s) => s.length > 0),
      user: o.user, pass: o.pass, name: o.name,
      timeout: 5_000, maxReconnectAttempts: -1, reconnectTimeWait: 250, ignoreAuthErrorAbort: true,
      // Leases are renewed every couple of seconds: a dead server must be noticed within that.
      pingInterval: 2_000, maxPingOut: 2,
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'AUTHORIZATION_VIOLATION') {
      throw new ClusterError('CLUSTER_NATS_PERMISSION', `NATS at ${o.servers} refused user "${o.user}": check nats.user / nats.pass (or NATS_USER / NATS_PASS)`, { cause: err, detail: { user: o.user } });
    }
    throw new ClusterError('CLUSTER_NATS_UNREACHABLE', `the NATS cluster at ${o.servers} cannot be reached: ${(err as Error).message}`, { cause: err });
  }
}

/** The nats-cluster.conf user for a set of roles: the role's own user, or `node` for several. */
export function userForRoles(roles: readonly ClusterRole[]): string {
  return roles.length === 1 ? CLUSTER_USERS[roles[0]!] : CLUSTER_USERS.node;
}
