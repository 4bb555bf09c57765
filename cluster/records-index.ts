/**
 * Records, search and audit in cluster mode: the barrel of this part (cluster/index.ts re-exports it).
 * Analytics nodes publish records (RecordPublisher); index nodes ingest their shards (ShardConsumer) and answer
 * searches for them (SearchService); api nodes search every shard through ClusterIndex (a SearchIndex, so the
 * HTTP API is unchanged) and keep a local copy of the audit trail (AuditMaterialiser). Erasures reach every
 * replica through the erasure stream (ErasureApplier on index nodes; ClusterIndex.erase on the api).
 */
export { decodeRecord as decodeRecordPayload, encodeRecord as encodeRecordPayload } from './record-codec.js';
export {
  RECORD_KINDS, RECORD_STREAM_LIMITS, RecordPublisher, STREAM_OF_KIND, ensureRecordStreams, kindOf,
  type RecordKind, type RecordPublisherOptions, type RecordPublisherStats, type RecordStreamOptions,
} from './records.js';
export {
  SHARD_CONSUMER_DEFAULTS, ShardConsumer, consumerName, heldShards,
  type ShardConsumerOptions, type ShardConsumerStats,
} from './shard-consumer.js';
export { QUERY_ROUNDS, SearchService, type SearchServiceOptions } from './search-service.js';
export { ClusterIndex, compareOrder, decodeClusterCursor, encodeClusterCursor, type ClusterIndexOptions } from './scatter.js';
export {
  AUDIT_STREAM_LIMITS, AuditMaterialiser, AuditPublisher, auditConsumerName, checkAuditEntry, ensureAuditStream,
  type AuditMaterialiserOptions,
} from './audit-trail.js';
export {
  ERASURE_DEFAULTS, ErasureApplier, awaitReplicas, decodeErasureMessage, deleteFromRecordLog, encodeErasureMessage, ensureErasureStream,
  eraseAlarmFrames, erasureConsumerName, frameTimeOf, publishErasure, resetErasureConsumers,
  type ErasureApplierOptions, type FrameTrack, type ErasureApplierStats, type ErasureMessage, type ErasureStreamOptions,
} from './erasure.js';
export { clusterError, ensureStream, isTransient, withRetry, type RetryOptions, type StreamLimits } from './js-util.js';
