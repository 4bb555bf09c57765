/**
 * A real API server for the api-* tests without the camera pipeline: a RocksDB index in a temp dir filled with
 * records of two departments, a real CameraPool whose cameras are disabled (no ffmpeg), a small in-process
 * event source, an alert history, and a face embedder that needs no model: the image's 32x32 grey pixels are
 * its 1024-d "embedding", and an image without contrast holds "no face". That is enough to test scope, audit
 * and errors through face search; the model itself is the inference stage's to test.
 */
import sharp from 'sharp';
import { parseConfig, type ApiTokenConfig } from '../../config/index.js';
import { createLogger } from '../../common/log.js';
import { InferenceError } from '../../common/errors.js';
import type { TrackRecord, ZoneCount } from '../../common/messages.js';
import { CameraPool } from '../../ingest/index.js';
import type { CrowdAlertV1 } from '../../alerts/index.js';
import type { PipelineEvent } from '../../runtime/index.js';
import { openIndex, type AuditChainOptions, type SearchIndex } from '../../search-index/index.js';
import { startApi, type IssuedTokenStore, type ApiTransport, type AlertHistory, type ApiServer, type ClusterSource, type FaceEmbedder, type FaceFromImage, type LiveEventSource, type PipelineStatsSource } from '../../api/index.js';
import { openWatchlists, type WatchlistStore } from '../../watchlist/index.js';
import { embedFacesFromImage } from '../../inference/index.js';
import type { RecordingService } from '../../recording/index.js';
import { makeRecord, tempDir } from './index-records.js';
import { openExports, type ExportLimits, type ExportStore } from '../../evidence/index.js';
import { sharedTestDataKey, testDataKey } from './data-key.js';

export const T0 = 1_700_000_000_000;

export const TOKENS = {
  ps: 'secret-investigator-ps',
  traffic: 'secret-investigator-traffic',
  operator: 'secret-operator-all',
  opTraffic: 'secret-operator-traffic',
  admin: 'secret-admin-all',
  /** An admin of public-security only (erasure within a department). */
  adminPs: 'secret-admin-ps',
  /** A traffic desk: an investigator of traffic without the face grant. */
  desk: 'secret-traffic-desk',
} as const;

const TOKEN_CONFIG: ApiTokenConfig[] = [
  { id: 'inv-ps', token: TOKENS.ps, role: 'investigator', departments: ['public-security'] },
  { id: 'inv-traffic', token: TOKENS.traffic, role: 'investigator', departments: ['traffic'] },
  { id: 'op-all', token: TOKENS.operator, role: 'operator', departments: ['*'] },
  { id: 'op-traffic', token: TOKENS.opTraffic, role: 'operator', departments: ['traffic'] },
  { id: 'admin', token: TOKENS.admin, role: 'admin', departments: ['*'] },
  { id: 'admin-ps', token: TOKENS.adminPs, role: 'admin', departments: ['public-security'] },
  { id: 'desk-traffic', token: TOKENS.desk, role: 'investigator', departments: ['traffic'], faces: false },
];

/** Pipeline-like event source: what Pipeline.on gives, for tests to emit into. */
export class EventHub implements LiveEventSource {
  readonly #fns = new Set<(e: PipelineEvent) => void>();
  on(fn: (e: PipelineEvent) => void): () => void {
    this.#fns.add(fn);
    return () => this.#fns.delete(fn);
  }
  emit(e: PipelineEvent): void { for (const f of this.#fns) f(e); }
  get listeners(): number { return this.#fns.size; }
}

export class History implements AlertHistory {
  alerts: CrowdAlertV1[] = [];
  snapshots = new Map<string, Uint8Array>();
  counts: ZoneCount[] = [];
  alertHistory(limit = 100): CrowdAlertV1[] { return this.alerts.slice(-limit).reverse(); }
  snapshot(id: string): Uint8Array | null { return this.snapshots.get(id) ?? null; }
  zoneCounts(): ZoneCount[] { return this.counts; }
}

/** 32x32 grey pixels, centred and unit length: two renderings of one picture embed the same. */
export async function pixelEmbedding(bytes: Uint8Array): Promise<Float32Array | null> {
  // As the real embedder (inference/embed.ts): an image that does not decode is INFERENCE_BAD_IMAGE, which the
  // routes answer 415 (a plain sharp error here was a 500 under test/fuzz-routes.test.ts).
  const px = await sharp(bytes).resize(32, 32, { fit: 'fill' }).greyscale().raw().toBuffer()
    .catch((cause: unknown) => { throw new InferenceError('INFERENCE_BAD_IMAGE', 'the image cannot be decoded', { cause }); });
  const v = new Float32Array(1024);
  let mean = 0;
  for (let i = 0; i < 1024; i++) mean += px[i]! / 1024;
  let norm = 0;
  for (let i = 0; i < 1024; i++) { v[i] = px[i]! - mean; norm += v[i]! * v[i]!; }
  if (norm < 1e-3) return null;
  const n = Math.sqrt(norm);
  for (let i = 0; i < 1024; i++) v[i] = v[i]! / n;
  return v;
}

export const pixelFaces: FaceEmbedder = {
  async embedFaceFromImage(bytes: Uint8Array): Promise<FaceFromImage | null> {
    const embedding = await pixelEmbedding(bytes);
    return embedding ? { embedding, box: { x: 0, y: 0, w: 32, h: 32 }, quality: 1, gender: 'unknown', age: 0 } : null;
  },
};

/** A PNG of seeded noise: a "face" the pixel embedder tells apart from other seeds. */
export async function noisePng(seed: number, size = 64): Promise<Buffer> {
  const px = Buffer.alloc(size * size * 3);
  let a = seed >>> 0;
  for (let i = 0; i < px.length; i++) {
    a = (a * 1664525 + 1013904223) >>> 0;
    px[i] = a >>> 24;
  }
  return sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

export async function flatPng(size = 64): Promise<Buffer> {
  return sharp({ create: { width: size, height: size, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
}

export const JPEG_THUMB = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);

export interface ApiHarness {
  readonly url: string;
  readonly server: ApiServer;
  readonly index: SearchIndex;
  readonly cameras: CameraPool;
  readonly events: EventHub;
  readonly history: History;
  /** The watch-list store (real RocksDB in the harness's temp dir, real face models) when asked for; else null. */
  readonly watchlists: WatchlistStore | null;
  /** The export store (zips and the node key in the harness's temp dir) when asked for; else null. */
  readonly exports: ExportStore | null;
  /** Records stored, by department. */
  readonly records: Record<'public-security' | 'traffic', TrackRecord[]>;
  /** The record of each department whose embedding is noisePng(seed of that department). */
  readonly faceSeeds: Record<'public-security' | 'traffic', number>;
  get(path: string, token?: string | null): Promise<Response>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** HTTPS (api.tls) for the server; plain HTTP on loopback by default. */
  transport?: ApiTransport;
  perDepartment?: number;
  /** The audit chain's options (the node key that signs its checkpoints); none by default. */
  audit?: AuditChainOptions;
  rateLimit?: { perMinute: number; burst: number };
  maxUploadBytes?: number;
  faces?: FaceEmbedder | null;
  /** Cluster mode: the source of GET /api/v1/cluster and drain; none by default (a single node). */
  cluster?: ClusterSource | null;
  /** Pipeline counters for /metrics and health; none by default. */
  stats?: PipelineStatsSource | null;
  /** Open a watch-list store (the real face embedder finds faces in photos); none by default (503 on its routes). */
  watchlists?: boolean;
  /** The index folder, kept on close (a restart opens it again); a temp dir removed on close by default. */
  indexDir?: string;
  /** Open an export store (limits: the config defaults unless given); none by default (503 on its routes). */
  exports?: boolean | Partial<ExportLimits>;
  /** A recording service (the caller opens and closes it); none by default (503 on its routes). */
  recordings?: RecordingService | null;
  /** The issued-token store (the caller opens and closes it); none by default (503 on the token routes). */
  tokenStore?: IssuedTokenStore | null;
  /** Console sign-in through an OpenID Connect provider (api.oidc, as the config parser takes it); none by default. */
  oidc?: Record<string, unknown>;
  /** The port to listen on (a redirect URL names it before the server starts); any free one by default. */
  port?: number;
}

export async function startHarness(o: HarnessOptions = {}): Promise<ApiHarness> {
  const { dir, cleanup } = o.indexDir ? { dir: o.indexDir, cleanup: () => undefined } : tempDir('api');
  const index = await openIndex({ dataKey: testDataKey(),  dir, batchSize: 64, flushMs: 5, sweepIntervalMs: 0, vectorSaveIntervalMs: 0, ...(o.audit ? { audit: o.audit } : {}) });
  const cfg = parseConfig({
    api: {
      port: 0, tokens: TOKEN_CONFIG, rateLimit: o.rateLimit ?? { perMinute: 60_000, burst: 10_000 }, ...(o.maxUploadBytes ? { maxUploadBytes: o.maxUploadBytes } : {}),
      ...(o.oidc ? { oidc: o.oidc } : {}),
    },
  });
  const cameras = new CameraPool(cfg.ingest);
  // Disabled: registered and listed, but no ffmpeg is started.
  for (const [id, department] of [['cam-ps-1', 'public-security'], ['cam-ps-2', 'public-security'], ['cam-tr-1', 'traffic']] as const) {
    cameras.add({ id, url: `rtsp://user:pw@127.0.0.1:1/${id}`, department, district: 'shinan', enabled: false });
  }
  const n = o.perDepartment ?? 30;
  const faceSeeds = { 'public-security': 11, traffic: 22 } as const;
  const records: ApiHarness['records'] = { 'public-security': [], traffic: [] };
  for (const dept of ['public-security', 'traffic'] as const) {
    for (let i = 0; i < n; i++) {
      const cameraId = dept === 'traffic' ? 'cam-tr-1' : i % 2 ? 'cam-ps-2' : 'cam-ps-1';
      const r = makeRecord({
        id: `${dept}-${String(i).padStart(3, '0')}`, cameraId, department: dept, cls: i % 3 === 0 ? 'person' : 'car',
        start: T0 + i * 1000 + (dept === 'traffic' ? 500 : 0), attributes: i % 3 === 0 ? {} : { colour: i % 2 ? 'red' : 'blue' },
        thumbnail: JPEG_THUMB,
        embedding: i === 0 ? await pixelEmbedding(await noisePng(faceSeeds[dept])) : null,
      });
      await index.put(r);
      records[dept].push(r);
    }
  }
  await index.flush();
  const events = new EventHub();
  const history = new History();
  const wlDir = o.watchlists ? tempDir('api-watchlists') : null;
  const watchlists = wlDir
    ? await openWatchlists({ dir: wlDir.dir, embedder: { embedFacesFromImage }, log: createLogger({ level: 'error', sink: () => undefined }), sweepIntervalMs: 0, dataKey: await sharedTestDataKey() })
    : null;
  const exDir = o.exports ? tempDir('api-exports') : null;
  const exports = exDir
    ? await openExports({ dataDir: exDir.dir, node: 'test-node', retentionDays: cfg.exports.retentionDays, limits: { ...cfg.exports, ...(typeof o.exports === 'object' ? o.exports : {}) }, sweepIntervalMs: 0, dataKey: await sharedTestDataKey() })
    : null;
  const server = await startApi({
    host: '127.0.0.1', port: o.port ?? 0, index, cameras, history, events, stats: o.stats ?? null, alerts: null, dataKey: await sharedTestDataKey(),
    faces: o.faces === undefined ? pixelFaces : o.faces, access: cfg.api, cluster: o.cluster ?? null, watchlists, exports, recordings: o.recordings ?? null, tokenStore: o.tokenStore ?? null,
    ...(o.transport ? { transport: o.transport } : {}),
    log: createLogger({ level: 'error', sink: () => undefined }),
  });
  return {
    url: server.url, server, index, cameras, events, history, records, faceSeeds, watchlists, exports,
    get: (path, token) => fetch(server.url + path, token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    async close() {
      await server.close();
      cameras.stop();
      await watchlists?.close();
      await exports?.close();
      await index.close();
      cleanup();
      wlDir?.cleanup();
      exDir?.cleanup();
    },
  };
}

