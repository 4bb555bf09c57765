/**
 * The cluster as one picture (GET /api/v1/cluster, `cvcore cluster status`, the console): nodes and whether
 * they renew, every lease, cameras nobody holds, each index replica's consumer lag, shards without a replica.
 */
import type { JetStreamManager, KV } from 'nats';
import { follow, type Versioned } from './kv.js';
import type { Membership } from './membership.js';
import { STREAMS } from './subjects.js';
import type { ClusterConsumerStatus, ClusterStatus, Lease } from './types.js';

/** A read-only view of the leases bucket (api nodes; analytics nodes have their LeaseKeeper's). */
export class LeaseView {
  readonly #leases = new Map<string, Versioned<Lease>>();
  #watch: { stop(): void } | null = null;
  async start(kv: KV): Promise<void> {
    this.#watch = await follow<Lease>(kv, (k, v) => { if (v) this.#leases.set(k, v); else this.#leases.delete(k); });
  }
  entries(): Versioned<Lease>[] { return [...this.#leases.values()]; }
  stop(): void { this.#watch?.stop(); }
}

/** Reads back shard-consumer.ts's `idx-<node>-<kind>-<shard>` (one index replica, one shard, one record stream). */
export function parseConsumerName(name: string): { node: string; kind: string; shard: number } | null {
  const m = /^idx-(.+)-(track|face)-(\d+)$/.exec(name);
  return m ? { node: m[1]!, kind: m[2]!, shard: Number(m[3]) } : null;
}

export async function consumerLag(jsm: JetStreamManager): Promise<ClusterConsumerStatus[]> {
  const out: ClusterConsumerStatus[] = [];
  for (const stream of [STREAMS.tracks, STREAMS.faces]) {
    try {
      for await (const c of jsm.consumers.list(stream)) {
        const p = parseConsumerName(c.name);
        if (!p) continue;
        out.push({ node: p.node, stream, shard: p.shard, consumer: c.name, pending: c.num_pending, ackPending: c.num_ack_pending });
      }
    } catch { /* the stream does not exist yet: no consumers */ }
  }
  return out.sort((a, b) => (a.consumer < b.consumer ? -1 : 1));
}

export interface StatusSources {
  readonly membership: Membership;
  readonly leases: () => readonly Versioned<Lease>[];
  readonly enabledCameras: () => ReadonlySet<string>;
  readonly jsm: JetStreamManager;
  readonly shards: number;
  readonly replicas: number;
  readonly ttlMs: number;
}

export async function clusterStatus(s: StatusSources): Promise<ClusterStatus> {
  const now = Date.now();
  const nodes = s.membership.nodes(now);
  const leases = s.leases().map((v) => ({ ...v.value, stale: v.value.node === '' || now - v.written >= s.ttlMs }));
  const live = leases.filter((l) => !l.stale);
  const held = new Set(live.map((l) => l.cameraId));
  const replicated = new Set<number>();
  for (const n of nodes) {
    if (!n.alive || !n.info.roles.includes('index')) continue;
    for (const sh of n.info.shards) replicated.add(sh);
  }
  return {
    at: now,
    shards: s.shards,
    replicas: s.replicas,
    nodes: nodes.map((n) => ({ ...n.info, alive: n.alive, cameras: live.filter((l) => l.node === n.info.id).map((l) => l.cameraId).sort() }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
    leases: leases.sort((a, b) => (a.cameraId < b.cameraId ? -1 : 1)),
    unassigned: [...s.enabledCameras()].filter((id) => !held.has(id)).sort(),
    consumers: await consumerLag(s.jsm),
    shardsWithoutReplica: Array.from({ length: s.shards }, (_, i) => i).filter((i) => !replicated.has(i)),
  };
}
