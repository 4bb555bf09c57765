/**
 * Settings fixed when the cluster is created (KV CVCORE_META): the shard count. Records are routed by
 * `hash(camera) mod S`, so a node configured with another S would file records where no index looks: refused.
 */
import type { KV } from 'nats';
import { ClusterError } from '../common/errors.js';
import { createJson, getJson } from './kv.js';

export async function ensureShardCount(meta: KV, shards: number): Promise<void> {
  if ((await createJson(meta, 'shards', { shards, at: Date.now() })) !== null) return;
  const cur = await getJson<{ shards: number }>(meta, 'shards');
  if (cur && cur.value.shards !== shards) {
    throw new ClusterError('CLUSTER_SHARDS_CHANGED',
      `cluster.shards is ${shards} but this cluster was created with ${cur.value.shards} shards; resharding is not supported yet (set cluster.shards to ${cur.value.shards})`,
      { detail: { configured: shards, cluster: cur.value.shards, path: 'cluster.shards' } });
  }
}
