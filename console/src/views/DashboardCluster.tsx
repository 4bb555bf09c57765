/**
 * The dashboard's cluster card (cluster mode): nodes with their roles, liveness, cameras against capacity and
 * drain state; shards without a live replica (a warning); unassigned cameras; each index consumer's lag. It
 * polls GET /api/v1/cluster and stays hidden where that answers 404 (a single node) or 403 (investigators).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { useSession } from '../context';
import type { ClusterStatus } from '../types';

const POLL_MS = 5000;

export function ClusterPanel() {
  const { client, t, fmt } = useSession();
  const [status, setStatus] = useState<ClusterStatus | null>(null);

  useEffect(() => {
    let closed = false;
    let timer: ReturnType<typeof setInterval> | null = null;
    const poll = async (): Promise<void> => {
      try {
        const s = await client.cluster();
        if (!closed) setStatus(s);
      } catch (err) {
        // Not a cluster, or not this token's to see: neither changes while the page is open, so stop asking.
        if (err instanceof ApiError && (err.status === 404 || err.status === 403)) {
          if (timer) clearInterval(timer);
          if (!closed) setStatus(null);
        }
        // Anything else (the cluster briefly unreadable): keep the last status and try again.
      }
    };
    timer = setInterval(() => { void poll(); }, POLL_MS);
    void poll();
    return () => { closed = true; if (timer) clearInterval(timer); };
  }, [client]);

  if (!status) return null;
  return (
    <div class="card" data-testid="cluster">
      <h2>{t('cluster')} <small class="hint">{status.shards} {t('clusterShards')} × {status.replicas} {t('clusterReplicas')} · {fmt.time(status.at)}</small></h2>
      {status.shardsWithoutReplica.length > 0 && (
        <p class="status warn" data-testid="cluster-no-replica">⚠ {t('shardsWithoutReplica')}: {status.shardsWithoutReplica.join(', ')}</p>
      )}
      <table data-testid="cluster-nodes">
        <thead><tr><th>{t('node')}</th><th>{t('nodeRoles')}</th><th>{t('nodeAlive')}</th><th>{t('nodeCameras')}</th></tr></thead>
        <tbody>
          {status.nodes.map((n) => (
            <tr data-node={n.id}>
              <td>{n.draining && <span class="badge state-backoff">{t('nodeDraining')}</span>}<b>{n.id}</b></td>
              <td>{n.roles.join(', ')}</td>
              <td><span class={`badge ${n.alive ? 'state-live' : 'state-failed'}`}>{n.alive ? t('yes') : t('no')}</span></td>
              <td>{n.cameras.length} / {n.capacity}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p data-testid="cluster-unassigned">{t('unassignedCameras')}: {status.unassigned.length ? <span class="status warn">{status.unassigned.join(', ')}</span> : t('none')}</p>
      {status.consumers.length > 0 && (
        <table data-testid="cluster-consumers">
          <thead><tr><th>{t('consumers')}</th><th>{t('node')}</th><th>{t('shard')}</th><th>{t('pending')}</th><th>{t('ackPending')}</th></tr></thead>
          <tbody>
            {status.consumers.map((c) => (
              <tr><td><code>{c.consumer}</code> <small>{c.stream}</small></td><td>{c.node}</td><td>{c.shard}</td><td>{c.pending}</td><td>{c.ackPending}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
