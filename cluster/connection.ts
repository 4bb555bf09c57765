/**
 * A node's NATS connection to the cluster: every server URL, reconnecting for ever (a server down is a status,
 * not a crash), with the user its roles call for. Wrong credentials are a typed error at start.
 */
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import { ClusterError } from '../common/errors.js';
import { natsTlsOptions, type NatsTls } from '../alerts/index.js';
import type { ClusterRole } from '../config/index.js';
import { permissionSubject, withRetry } from './js-util.js';
import { CLUSTER_USERS, KV_BUCKETS, auditSubject, erasureSubject, recordSubject } from './subjects.js';

export interface ClusterConnectOptions {
  /** One URL or several, comma-separated. */
  readonly servers: string;
  readonly user: string;
  /** TLS to the servers (the CA, a client certificate); null or absent: as the URLs say. */
  readonly tls?: NatsTls | null;
  readonly pass: string;
  readonly name: string;
}

export async function connectCluster(o: ClusterConnectOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: o.servers.split(',').map((s) => s.trim()).filter((s) => s.length > 0),
      user: o.user, pass: o.pass, name: o.name, ...natsTlsOptions(o.tls),
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

/**
 * Proves the node's user may publish where its roles write, before it starts work: each probe is a JetStream
 * publish that expects an impossible last sequence, so the stream refuses it without storing anything, while a
 * missing permission comes back as a violation naming the subject (CLUSTER_NATS_PERMISSION).
 */
export async function checkPublishPermissions(js: JetStreamClient, subjects: readonly string[], user: string): Promise<void> {
  for (const subject of subjects) {
    // A stream whose leader is being elected answers 503 for a while: that is retried, a denial is final.
    await withRetry(`probing the permission to publish to ${subject}`, async () => {
      try {
        await js.publish(subject, new Uint8Array(0), { expect: { lastSequence: Number.MAX_SAFE_INTEGER }, timeout: 5_000 });
      } catch (err) {
        const denied = permissionSubject(err);
        if (denied !== null) {
          throw new ClusterError('CLUSTER_NATS_PERMISSION',
            `NATS user "${user}" may not publish to "${denied}", which this node's roles need; use the user for its roles (nats-cluster.conf) or grant it`,
            { cause: err, detail: { subject: denied, user } });
        }
        // The stream's refusal (wrong last sequence) means the publish itself was allowed.
        if ((err as { api_error?: { err_code?: number } }).api_error?.err_code === 10071 || /wrong last sequence/i.test((err as Error).message)) return;
        throw err;
      }
    }, { retryForMs: 60_000, maxDelayMs: 2_000 });
  }
}

/** The subjects each role writes to (probed at start). */
export function probeSubjects(roles: readonly ClusterRole[]): string[] {
  const out: string[] = [`$KV.${KV_BUCKETS.nodes}._probe`];
  if (roles.includes('analytics')) {
    out.push(`$KV.${KV_BUCKETS.leases}._probe`, `$KV.${KV_BUCKETS.incidents}._probe`, `$KV.${KV_BUCKETS.snapshots}._probe`, recordSubject('track', 0), recordSubject('face', 0));
  }
  if (roles.includes('api')) {
    out.push(`$KV.${KV_BUCKETS.cameras}._probe`, `$KV.${KV_BUCKETS.tokens}._probe`, `$KV.${KV_BUCKETS.issuedTokens}._probe`, auditSubject('_probe'),
      erasureSubject(0), `$KV.${KV_BUCKETS.snapshots}._probe`);
  }
  return out;
}
