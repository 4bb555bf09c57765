/**
 * Starts the whole core from a validated config: NATS (the deployment's, or an embedded nats-server from the
 * repo's nats.conf), the search index, the alert sink, the watch-lists, the pipeline and the HTTP API; and stops them in the
 * reverse order so nothing is lost and no child process is left behind.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CvcoreConfig } from '../config/index.js';
import type { Logger } from '../common/log.js';
import { openIndex, type SearchIndex } from '../search-index/index.js';
import { natsTlsFrom, openAlertSink, startNatsServer, type AlertSink, type NatsServerHandle } from '../alerts/index.js';
import { openTokenStore, startApi } from '../api/index.js';
import { closeFaceEmbedder, embedFaceFromImage, embedFacesFromImage, setFaceEmbedderBackend } from '../inference/index.js';
import { openWatchlists, type WatchlistService } from '../watchlist/index.js';
import { openExports, type ExportStore } from '../evidence/index.js';
import { requireFfmpeg } from '../common/proc.js';
import { EvidenceError } from '../common/errors.js';
import { openRecordings, type RecordingService } from '../recording/index.js';
import { loadNodeKey } from '../common/node-key.js';
import type { AuditChainOptions } from '../search-index/index.js';
import { Pipeline } from './pipeline.js';
import { followRotationInStores, openCoreDataKey } from './data-key.js';
import type { DataKeyring } from '../common/data-key.js';
import { LocalIncidentStore } from './local-incidents.js';

export interface StackOptions {
  readonly config: CvcoreConfig;
  readonly log: Logger;
  /** Port for the embedded nats-server (default: a free one). */
  readonly natsPort?: number;
}

export interface Stack {
  readonly config: CvcoreConfig;
  readonly pipeline: Pipeline;
  readonly index: SearchIndex;
  /** The data key ring (sealing of biometric data at rest); reloaded on SIGHUP or a change of the key file. */
  readonly dataKey: DataKeyring;
  readonly alerts: AlertSink;
  /** Watch-lists and the alarm log (<dataDir>/watchlists). */
  readonly watchlists: WatchlistService;
  /** Evidence exports (<dataDir>/exports, signed with <dataDir>/keys/node-ed25519.pem); null when the key is unusable. */
  readonly exports: ExportStore | null;
  /** Recordings, clips and legal holds (<dataDir>/recordings). */
  readonly recordings: RecordingService;
  readonly nats: NatsServerHandle | null;
  readonly natsUrl: string;
  readonly apiUrl: string;
  stop(): Promise<void>;
}

/**
 * The audit chain's options: the node key signs its checkpoints. A key that does not read keeps the chain
 * (every entry still hashes the one before) but signs nothing; said loudly, never replaced (EVIDENCE_KEY).
 */
export async function auditChainOptions(config: CvcoreConfig, dataDir: string, log: Logger): Promise<AuditChainOptions> {
  let key = null;
  try {
    key = await loadNodeKey(dataDir);
  } catch (err) {
    if (!(err instanceof EvidenceError)) throw err;
    log.error('audit checkpoints are unsigned: the node key cannot be used', { code: err.code, err });
  }
  return { key, node: config.node, checkpointEvery: config.audit.checkpointEvery, checkpointIntervalMs: config.audit.checkpointIntervalMs };
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const { config, log } = o;
  await requireFfmpeg();
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const cleanup: (() => Promise<unknown>)[] = [];
  const unwind = async (): Promise<void> => {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => log.warn('shutdown step failed', { err: err as Error }));
    cleanup.length = 0;
  };
  try {
    const envUrl = process.env['NATS_URL'];
    let nats: NatsServerHandle | null = null;
    const configured = envUrl ?? config.nats.url;
    if (!configured) {
      const handle = await startNatsServer({ storeDir: join(dataDir, 'nats'), ...(o.natsPort !== undefined ? { port: o.natsPort } : {}), log });
      cleanup.push(() => handle.stop());
      nats = handle;
      log.info('embedded nats-server started', { url: handle.url });
    }
    const natsUrl: string = configured ?? nats!.url;
    // The deployment's NATS: creds file and TLS from the environment or the config (the embedded one needs neither).
    const credsFile = process.env['NATS_CREDS'] || config.nats.credsFile;
    const dataKey = await openCoreDataKey(config, dataDir, log);
    cleanup.push(() => dataKey.stop());
    const index = await openIndex({
      dataKey: dataKey.ring, dir: join(dataDir, 'index'), batchSize: config.index.batchSize, flushMs: config.index.flushMs,
      retention: { trackDays: config.index.trackDays, faceDays: config.index.faceDays }, log,
      audit: await auditChainOptions(config, dataDir, log),
    });
    cleanup.push(() => index.close());
    const alerts = await openAlertSink({
      servers: natsUrl, user: process.env['NATS_USER'] ?? config.nats.user, pass: process.env['NATS_PASS'] ?? config.nats.pass,
      ...(nats ? {} : { tls: natsTlsFrom(config.nats.tls), ...(credsFile ? { credsFile } : {}) }),
      dataDir: join(dataDir, 'outbox'), node: config.node, crowdSchemas: config.nats.crowdSchemas, log,
    });
    cleanup.push(async () => { await alerts.drain(3000); await alerts.close(); });
    // Photos of face entries are embedded on the face search's upload pool (every face in the photo).
    // The same ring seals the watch-lists, the recordings and the exports (photos, segments, zips).
    const watchlists = await openWatchlists({ dir: join(dataDir, 'watchlists'), embedder: { embedFacesFromImage }, log, dataKey: dataKey.ring });
    // Closed after the pipeline has stopped (cleanup runs in reverse): the last alarms are recorded first.
    cleanup.push(() => watchlists.close());
    // Closed after the pipeline (cleanup runs in reverse): every recorder's last segment is indexed on the way out.
    const recordings = await openRecordings({ dir: join(dataDir, 'recordings'), settings: config.recording, log: log.child({ stage: 'recording' }), dataKey: dataKey.ring });
    cleanup.push(() => recordings.close());
    // The index answers the frequency rule's look-back (earlier appearances of a face).
    // Open crowd incidents outlive a restart: the next run continues them, and clears those of cameras gone since.
    const incidents = await LocalIncidentStore.open(join(dataDir, 'incidents.json'), log);
    const pipeline = await Pipeline.start({ config, index, alerts, log, watchlists, faces: index, incidents: incidents.hooks(), recordings });
    cleanup.push(() => pipeline.stop());
    await pipeline.clearOrphanIncidents();
    // Before the API: the node key is made (or checked) at start-up, not on the first export. A key that does
    // not read stops exports (503 on their routes, said loudly here), not the analysis; it is never replaced.
    let exports: ExportStore | null = null;
    try {
      exports = await openExports({ dataDir, node: config.node, retentionDays: config.exports.retentionDays, limits: config.exports, log, dataKey: dataKey.ring });
      const store = exports;
      cleanup.push(() => store.close());
    } catch (err) {
      if (!(err instanceof EvidenceError)) throw err;
      log.error('exports are off: the node key or the export folder cannot be used', { code: err.code, err });
    }
    // A rotation of the key reaches these stores too while the core runs (the index has its own sweep).
    const resealing = followRotationInStores(dataKey, dataDir, [
      { name: 'watchlists', resealToCurrent: () => watchlists.resealToCurrent() },
      { name: 'recordings', resealToCurrent: () => recordings.resealToCurrent() },
      ...(exports ? [{ name: 'exports', resealToCurrent: () => exports!.resealToCurrent() }] : []),
    ], log);
    cleanup.push(() => resealing.stop());
    // Face search uploads run on their own small pool (started on the first upload, idle threads exit).
    setFaceEmbedderBackend(config.inference.backend);
    cleanup.push(() => closeFaceEmbedder());
    // Tokens issued to people (`cvcore tokens`): hashes only; the API resolves every request against it.
    const tokenStore = await openTokenStore({ dir: join(dataDir, 'tokens') });
    cleanup.push(() => tokenStore.close());
    const api = await startApi({
      tokenStore, dataKey: dataKey.ring,
      host: config.api.host, port: config.api.port, index, cameras: pipeline.cameras, history: pipeline, events: pipeline, stats: pipeline, alerts,
      faces: { embedFaceFromImage }, watchlists, exports, recordings, access: config.api, transport: config.api, cameraUrlSchemes: config.ingest.urlSchemes, log,
    });
    cleanup.push(() => api.close());
    let stopped: Promise<void> | null = null;
    return {
      config, pipeline, index, dataKey: dataKey.ring, alerts, watchlists, exports, recordings, nats, natsUrl, apiUrl: api.url,
      stop: () => (stopped ??= unwind()),
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
