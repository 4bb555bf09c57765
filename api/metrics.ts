/**
 * Prometheus metrics (prom-client) on a registry of this server's own, so two servers in one process (tests)
 * never clash. Pipeline, camera and alert figures are read at scrape time from the sources' own counters
 * rather than mirrored, so they cannot drift; HTTP requests are counted as they finish, labelled by route
 * template (not the raw URL, which would make a series per track id).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CAMERA_STATES } from '../ingest/index.js';
import type { SearchIndex } from '../search-index/index.js';
import type { AlertStatusSource, CameraRegistry, PipelineStatsSource } from './types.js';
import type { RecordingService } from '../recording/index.js';

const RECORDING_STATES = ['off', 'starting', 'recording', 'reconnecting', 'disk-full', 'failed'] as const;

export interface ApiMetrics {
  readonly registry: Registry;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  rateLimited(): void;
  liveDropped(): void;
}

export function createMetrics(src: { cameras: CameraRegistry; stats: PipelineStatsSource | null; alerts: AlertStatusSource | null; index: SearchIndex; recordings?: Pick<RecordingService, 'healthAll'> | null }): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'cvcore_' });
  const r = [registry];

  /** A cumulative figure read from a source: a counter reset and set to the source's total on every scrape. */
  const total = <L extends string>(name: string, help: string, labelNames: readonly L[], read: (c: Counter<L>) => void): void => {
    new Counter<L>({ name, help, labelNames, registers: r, collect() { this.reset(); read(this); } });
  };
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], read: (g: Gauge<L>) => void): void => {
    new Gauge<L>({ name, help, labelNames, registers: r, collect() { this.reset(); read(this); } });
  };

  total('cvcore_camera_frames_decoded_total', 'frames decoded per camera', ['camera'], (c) => {
    for (const v of src.cameras.list()) c.inc({ camera: v.id }, v.health.framesDecoded);
  });
  total('cvcore_camera_frames_dropped_total', 'frames dropped at the camera queue (drop-oldest)', ['camera'], (c) => {
    for (const v of src.cameras.list()) c.inc({ camera: v.id }, v.health.framesDropped);
  });
  total('cvcore_camera_restarts_total', 'decoder restarts per camera', ['camera'], (c) => {
    for (const v of src.cameras.list()) c.inc({ camera: v.id }, v.health.restarts);
  });
  gauge('cvcore_camera_state', 'camera state: 1 for the current state, 0 for the others', ['camera', 'state'], (g) => {
    for (const v of src.cameras.list()) for (const s of Object.values(CAMERA_STATES)) g.set({ camera: v.id, state: s }, v.health.state === s ? 1 : 0);
  });
  gauge('cvcore_camera_queue_depth', 'frames waiting in the camera queue', ['camera'], (g) => {
    for (const v of src.cameras.list()) g.set({ camera: v.id }, v.health.queueDepth);
  });
  // Recording (recording/): bytes and segments kept per camera, and the recorder's state.
  if (src.recordings) {
    const rec = src.recordings;
    gauge('cvcore_recording_bytes', 'bytes of recorded segments kept per camera', ['camera'], (g) => {
      for (const h of rec.healthAll()) g.set({ camera: h.cameraId }, h.bytes);
    });
    gauge('cvcore_recording_segments_total', 'recorded segments kept, all cameras', [], (g) => {
      g.set(rec.healthAll().reduce((n, h) => n + h.segments, 0));
    });
    gauge('cvcore_recording_state', 'recorder state per camera: 1 for the current state, 0 for the others', ['camera', 'state'], (g) => {
      for (const h of rec.healthAll()) for (const s of RECORDING_STATES) g.set({ camera: h.cameraId, state: s }, h.state === s ? 1 : 0);
    });
  }
  total('cvcore_inference_batches_total', 'inference batches run', [], (c) => {
    const s = src.stats?.stats();
    if (s) c.inc(s.batcher.batches);
  });
  total('cvcore_inference_frames_total', 'frames run through inference', [], (c) => {
    const s = src.stats?.stats();
    if (s) c.inc(s.batcher.frames);
  });
  gauge('cvcore_camera_handled_fps', 'frames a second the pipeline handled per camera over the last 10 s (detected or predicted on)', ['camera'], (g) => {
    for (const [camera, l] of Object.entries(src.stats?.stats().load ?? {})) g.set({ camera }, l.handledFps);
  });
  gauge('cvcore_camera_overloaded', '1 while a camera handles under 95 % of its target rate (the node is over capacity for it)', ['camera'], (g) => {
    for (const [camera, l] of Object.entries(src.stats?.stats().load ?? {})) g.set({ camera }, l.overloaded ? 1 : 0);
  });
  gauge('cvcore_structure_queue_depth', 'structuring tasks waiting for a thread detection is not using', [], (g) => g.set(src.stats?.stats().structure?.queued ?? 0));
  total('cvcore_structure_dropped_total', 'structuring tasks dropped from the full queue (records kept without attributes)', [], (c) => c.inc(src.stats?.stats().structure?.dropped ?? 0));
  total('cvcore_live_face_reads_total', 'live face reads for the alarm rules, by result: usable, unusable (no face or below alarms.faceMinQuality), failed (shed or model error)', ['result'], (c) => {
    for (const [result, n] of Object.entries(src.stats?.stats().faceReads ?? {})) c.inc({ result }, n);
  });
  total('cvcore_alarms_total', 'watch-list, frequency and stranger alarms raised (in the outbox), by kind', ['kind'], (c) => {
    for (const [kind, n] of Object.entries(src.stats?.stats().alarms ?? {})) c.inc({ kind }, n);
  });
  total('cvcore_records_indexed_total', 'track records the pipeline put into the index since start', [], (c) => {
    const s = src.stats?.stats();
    if (s) c.inc(s.records);
  });
  gauge('cvcore_index_records', 'records stored in the search index', [], (g) => g.set(src.index.stats().records));
  gauge('cvcore_index_faces', 'records with a face embedding in the search index', [], (g) => g.set(src.index.stats().faces));
  gauge('cvcore_index_face_graph_backlog', 'stored faces not yet in the ANN graph (searched exactly meanwhile)', [], (g) => g.set(src.index.stats().faceGraphBacklog));
  total('cvcore_alerts_published_total', 'alert messages acked by JetStream (every kind; a crowd decision is two, schema v1 and v2)', [], (c) => {
    const s = src.alerts?.status();
    if (s) c.inc(s.published);
  });
  total('cvcore_alerts_rejected_total', 'crowd alerts refused before the outbox', [], (c) => {
    const s = src.alerts?.status();
    if (s) c.inc(s.rejected);
  });
  gauge('cvcore_alert_outbox_depth', 'alerts in the durable outbox not yet acked by JetStream', [], (g) => {
    const s = src.alerts?.status();
    if (s) g.set(s.outboxDepth);
  });

  const requests = new Counter({ name: 'cvcore_http_requests_total', help: 'HTTP requests by method, route template and status', labelNames: ['method', 'route', 'status'] as const, registers: r });
  const duration = new Histogram({
    name: 'cvcore_http_request_duration_seconds', help: 'HTTP request duration by route template', labelNames: ['route'] as const, registers: r,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const limited = new Counter({ name: 'cvcore_http_rate_limited_total', help: 'requests answered 429', registers: r });
  const dropped = new Counter({ name: 'cvcore_live_events_dropped_total', help: 'live events not sent because a WebSocket client was too slow', registers: r });

  return {
    registry,
    observeRequest(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      duration.observe({ route }, seconds);
    },
    rateLimited: () => limited.inc(),
    liveDropped: () => dropped.inc(),
  };
}
