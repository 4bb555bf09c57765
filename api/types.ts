/**
 * What the API needs from the rest of the core, as narrow interfaces: the running Pipeline and CameraPool
 * satisfy them as they are, and tests pass small real objects (a CameraPool with no cameras, an event source)
 * without starting decoders or models.
 */
import type { ApiConfig, ApiRole, CameraConfig } from '../config/index.js';
import type { Box, CrowdAlertV1, PipelineEvent, PlatesHealth, ZoneCount } from '../common/messages.js';
import type { Logger } from '../common/log.js';
import type { CameraView, LiveViewHub } from '../ingest/index.js';
import type { AlertSinkStatus } from '../alerts/index.js';
import type { BatcherStats, GpuStatus } from '../inference/index.js';
import type { SearchIndex } from '../search-index/index.js';
import type { ClusterStatus } from '../cluster/index.js';
import type { WatchlistService } from '../watchlist/index.js';
import type { ExportStore } from '../evidence/index.js';
import type { ApiTransport } from './tls.js';
import type { RecordingService } from '../recording/index.js';
import type { IssuedTokenStore } from './token-store.js';
import type { DataKeyring } from '../common/data-key.js';

/**
 * The camera pool as the API uses it: ingest's CameraPool on one node, the cluster's pool (KV) on an api node
 * of a cluster, whose changes are asynchronous. Unknown ids throw INGEST_UNKNOWN_CAMERA.
 */
export interface CameraRegistry {
  list(): CameraView[];
  has(id: string): boolean;
  get(id: string): { readonly config: CameraConfig };
  view(camera: { readonly config: CameraConfig }): CameraView;
  add(input: unknown): CameraView | Promise<CameraView>;
  remove(id: string): void | Promise<void>;
  update(id: string, input: unknown): CameraView | Promise<CameraView>;
  /** Live view (MPEG-1 over WebSocket) relays, started on demand. */
  readonly live: Pick<LiveViewHub, 'assertRoom' | 'attach'>;
}

/** Recent crowd alerts, their snapshots and the latest zone counts (the Pipeline keeps them in memory). */
export interface AlertHistory {
  alertHistory(limit?: number): CrowdAlertV1[];
  snapshot(id: string): Uint8Array | null;
  zoneCounts(): ZoneCount[];
}

/** Where live events come from (Pipeline.on); returns the unsubscribe function. */
export interface LiveEventSource {
  on(fn: (e: PipelineEvent) => void): () => void;
}

/** Pipeline counters for /metrics and health. */
export interface PipelineStatsSource {
  stats(): {
    records: number; analysed: Record<string, number>; batcher: BatcherStats;
    /** The structuring queue (waits for threads detection is not using). */
    structure?: { queued: number; running: number; done: number; dropped: number };
    /** Per camera: handled rate against target, and whether it is over capacity. */
    load?: Record<string, { targetFps: number; handledFps: number; overloaded: boolean }>;
    /** Whether licence plates are read: ready, disabled, or unavailable with the error code and reason. */
    plates?: PlatesHealth;
    /** Live face reads since start (the alarm path): usable, unusable (no face or below the quality bar), failed. */
    faceReads?: { usable: number; unusable: number; failed: number };
    /** Watch-list, frequency and stranger alarms raised since start, by kind. */
    alarms?: Record<string, number>;
    /** inference.backend webgpu: the adapter, devices lost and recreated, the GPU's detection and structuring turns; null otherwise. */
    gpu?: GpuStatus | null;
  };
}

/** The alert sink's counters (published, outbox depth) for /metrics and health. */
export interface AlertStatusSource {
  status(): AlertSinkStatus;
}

export interface FaceFromImage {
  readonly embedding: Float32Array;
  readonly box: Box;
  readonly quality: number;
  readonly gender: string;
  readonly age: number;
}

/** Finds the most prominent face in an encoded image and embeds it; null when the image holds no face; INFERENCE_BAD_IMAGE when it does not decode. */
export interface FaceEmbedder {
  embedFaceFromImage(bytes: Uint8Array): Promise<FaceFromImage | null>;
}

/**
 * The cluster as the API sees it (cluster mode only; a single node passes none). `status` reads the membership,
 * leases and index consumers; `drain` marks a node draining (it hands its cameras back and takes no new ones)
 * and throws ClusterError CLUSTER_UNKNOWN_NODE for an id that is not a member.
 */
export interface ClusterSource {
  status(): Promise<ClusterStatus>;
  drain(nodeId: string): Promise<void>;
}

export interface ApiOptions {
  readonly host: string;
  readonly port: number;
  readonly index: SearchIndex;
  readonly cameras: CameraRegistry;
  readonly history: AlertHistory;
  /** Live alerts, zone counts and camera health for the WebSocket; null: the socket only says hello. */
  readonly events: LiveEventSource | null;
  readonly stats: PipelineStatsSource | null;
  readonly alerts: AlertStatusSource | null;
  /** null: face search answers 503 API_FACE_UNAVAILABLE. */
  readonly faces: FaceEmbedder | null;
  /** Tokens, rate limit and upload limit (config `api`). */
  readonly access: Pick<ApiConfig, 'tokens' | 'rateLimit' | 'maxUploadBytes'> & { readonly oidc?: ApiConfig['oidc'] };
  readonly log: Logger;
  /** The cluster this node belongs to; absent or null on a single node (the cluster routes answer 404). */
  readonly cluster?: ClusterSource | null;
  /** Watch-lists and the alarm log; absent or null: their routes answer 503 API_WATCHLIST_UNAVAILABLE. */
  readonly watchlists?: WatchlistService | null;
  /** HTTPS (config api.tls) and whether plain HTTP may leave loopback; absent: plain HTTP, loopback hosts only. */
  readonly transport?: ApiTransport;
  /** Camera URL schemes a camera added or changed through the API may use (config ingest.urlSchemes; default rtsp, rtsps). Never local files. */
  readonly cameraUrlSchemes?: readonly string[];
  /** Evidence exports; absent or null: the export routes answer 503 API_EXPORTS_UNAVAILABLE. */
  readonly exports?: ExportStore | null;
  /** Recordings, clips and legal holds (exports cut their clips from it); absent or null: their routes answer 503 API_RECORDING_UNAVAILABLE, exports list clips as missing. */
  readonly recordings?: RecordingService | null;
  /** Tokens issued to people (`<dataDir>/tokens`, or a cluster's KV bucket); absent or null: the token routes answer 503 API_TOKENS_UNAVAILABLE. */
  readonly tokenStore?: IssuedTokenStore | null;
  /** The data key ring: seals the state of a console sign-in (api.oidc) between its start and its callback. */
  readonly dataKey?: DataKeyring | null;
}

/** Who is calling: resolved from the bearer token on every guarded request. */
export interface Principal {
  readonly tokenId: string;
  readonly role: ApiRole;
  /** null: every department ('*'). */
  readonly departments: readonly string[] | null;
  /** The face grant (config api.tokens[].faces): without it, faces are blurred or refused. */
  readonly faces: boolean;
  /** The person an issued token was given to (`cvcore tokens create --person`); null for config tokens. */
  readonly person: string | null;
  /** When an issued token stops counting (ms); null for config tokens. */
  readonly expires: number | null;
}

export type { ApiRole };
