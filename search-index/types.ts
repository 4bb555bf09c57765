/**
 * Public types of the search index. Everything the pipeline and the API need to call the index lives here;
 * the implementation behind them is internal to this folder.
 */
import type { DataKeyring } from '../common/data-key.js';
import type { ObjectClass, TrackRecord } from '../common/messages.js';
import type { Logger } from '../common/log.js';
import type { NodeKey } from '../common/node-key.js';
import type { AuditVerifyReport, Checkpoint } from './audit-chain.js';
import type { AuditVerifyKey } from './audit-verify.js';

export interface IndexOptions {
  /** Folder for RocksDB and the face-vector file; created when missing. */
  dir: string;
  /** Records per write batch; a batch is written when it is full. Default 512. */
  batchSize?: number;
  /** Longest a put waits before its batch is written, ms. Default 200. */
  flushMs?: number;
  /** Days a record is kept, counted from its end time: records with a face embedding use `faceDays`. */
  retention?: { trackDays: number; faceDays: number };
  /** How often the sweeper runs, ms; 0 turns the timer off (call `sweep()` yourself). Default 10 minutes. */
  sweepIntervalMs?: number;
  /** Accepted and ignored: the face graph is no longer saved (it is rebuilt from the sealed face entries on open). */
  vectorSaveIntervalMs?: number;
  /**
   * The data key ring (common/data-key.ts `openDataKeyring`): record bytes (thumbnail, plate crop, trajectory),
   * face entries and alarm frames are sealed with it. An index sealed with another key refuses to open
   * (DATA_KEY_WRONG / DATA_KEY_UNKNOWN_ID) before it reads or writes anything.
   */
  dataKey: DataKeyring;
  /** Index entries one query page may examine before it returns what it has with a cursor. Default 20000. */
  scanBudget?: number;
  /** Embedding length. Default 1024 (faceres). */
  dimensions?: number;
  log?: Logger;
  /** The audit trail's chain: the node key that signs its checkpoints, the node id written into them, how often. */
  audit?: AuditChainOptions;
}

export interface AuditChainOptions {
  /** Signs checkpoints; without it the chain is kept but nothing is signed (tools, benchmarks). */
  readonly key?: NodeKey | null;
  readonly node?: string;
  /** A checkpoint every N entries. Default 1000. */
  readonly checkpointEvery?: number;
  /** A checkpoint this often when there were new entries, ms; 0: none on a timer. Default 10 minutes. */
  readonly checkpointIntervalMs?: number;
}

/** What a caller may see: every department, or only the listed ones. */
export type Scope = 'all' | { readonly departments: readonly string[] };

/**
 * Attributes with an index of their own. Append only: a digest holds them in this order, and digests written
 * before a name was added are shorter (the record simply lacks it).
 */
export const ATTRIBUTE_NAMES = ['colour', 'vehicleType', 'gender', 'ageBand', 'plateColour', 'upperColour', 'lowerColour'] as const;
export type AttributeName = (typeof ATTRIBUTE_NAMES)[number];

/** How a plate search matched a record: the same characters (or the wildcard pattern), one OCR confusion, or one other character. */
export type PlateMatch = 'exact' | 'confusion' | 'fuzzy';

export interface SearchQuery {
  cameraIds?: string[];
  classes?: ObjectClass[];
  /** Bounds on the track's start time, ms since the epoch, both inclusive. */
  from?: number;
  to?: number;
  attributes?: { [K in AttributeName]?: string };
  /**
   * A licence plate, canonical after canonicalPlate (common/plates.ts), with `*` (any run) and `?` (one
   * character) as wildcards. Results come in plate order: exact (or pattern) matches first, then plates one
   * OCR confusion away, then plates one other character away (the last two only without wildcards).
   */
  plate?: string;
  /** One-character-off matches after the exact ones; default true for a plate without wildcards. */
  plateFuzzy?: boolean;
  /** 1..500, default 50. */
  limit?: number;
  /** `nextCursor` of the previous page of the same query. */
  cursor?: string;
}

/** A record without its bytes and its trajectory: what lists and search results carry. */
export interface TrackRecordSummary extends Omit<TrackRecord, 'thumbnail' | 'embedding' | 'plateCrop' | 'trajectory'> {
  readonly hasThumbnail: boolean;
  readonly hasFace: boolean;
  readonly hasPlateCrop: boolean;
  /** Plate searches only: how the record's plate matched. */
  readonly plateMatch?: PlateMatch;
  /** Plate searches only: the record's place in the page order (opaque; cluster mode merges shards by it). */
  readonly order?: string;
}

/**
 * Ordered by start time descending, then id ascending (plate searches: by match kind, then plate, then start
 * time descending, then id). `nextCursor` is null at the end. A page can hold fewer
 * than `limit` records (even none) while `nextCursor` is set, when the page reached its scan budget: go on
 * with the cursor to see more.
 */
export interface SearchPage {
  records: TrackRecordSummary[];
  nextCursor: string | null;
  /**
   * Cluster mode only: shards no index replica answered for. Their records are not on this page; the cursor
   * keeps their position, so the next page asks them again. Absent on one node (and when every shard answered).
   */
  missingShards?: number[];
}

export interface FaceMatch {
  record: TrackRecordSummary;
  /** Cosine similarity of the stored face to the query, -1..1. */
  similarity: number;
}

/** Face matches, best first; in cluster mode `missingShards` names shards that did not answer (absent otherwise). */
export type FaceMatchList = FaceMatch[] & { missingShards?: number[] };

export interface FaceSearchOptions {
  /** 1..500, default 10. */
  k?: number;
  from?: number;
  to?: number;
  cameraIds?: string[];
}

/** One line of the audit trail: who searched, when, what for and what came back. */
export interface AuditEntry {
  readonly at: number;
  readonly tokenId: string;
  readonly role: string;
  readonly department: string;
  readonly action: string;
  /** The query as the caller sent it; must be JSON-serialisable. */
  readonly query: unknown;
  /** Ids of the records returned, or their count. */
  readonly results: readonly string[] | number;
}

export interface ReadAuditOptions {
  /** Inclusive bounds on `at`. */
  from?: number;
  to?: number;
  /** 1..1000, default 100. */
  limit?: number;
  cursor?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  nextCursor: string | null;
}

export interface IndexStats {
  records: number;
  faces: number;
  pendingWrites: number;
  /** Key and value bytes of record batches written since open (the benchmark's raw baseline writes as many). */
  bytesWritten: number;
  /** Stored faces not yet in the ANN graph: searched exactly meanwhile, built into the graph in the background. */
  faceGraphBacklog: number;
}

/**
 * The frame behind an alarm (a crowd alert's snapshotRef), kept with the records: same database, same retention
 * (trackDays, counted from `at`), read within a scope by the department stored with it.
 */
export interface AlarmFrame {
  /** The id in the snapshotRef (`/api/v1/snapshots/<id>`): no NUL, at most 256 characters. */
  readonly id: string;
  readonly cameraId: string;
  readonly department: string;
  /** Capture time of the frame, ms. */
  readonly at: number;
  readonly jpeg: Uint8Array;
}

import type { ErasureRequest, ErasureResult } from './erase.js';

export interface SearchIndex {
  /** Enqueues the record into the current batch; waits only when the queue is at its bound (backpressure). */
  put(record: TrackRecord): Promise<void>;
  /** Writes whatever is queued and resolves once it is on disk (WAL). */
  flush(): Promise<void>;
  get(id: string, scope: Scope): Promise<TrackRecord | null>;
  thumbnail(id: string, scope: Scope): Promise<Uint8Array | null>;
  /** The JPEG of the record's plate, or null (no such record, outside the scope, or no plate crop). */
  plateCrop(id: string, scope: Scope): Promise<Uint8Array | null>;
  query(q: SearchQuery, scope: Scope): Promise<SearchPage>;
  faceSearch(embedding: Float32Array, opts: FaceSearchOptions, scope: Scope): Promise<FaceMatchList>;
  /**
   * Stores an alarm frame; resolves once it is durable (a put of the same id replaces it). Optional: the cluster's
   * scatter-gather index on an api node keeps none (its frames come from a KV bucket).
   */
  putAlarmFrame?(frame: AlarmFrame): Promise<void>;
  /** An alarm frame, or null: none with that id (never stored, or swept) or outside the scope. */
  alarmFrame?(id: string, scope: Scope): Promise<AlarmFrame | null>;
  appendAudit(entry: AuditEntry): Promise<void>;
  readAudit(opts: ReadAuditOptions): Promise<AuditPage>;
  /**
   * Walks the audit chain and checks every checkpoint (with the node's own key unless `key` is given); with
   * from/to, checks the export of that time range instead. AUDIT_KEY when there is no key to verify with.
   */
  verifyAudit?(opts?: { key?: AuditVerifyKey; from?: number; to?: number }): Promise<AuditVerifyReport>;
  /** The JSON lines of a self-verifying export of the entries in [from, to] (a checkpoint is signed first). */
  exportAudit?(opts: { from: number; to: number }): Promise<string[]>;
  /** Signs the head of the chain now (if it moved) and gives the latest checkpoint; null: no chain yet. */
  auditCheckpoint?(): Promise<Checkpoint | null>;
  /**
   * Erases tracks within the scope (records, faces and vectors, their bytes, the crowd frames that show them;
   * search-index/erase.ts). Optional: the cluster's scatter-gather index has none (erasure is refused there).
   */
  erase?(request: ErasureRequest): Promise<ErasureResult>;
  /** Re-seals every value under an older data key than the current one (after a rotation); returns how many. */
  reseal?(): Promise<number>;
  /** The re-seal sweep's progress: the current key, the key it moves values to, done or not, values moved. */
  dataKeyStatus?(): { current: string; target: string; done: boolean; resealed: number; after: string | null };
  /** Deletes records past retention; returns how many. */
  sweep(now?: number): Promise<number>;
  stats(): IndexStats;
  /** Resolves once everything queued is written and every stored face is in the ANN graph (benchmarks, tests). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export type { TrackRecord };
