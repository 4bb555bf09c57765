/**
 * The names a cvcore cluster shares on NATS: key-value buckets, streams, subjects and the per-role users of
 * nats-cluster.conf. One place, so the permissions file, the nodes and the tools cannot drift apart.
 */

/** Key-value buckets (JetStream KV, replicated). */
export const KV_BUCKETS = {
  /** node id -> NodeInfo (membership: roles, instance, renewal time, capacity, API URL). */
  nodes: 'CVCORE_NODES',
  /** camera id -> CameraConfig (the desired camera pool; the truth in cluster mode). */
  cameras: 'CVCORE_CAMERAS',
  /** camera id -> Lease (which node analyses it, under which epoch, renewed when). */
  leases: 'CVCORE_LEASES',
  /** `<camera>.<zone>` -> the open crowd incident (so the camera's next owner continues it). */
  incidents: 'CVCORE_INCIDENTS',
  /** token id -> API token (cluster-wide; seeded from the config's api.tokens). */
  tokens: 'CVCORE_TOKENS',
  /** token id -> a token issued to a person (`cvcore tokens`, POST /api/v1/tokens): its SHA-256, never the secret. */
  issuedTokens: 'CVCORE_ISSUED_TOKENS',
  /** cluster-wide settings fixed at creation (the shard count). */
  meta: 'CVCORE_META',
  /** snapshot id -> alarm frame JPEG (kept as long as the alert stream keeps alerts). */
  snapshots: 'CVCORE_SNAPSHOTS',
} as const;

/** Streams. Records are split by what they hold so each kind keeps its own retention (README "Cluster"). */
export const STREAMS = {
  /** Track records without a face: kept trackDays (30). */
  tracks: 'CVCORE_TRACKS',
  /** Track records with a face embedding: kept faceDays (7). */
  faces: 'CVCORE_FACES',
  /** The search audit trail, written once by the api node that served the search. */
  audit: 'CVCORE_AUDIT',
  /** Erasures, one message per shard, applied by every index replica (cluster/erasure.ts); kept the longest record retention + 1 day. */
  erasures: 'CVCORE_ERASURES',
} as const;

export const SUBJECT_PREFIX = 'cvcore';
/** `cvcore.records.track.<shard>` and `cvcore.records.face.<shard>`. */
export const RECORD_SUBJECTS = { track: `${SUBJECT_PREFIX}.records.track`, face: `${SUBJECT_PREFIX}.records.face` } as const;
export const recordSubject = (kind: keyof typeof RECORD_SUBJECTS, shard: number): string => `${RECORD_SUBJECTS[kind]}.${shard}`;
/** Search requests for one shard, answered by any of its index replicas (queue group `cvcore-index-<shard>`). */
export const searchSubject = (shard: number): string => `${SUBJECT_PREFIX}.search.${shard}`;
export const searchQueue = (shard: number): string => `cvcore-index-${shard}`;
/** Erasures: `cvcore.erasures.<shard>` (stream CVCORE_ERASURES). */
export const ERASURE_SUBJECTS = `${SUBJECT_PREFIX}.erasures`;
export const erasureSubject = (shard: number): string => `${ERASURE_SUBJECTS}.${shard}`;
/** Audit entries: `cvcore.audit.<api node>`. */
export const AUDIT_SUBJECTS = `${SUBJECT_PREFIX}.audit.>`;
export const auditSubject = (node: string): string => `${SUBJECT_PREFIX}.audit.${node}`;
/** Requests to one node (clips it recorded, drain): `cvcore.node.<id>.<verb>`. */
export const nodeSubject = (node: string, verb: string): string => `${SUBJECT_PREFIX}.node.${node}.${verb}`;

/** The NATS users of nats-cluster.conf, by the roles a node has (the demo passwords are the names + "-demo-pass"). */
export const CLUSTER_USERS = {
  analytics: 'analytics',
  index: 'index',
  api: 'api',
  /** Several roles on one node. */
  node: 'node',
  admin: 'admin',
} as const;
export const demoPassword = (user: string): string => `${user}-demo-pass`;
