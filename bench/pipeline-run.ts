/**
 * One measured run of the whole core, as a user starts it: `startStack` on a temporary data dir (embedded
 * nats-server, RocksDB, alert sink, API), cameras from a simulated pool (real footage over a real RTSP server),
 * a real NATS subscriber for the alerts. Everything is measured from outside through the pipeline's events and
 * stats, so the benchmark exercises exactly the code that runs in production. Shared by `bench e2e` and
 * `bench capacity`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, StringCodec, type NatsConnection } from 'nats';
import { DEFAULT_SUBSCRIBER_USER } from '../alerts/index.js';
import { createLogger } from '../common/log.js';
import { mediaPath } from '../common/paths.js';
import { DEFAULTS, parseConfig } from '../config/index.js';
import type { SimulatedCameraPool } from '../ingest/index.js';
import type { BackendName } from '../inference/index.js';
import { DEMO_FACE_CAMERA, DEMO_PLATE_CAMERA, demoConfig, startStack, type Stack } from '../runtime/index.js';
import { cpuBetween, folderBytes, openFds, ProcSampler, slope, type CpuMemSnapshot } from './procstat.js';
import { latencyStats, Progress, round, type LatencyStats } from './report.js';

export interface RunSettings {
  readonly streams: number;
  readonly seconds: number;
  /** Analysis frames per second per camera (ffmpeg fps filter). */
  readonly fps: number;
  readonly backend: BackendName;
  readonly workers: number;
  readonly batch: number;
  readonly maxDelayMs: number;
  readonly width: number;
  readonly height: number;
  readonly queueSize: number;
  /** Motion gate on or off for every camera; null leaves the config's default (needs the ingest motion gate). */
  readonly motion: boolean | null;
  /** Detector input size; null: the config's default. */
  readonly inputSize: number | null;
  /** Detect on every k-th analysed frame per camera; null: the config's default. */
  readonly detectEvery: number | null;
  /** Crowd threshold of the demo zone; low so alerts happen within a short run. */
  readonly threshold: number;
  /**
   * One of the streams is the demo's plate camera (cam-plates, vehicles with plates, read at track end) at its own
   * 768x576, the others vtest.avi: what plate reading costs a node. Absent or false: vtest.avi only.
   */
  readonly plateCamera?: boolean;
  /**
   * One of the streams is the demo's face camera (cam-faces, public-security) with astronaut.png on a face list of
   * public-security: live faces are read on that department's cameras, the astronaut alarms on each appearance.
   * What live face matching costs a node. Absent or false: no list, no live face reads.
   */
  readonly faceCamera?: boolean;
  /** Seconds after the first analysed frame before measuring starts (queues fill, JIT warms). */
  readonly warmupS: number;
  readonly label: string;
}

export const RUN_DEFAULTS = {
  // The default configuration (what `cvcore start` runs with cameras alone, and the demo): one measured setup.
  fps: 5, motion: null, backend: DEFAULTS.inference.backend as BackendName, workers: DEFAULTS.inference.workers, batch: DEFAULTS.inference.maxBatch,
  maxDelayMs: DEFAULTS.inference.maxDelayMs, width: 640, height: 480, queueSize: DEFAULTS.ingest.queueSize, threshold: 2, warmupS: 3,
  inputSize: null, detectEvery: null,
} as const;

/** One second of the run, for the time-series chart and the queue-growth check. */
export interface Tick { readonly t_s: number; readonly decoded: number; readonly analysed: number; readonly dropped: number; readonly queue_depth: number; readonly p50_ms: number | null }

/**
 * One soak sample (every minute on runs of 10 minutes or more, else about 12 per run): the main process's memory,
 * the inference threads' live tensors, open files, and what the data folder holds on disk.
 */
export interface SoakSample {
  readonly t_s: number;
  readonly rss_mib: number;
  readonly heap_used_mib: number;
  /** Buffers and typed arrays outside the V8 heap (frames, JPEGs, RocksDB values in flight). */
  readonly external_mib: number;
  readonly tensors: number | null;
  readonly open_fds: number | null;
  readonly index_mib: number;
  readonly recordings_mib: number;
  readonly nats_mib: number;
  readonly records: number;
}

/** Least-squares growth per hour over the samples after the first third (start-up allocations excluded). */
export interface SoakSlopes {
  readonly rss_mib_per_h: number | null;
  readonly heap_mib_per_h: number | null;
  readonly tensors_per_h: number | null;
  readonly open_fds_per_h: number | null;
  readonly index_mib_per_h: number | null;
  /** Index growth per 1000 records written in the same stretch: what retention explains, not a leak. */
  readonly index_kib_per_record: number | null;
}

export interface PipelineRun {
  readonly settings: Omit<RunSettings, 'label'>;
  /** Length of the measured window. */
  readonly seconds: number;
  readonly decoded: number;
  readonly analysed: number;
  readonly dropped: number;
  readonly decoded_fps: number | null;
  readonly analysed_fps: number | null;
  readonly analysed_fps_per_stream: number | null;
  /**
   * Frames per camera per second that were not dropped: analysed, or skipped by a motion gate where the core
   * has one (a gated frame is handled, not lost). Equals analysed/s when nothing is gated and queues are flat.
   */
  readonly handled_fps_per_stream: number | null;
  /** Dropped frames as a percentage of decoded ones. */
  readonly drop_pct: number | null;
  readonly mean_batch: number | null;
  readonly latency: {
    /** Capture (frame left ffmpeg) to detections back in the pipeline, every analysed frame. */
    readonly capture_to_detection: LatencyStats;
    /** A track's last capture time (record.end) to its record written to the index. */
    readonly capture_to_index: LatencyStats;
    /** The crossing frame's capture time (alert `at`) to the alert written to the durable outbox. */
    readonly capture_to_outbox: LatencyStats;
    /** The crossing frame's capture time to a NATS subscriber receiving the alert. */
    readonly capture_to_subscriber: LatencyStats;
  };
  /** Records written and alerts raised/updated from start-up to the end of the window (latencies likewise). */
  readonly records: number;
  readonly alerts: number;
  readonly cpu: {
    readonly main_s: number | null;
    readonly decoders_s: number | null;
    readonly nats_s: number | null;
    /** The simulated cameras' cost (publishers + RTSP server): not the pipeline's, reported apart. */
    readonly simulation_s: number | null;
    /** Pipeline CPU (main + decoders + nats) per wall second: cores in use. */
    readonly pipeline_cores: number | null;
    readonly cpu_ms_per_analysed_frame: number | null;
  };
  readonly memory: {
    readonly peak_rss_main_mib: number | null;
    readonly peak_rss_decoders_mib: number | null;
    readonly peak_rss_nats_mib: number | null;
    readonly peak_rss_total_mib: number | null;
    readonly rss_start_mib: number | null;
    readonly rss_end_mib: number | null;
    readonly tensors_start: number | null;
    readonly tensors_end: number | null;
    readonly samples: readonly SoakSample[];
    readonly slopes: SoakSlopes;
  };
  readonly queue: { readonly capacity_frames: number; readonly mean_depth_first_third: number | null; readonly mean_depth_last_third: number | null; readonly max_depth: number };
  readonly ticks: readonly Tick[];
  /** Warnings and errors the core logged during the run (last 20), so a bad run explains itself. */
  readonly log_tail: readonly string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The demo config with the run's backend, batch, rate and size; the whole-view zone follows the size. */
function runConfig(sim: SimulatedCameraPool, s: RunSettings, dataDir: string): ReturnType<typeof parseConfig> {
  const plateCamera = s.plateCamera === true;
  const faceCamera = s.faceCamera === true;
  const vtest = s.streams - (plateCamera ? 1 : 0) - (faceCamera ? 1 : 0);
  if (vtest < 0) throw new RangeError('the plate and face cameras need a stream each');
  const base = demoConfig(sim, { cameras: vtest, dataDir, apiPort: 0, fps: s.fps, threshold: s.threshold, plateCamera, faceCamera });
  const raw = JSON.parse(JSON.stringify(base)) as { cameras: { width: number; height: number; zones: { polygon: number[][] }[]; motion?: Record<string, unknown> }[]; inference: Record<string, unknown>; ingest: Record<string, unknown> };
  for (const cam of raw.cameras) {
    // Only when asked: a core without the motion gate rejects the key with a typed config error.
    if (s.motion !== null) cam.motion = { ...(cam.motion ?? {}), enabled: s.motion };
    if (s.detectEvery !== null) (cam as { detectEvery?: number }).detectEvery = s.detectEvery;
    // The plate camera keeps its own size: scaled down, its plates would be read at another width than the demo's.
    if ((cam as { id?: string }).id === DEMO_PLATE_CAMERA.id || (cam as { id?: string }).id === DEMO_FACE_CAMERA.id) continue;
    const sx = s.width / cam.width, sy = s.height / cam.height;
    cam.width = s.width;
    cam.height = s.height;
    for (const z of cam.zones) z.polygon = z.polygon.map(([x, y]) => [Math.min(s.width - 1, Math.round(x! * sx)), Math.min(s.height - 1, Math.round(y! * sy))]);
  }
  raw.inference = {
    ...raw.inference, backend: s.backend, workers: s.workers, maxBatch: s.batch, maxDelayMs: s.maxDelayMs,
    ...(s.inputSize !== null ? { inputSize: s.inputSize } : {}),
  };
  raw.ingest = { ...raw.ingest, queueSize: s.queueSize };
  return parseConfig(raw);
}

interface Counters { decoded: number; dropped: number; depth: number }
function counters(stack: Stack): Counters {
  let decoded = 0, dropped = 0, depth = 0;
  for (const r of stack.pipeline.cameras.runners()) {
    const h = r.health();
    decoded += h.framesDecoded;
    dropped += h.framesDropped;
    depth += h.queueDepth;
  }
  return { decoded, dropped, depth };
}

/**
 * The tensor count of every inference thread, read through the engine itself: one tiny frame per worker.
 * The worker reports `numTensors` with each result, so no stage needs a hook for it.
 */
/** Seconds between soak samples: a minute on long runs, about twelve samples on short ones. */
export const soakEvery = (seconds: number): number => (seconds >= 600 ? 60 : Math.max(5, Math.floor(seconds / 12)));

async function soakSample(st: Stack, dataDir: string, t_s: number, records: number): Promise<SoakSample> {
  const m = process.memoryUsage();
  const mib = (b: number): number => round(b / 2 ** 20, 1) ?? 0;
  return {
    t_s, rss_mib: mib(m.rss), heap_used_mib: mib(m.heapUsed), external_mib: mib(m.external + m.arrayBuffers),
    tensors: await probeTensors(st), open_fds: openFds(),
    index_mib: mib(folderBytes(join(dataDir, 'index'))), recordings_mib: mib(folderBytes(join(dataDir, 'recordings'))),
    nats_mib: mib(folderBytes(join(dataDir, 'nats'))), records,
  };
}

export function soakSlopes(samples: readonly SoakSample[]): SoakSlopes {
  const tail = samples.slice(Math.floor(samples.length / 3));
  const perH = (f: (x: SoakSample) => number | null, digits = 1): number | null => {
    const pts = tail.flatMap((x) => { const y = f(x); return y === null ? [] : [[x.t_s / 3600, y] as const]; });
    const v = slope(pts);
    return v === null ? null : round(v, digits);
  };
  const first = tail[0], last = tail[tail.length - 1];
  const recs = first && last ? last.records - first.records : 0;
  return {
    rss_mib_per_h: perH((x) => x.rss_mib), heap_mib_per_h: perH((x) => x.heap_used_mib), tensors_per_h: perH((x) => x.tensors),
    open_fds_per_h: perH((x) => x.open_fds), index_mib_per_h: perH((x) => x.index_mib),
    index_kib_per_record: first && last && recs > 0 ? round(((last.index_mib - first.index_mib) * 1024) / recs, 2) : null,
  };
}

async function probeTensors(stack: Stack): Promise<number | null> {
  const blank = { data: new Uint8Array(new SharedArrayBuffer(64 * 64 * 3)), width: 64, height: 64 };
  try {
    const outs = await Promise.all(Array.from({ length: stack.pipeline.engine.threads }, () => stack.pipeline.engine.run([blank])));
    return Math.max(...outs.map((o) => o.numTensors));
  } catch { return null; }
}

/** The face camera's run: astronaut.png on a public-security face list, as an investigator would put it there. */
async function listAstronaut(st: Stack): Promise<void> {
  const w = st.watchlists;
  if (!w) throw new Error('the stack has no watch-list store');
  const list = await w.createList({ name: 'bench', department: DEMO_FACE_CAMERA.department, kind: 'face' }, 'bench');
  await w.addFaceEntry(list.id, { label: 'astronaut', photos: [await readFile(mediaPath('astronaut.png'))] }, 'bench', 'all');
}

export async function runPipeline(sim: SimulatedCameraPool, s: RunSettings, sampler = new ProcSampler()): Promise<PipelineRun> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cvcore-bench-'));
  const logTail: string[] = [];
  const log = createLogger({ level: 'warn', sink: (l) => { logTail.push(l); if (logTail.length > 20) logTail.shift(); } });
  const config = runConfig(sim, s, dataDir);
  let stack: Stack | null = null;
  let nc: NatsConnection | null = null;
  const progress = new Progress(s.label, 10_000);
  try {
    stack = await startStack({ config, log });
    const st = stack;
    if (s.faceCamera === true) await listAstronaut(st);
    let measuring = false;
    // Records and alerts are rare and the first ones come during warm-up (a crowd is there from the start):
    // their latencies are collected from start-up to the end of the window; frame rates only inside it.
    let open = true;
    let firstAnalysed = 0;
    const capDet: number[] = [], capIdx: number[] = [], capOutbox: number[] = [], capSub: number[] = [];
    let tickLat: number[] = [];
    let analysed = 0, batchSum = 0, records = 0, alerts = 0;
    st.pipeline.on((e) => {
      if (e.type === 'analysed') {
        if (!firstAnalysed) firstAnalysed = e.doneAt;
        if (!measuring) return;
        analysed++;
        batchSum += e.batchSize;
        capDet.push(e.doneAt - e.capturedAt);
        tickLat.push(e.doneAt - e.capturedAt);
      } else if (e.type === 'record' && open) {
        records++;
        capIdx.push(Date.now() - e.record.end);
      } else if (e.type === 'alert' && open && e.alert.phase !== 'cleared') {
        alerts++;
        capOutbox.push(Date.now() - e.alert.at);
      }
    });
    // A real subscriber, as the city brain connects: the alert's `at` is the crossing frame's capture time.
    nc = await connect({ servers: st.natsUrl, user: DEFAULT_SUBSCRIBER_USER.user, pass: DEFAULT_SUBSCRIBER_USER.pass });
    const sub = nc.subscribe('citybrain.alerts.crowd.>');
    const sc = StringCodec();
    void (async () => {
      for await (const m of sub) {
        const now = Date.now();
        let a: { phase?: string; at?: number };
        // A message that is not an alert is not this benchmark's business; it must not end the run.
        try { a = JSON.parse(sc.decode(m.data)) as typeof a; } catch { continue; }
        if (open && a.phase !== 'cleared' && typeof a.at === 'number') capSub.push(now - a.at);
      }
    })();

    // Warm-up: every camera live and the first frame through the model, then a few seconds for queues to settle.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (!firstAnalysed || st.pipeline.cameras.runners().some((r) => r.state !== 'live'))) await sleep(200);
    await sleep(s.warmupS * 1000);

    sampler.sample();
    const tensorsStart = await probeTensors(st);
    const p0: CpuMemSnapshot = sampler.snapshot();
    const c0 = counters(st);
    const b0 = st.pipeline.batcher.stats();
    const t0 = performance.now();
    measuring = true;
    const ticks: Tick[] = [];
    let prev = c0, prevAnalysed = 0, maxDepth = 0;
    const every = soakEvery(s.seconds);
    const samples: SoakSample[] = [await soakSample(st, dataDir, 0, records)];
    for (let k = 1; k <= s.seconds; k++) {
      await sleep(Math.max(0, t0 + k * 1000 - performance.now()));
      sampler.sample();
      const c = counters(st);
      maxDepth = Math.max(maxDepth, c.depth);
      const lat = [...tickLat].sort((a, b) => a - b);
      ticks.push({ t_s: k, decoded: c.decoded - prev.decoded, analysed: analysed - prevAnalysed, dropped: c.dropped - prev.dropped, queue_depth: c.depth, p50_ms: lat.length ? lat[Math.floor(lat.length / 2)]! : null });
      tickLat = [];
      prev = c;
      prevAnalysed = analysed;
      if (k % every === 0) samples.push(await soakSample(st, dataDir, k, records));
      progress.update(k, s.seconds, `decoded ${c.decoded - c0.decoded}  analysed ${analysed}  dropped ${c.dropped - c0.dropped}  queue ${c.depth}`);
    }
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    progress.done();
    const c1 = counters(st);
    const b1 = st.pipeline.batcher.stats();
    const p1 = sampler.snapshot();
    const tensorsEnd = await probeTensors(st);
    // Let alerts in flight reach the subscriber before closing it.
    await sleep(300);
    open = false;
    await sub.drain().catch(() => undefined);

    const cpu = cpuBetween(p0, p1);
    const decoded = c1.decoded - c0.decoded;
    const dropped = c1.dropped - c0.dropped;
    const third = Math.max(1, Math.floor(ticks.length / 3));
    const meanDepth = (xs: readonly Tick[]): number | null => (xs.length ? round(xs.reduce((n, t) => n + t.queue_depth, 0) / xs.length, 2) : null);
    const pipelineCpu = cpu.main + cpu.decoders + cpu.nats;
    const { label: _label, ...settings } = s;
    void _label;
    return {
      settings,
      seconds: round(elapsed, 2) ?? 0,
      decoded, analysed, dropped,
      decoded_fps: round(decoded / elapsed, 2),
      analysed_fps: round(analysed / elapsed, 2),
      analysed_fps_per_stream: round(analysed / elapsed / s.streams, 2),
      handled_fps_per_stream: round((decoded - dropped) / elapsed / s.streams, 2),
      drop_pct: decoded > 0 ? round((100 * dropped) / decoded, 2) : null,
      mean_batch: b1.batches > b0.batches ? round((b1.frames - b0.frames) / (b1.batches - b0.batches), 2) : (analysed > 0 ? round(batchSum / analysed, 2) : null),
      latency: {
        capture_to_detection: latencyStats(capDet), capture_to_index: latencyStats(capIdx),
        capture_to_outbox: latencyStats(capOutbox), capture_to_subscriber: latencyStats(capSub),
      },
      records, alerts,
      cpu: {
        main_s: round(cpu.main, 2), decoders_s: round(cpu.decoders, 2), nats_s: round(cpu.nats, 2),
        simulation_s: round(cpu.publishers + cpu.rtspServer, 2),
        pipeline_cores: round(pipelineCpu / elapsed, 2),
        cpu_ms_per_analysed_frame: analysed > 0 ? round((pipelineCpu * 1000) / analysed, 1) : null,
      },
      memory: {
        peak_rss_main_mib: round(p1.mainMaxRssMiB), peak_rss_decoders_mib: round(p1.children.decoder.peakRssMiB), peak_rss_nats_mib: round(p1.children.nats.peakRssMiB),
        peak_rss_total_mib: round(p1.mainMaxRssMiB + p1.children.decoder.peakRssMiB + p1.children.nats.peakRssMiB),
        rss_start_mib: round(p0.mainRssMiB), rss_end_mib: round(p1.mainRssMiB), tensors_start: tensorsStart, tensors_end: tensorsEnd,
        samples, slopes: soakSlopes(samples),
      },
      queue: { capacity_frames: s.queueSize * s.streams, mean_depth_first_third: meanDepth(ticks.slice(0, third)), mean_depth_last_third: meanDepth(ticks.slice(-third)), max_depth: maxDepth },
      ticks,
      log_tail: logTail,
    };
  } finally {
    progress.done();
    // Closed before the stack stops its nats-server, or the client would keep reconnecting (and the process alive).
    await nc?.close().catch(() => undefined);
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
