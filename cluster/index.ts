/**
 * Cluster: many cvcore nodes share the camera pool and answer as one, over a NATS JetStream cluster.
 * Membership (KV CVCORE_NODES), camera leases with fair share and self-fencing (KV CVCORE_LEASES), the desired
 * camera pool (KV CVCORE_CAMERAS), open incidents (KV CVCORE_INCIDENTS), shard routing, the local NATS cluster
 * starter, status. Used by the runtime (runtime/cluster-node.ts) through this file. See README "Cluster".
 */
export { KV_BUCKETS, STREAMS, RECORD_SUBJECTS, recordSubject, ERASURE_SUBJECTS, erasureSubject, searchSubject, searchQueue, AUDIT_SUBJECTS, auditSubject, nodeSubject, CLUSTER_USERS, demoPassword } from './subjects.js';
export { fnv1a32, shardOf, cameraOfRecordId } from './shards.js';
export { startNatsCluster, waitForJetStream, defaultClusterConfigPath, type NatsCluster, type NatsClusterServer, type NatsClusterOptions } from './nats-cluster.js';
export { openBucket, getJson, createJson, updateJson, readAll, follow, clusterErrorOf, permissionSubject, isRevisionConflict, type Versioned, type BucketOptions } from './kv.js';
export { Membership, nodeInstance, requestDrain, DRAIN_PREFIX, type MembershipOptions } from './membership.js';
export { LeaseKeeper, type LeaseKeeperOptions, type LeaseKeeperStats, type LeaseLossReason } from './leases.js';
export { ClusterCameraPool } from './camera-pool.js';
export { ensureShardCount } from './meta.js';
export { IncidentStore, incidentKey, type StoredIncident } from './incidents.js';
export { connectCluster, userForRoles, checkPublishPermissions, probeSubjects, type ClusterConnectOptions } from './connection.js';
export { clusterStatus, consumerLag, parseConsumerName, LeaseView, type StatusSources } from './status.js';
export type { NodeInfo, Lease, ClusterStatus, ClusterNodeStatus, ClusterLeaseStatus, ClusterConsumerStatus } from './types.js';
export * from './records-index.js';
