/**
 * search-index: the stage that stores what the trackers saw so investigators can search it.
 * Takes TrackRecords (one per finished track: camera, department, time span, class, attributes, best-shot
 * JPEG, face embedding); gives attribute/time/camera queries with stable cursors, face similarity search,
 * an audit trail and retention, all enforcing the caller's department scope. See README.md for the key layout.
 */
import { SearchIndexImpl } from './store.js';
import type { IndexOptions, SearchIndex } from './types.js';

export type {
  AlarmFrame, AttributeName, AuditEntry, AuditPage, FaceMatch, FaceMatchList, FaceSearchOptions, IndexOptions, IndexStats, PlateMatch, ReadAuditOptions,
  Scope, SearchIndex, SearchPage, SearchQuery, TrackRecordSummary,
} from './types.js';
export { ATTRIBUTE_NAMES } from './types.js';
export { parseQuery, parseFaceOptions, parsePlatePattern, QUERY_LIMITS } from './query.js';
export { PLATE_CONFUSIONS } from './plate-search.js';
export { encodeThumbnail, THUMBNAIL } from './thumbnail.js';
export { INDEX_DEFAULTS, DATA_KEY_STATUS_FILE } from './store.js';
export { RETENTION_DEFAULTS } from './retention.js';
export { verifyIndex, type VerifyReport } from './verify.js';
// Encryption at rest: what `cvcore keys status` counts in a stopped core's folder.
export { indexDataKeyUsage, type IndexDataKeyUsage } from './usage.js';
// The audit trail's hash chain: checkpoints, the verifier, exports that verify on their own.
export { AUDIT_DEFAULTS } from './audit.js';
export { type AuditVerifyReport, type ChainProblem, type Checkpoint, type ProblemKind, type RedactedEntry, canonicalJson, redactEntry } from './audit-chain.js';
export { AUDIT_EXPORT_VERSION, auditKeyFromPem, verifyAuditLines, type AuditVerifyKey } from './audit-verify.js';
export type { AuditChainOptions } from './types.js';

/** The index on this node's disk: a SearchIndex that also keeps alarm frames. */
export type LocalIndex = SearchIndex & Required<Pick<SearchIndex, 'putAlarmFrame' | 'alarmFrame' | 'verifyAudit' | 'exportAudit' | 'auditCheckpoint' | 'erase' | 'reseal' | 'dataKeyStatus'>>;
// Erasure of one person's tracks (records, faces, vectors, the crowd frames that show them).
export { ERASURE_LIMITS, FRAME_BOX_TOLERANCE_MS, checkErasureRequest, blankBoxes, boxAt, type ErasureRequest, type ErasureResult } from './erase.js';

/** Opens (creating when missing) the index in `options.dir`; rejects with IndexError INDEX_IO when RocksDB cannot. */
export function openIndex(options: IndexOptions): Promise<LocalIndex> {
  return SearchIndexImpl.open(options);
}
// Key encoding, public so the micro-benchmarks time it (the layout is documented in search-index/README.md).
export { recordKey, orderSuffix, attributePrefix } from './keys.js';
// Page positions and byte helpers, public for cluster mode (cluster/): a shard's answer is paged by the index's
// own positions, and a record crosses NATS with its thumbnail and embedding bytes.
export { encodeCursor, decodeCursor, type PagePosition } from './cursor.js';
export { embeddingBytes, embeddingFromBytes } from './record.js';
// A trajectory's compact form (index records, and cluster record payloads): 12 bytes a box, times from the start.
export { packTrajectory, unpackTrajectory, TRAJECTORY_POINT_BYTES, MAX_TRAJECTORY_POINTS } from './record.js';
// One framing for a JSON head with bytes (records with their JPEG in RocksDB, cluster search answers on NATS).
export { encodeWithBytes, decodeWithBytes } from './record.js';
