/**
 * The cluster's typed state: what lives in its key-value buckets and what `cvcore cluster status` and
 * GET /api/v1/cluster report.
 */
import type { ClusterRole } from '../config/index.js';

/** A node's membership entry (KV CVCORE_NODES, key = node id), renewed every `renewMs`. */
export interface NodeInfo {
  readonly id: string;
  readonly roles: readonly ClusterRole[];
  /**
   * Random per data directory, kept in <dataDir>/cluster-instance: a restarted node presents the same one and
   * resumes its identity; another process given the same id presents another and is refused while this renews.
   */
  readonly instance: string;
  readonly startedAt: number;
  readonly renewedAt: number;
  /** Cameras this node takes at most (analytics). */
  readonly capacity: number;
  /** Shards it holds (index). */
  readonly shards: readonly number[];
  /** Where other nodes reach its API (clips, live view); null when it serves none. */
  readonly apiUrl: string | null;
  /** Set by `cvcore cluster drain`: the node hands its cameras back and takes no new ones. */
  readonly draining: boolean;
}

/** A camera's lease (KV CVCORE_LEASES, key = camera id). Taken over by a revision-checked update once stale. */
export interface Lease {
  readonly cameraId: string;
  readonly node: string;
  readonly instance: string;
  /** Grows by one each time the camera changes owner: alerts decided under an older epoch are fenced. */
  readonly epoch: number;
  readonly acquiredAt: number;
  readonly renewedAt: number;
}

export interface ClusterNodeStatus extends NodeInfo {
  /** Renewed within the lease TTL. */
  readonly alive: boolean;
  /** Cameras it holds a live lease on. */
  readonly cameras: readonly string[];
}

export interface ClusterLeaseStatus extends Lease {
  readonly stale: boolean;
}

/** One index replica's durable consumer on one shard of one record stream. */
export interface ClusterConsumerStatus {
  readonly node: string;
  readonly stream: string;
  readonly shard: number;
  readonly consumer: string;
  /** Records in the stream the consumer has not been delivered yet. */
  readonly pending: number;
  /** Delivered, not yet acknowledged (not yet durably in RocksDB). */
  readonly ackPending: number;
}

export interface ClusterStatus {
  readonly at: number;
  readonly shards: number;
  readonly replicas: number;
  readonly nodes: readonly ClusterNodeStatus[];
  readonly leases: readonly ClusterLeaseStatus[];
  /** Enabled cameras of the pool without a live lease (waiting for capacity, or being taken over). */
  readonly unassigned: readonly string[];
  readonly consumers: readonly ClusterConsumerStatus[];
  /** Shards with no live index replica. */
  readonly shardsWithoutReplica: readonly number[];
}
