/**
 * A ClusterSource for the API and CLI tests: a plain object holding one real ClusterStatus value (the real
 * source, over NATS KV and JetStream, is the cluster integration tests' to exercise).
 */
import { ClusterError } from '../../common/errors.js';
import type { ClusterStatus } from '../../cluster/index.js';
import type { ClusterSource } from '../../api/index.js';
import { T0, startHarness, type ApiHarness } from './api-app.js';

/** Three nodes: two analytics+index (one draining), one index only that stopped renewing; shard 3 lost its replica. */
export const STATUS: ClusterStatus = {
  at: T0 + 60_000,
  shards: 4,
  replicas: 2,
  nodes: [
    {
      id: 'node-a', roles: ['analytics', 'index', 'api'], instance: 'i-a', startedAt: T0, renewedAt: T0 + 59_000, capacity: 8, shards: [0, 1, 2],
      apiUrl: 'http://10.0.0.1:8080', draining: false, alive: true, cameras: ['cam-ps-1', 'cam-tr-1'],
    },
    {
      id: 'node-b', roles: ['analytics', 'index'], instance: 'i-b', startedAt: T0, renewedAt: T0 + 58_500, capacity: 4, shards: [0, 1, 2],
      apiUrl: null, draining: true, alive: true, cameras: ['cam-ps-2'],
    },
    {
      id: 'node-c', roles: ['index'], instance: 'i-c', startedAt: T0, renewedAt: T0 + 10_000, capacity: 0, shards: [3],
      apiUrl: null, draining: false, alive: false, cameras: [],
    },
  ],
  leases: [
    { cameraId: 'cam-ps-1', node: 'node-a', instance: 'i-a', epoch: 3, acquiredAt: T0 + 1000, renewedAt: T0 + 59_000, stale: false },
    { cameraId: 'cam-tr-1', node: 'node-a', instance: 'i-a', epoch: 1, acquiredAt: T0 + 1000, renewedAt: T0 + 59_000, stale: false },
    { cameraId: 'cam-ps-2', node: 'node-b', instance: 'i-b', epoch: 2, acquiredAt: T0 + 2000, renewedAt: T0 + 58_500, stale: false },
    { cameraId: 'cam-old', node: 'node-c', instance: 'i-c', epoch: 5, acquiredAt: T0, renewedAt: T0 + 10_000, stale: true },
  ],
  unassigned: ['cam-old', 'cam-new'],
  consumers: [
    { node: 'node-a', stream: 'CVCORE_RECORDS', shard: 0, consumer: 'index-node-a-0', pending: 0, ackPending: 0 },
    { node: 'node-b', stream: 'CVCORE_RECORDS', shard: 0, consumer: 'index-node-b-0', pending: 12, ackPending: 3 },
    { node: 'node-c', stream: 'CVCORE_RECORDS', shard: 3, consumer: 'index-node-c-3', pending: 4000, ackPending: 64 },
  ],
  shardsWithoutReplica: [3],
};

/** Drains are recorded; `failWith` makes status() throw (an unreachable cluster). */
export class FakeCluster implements ClusterSource {
  drained: string[] = [];
  failWith: Error | null = null;
  async status(): Promise<ClusterStatus> {
    if (this.failWith) throw this.failWith;
    return STATUS;
  }
  async drain(nodeId: string): Promise<void> {
    if (!STATUS.nodes.some((n) => n.id === nodeId)) throw new ClusterError('CLUSTER_UNKNOWN_NODE', `no node "${nodeId}" in the cluster`);
    this.drained.push(nodeId);
  }
}


/** The pair both cluster API tests use: a single node (no cluster source) and one over a FakeCluster. */
export async function startClusterHarnesses(): Promise<{ single: ApiHarness; clustered: ApiHarness; cluster: FakeCluster }> {
  const cluster = new FakeCluster();
  const [single, clustered] = await Promise.all([startHarness({ perDepartment: 1 }), startHarness({ perDepartment: 1, cluster })]);
  return { single, clustered, cluster };
}
