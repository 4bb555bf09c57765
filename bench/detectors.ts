/**
 * `cvcore bench detectors`: which detector configuration should a node run? For every detector in the model
 * manifest at every input size it can take: CPU per frame on one thread, frames a second on the worker pool
 * (the default thread count), people found on vtest.avi, and recall and precision against centernet at 512 on
 * the same frames (the reference: no ground truth ships for vtest.avi). Then the frontier at 5 fps: cameras
 * against recall per configuration (size x detection cadence). Without `--capacity` the cameras column is the
 * detector's own ceiling (pool frames/s x cadence / 5, no decode, tracking or index); with `--capacity` each
 * configuration is swept through the real pipeline like `bench capacity` (minutes per configuration).
 */
import { parseArgs } from 'node:util';
import type { Detection } from '../common/messages.js';
import { mediaPath } from '../common/paths.js';
import { DEFAULTS } from '../config/defaults.js';
import { createDetector, InferenceEngine, type BackendName, type FrameInput } from '../inference/index.js';
import { loadManifest } from '../models/index.js';
import { startDemoCameras } from '../runtime/index.js';
import { bareDecode } from './bare.js';
import { capacityOf, sweepCapacity } from './capacity.js';
import { intArg } from './e2e.js';
import { matched } from './input-size.js';
import { RUN_DEFAULTS } from './pipeline-run.js';
import { fmt, hostInfo, round, table, type HostInfo } from './report.js';

export interface DetectorRow {
  readonly model: string;
  readonly input: number;
  readonly cpu_ms_per_frame: number;
  /** Frames a second through the engine with the default worker threads, batches of the default size. */
  readonly pool_fps: number;
  readonly persons: number;
  readonly recall_vs_512: number | null;
  readonly precision_vs_512: number | null;
}

export interface FrontierRow {
  readonly model: string;
  readonly input: number;
  readonly detect_every: number;
  /** Detection alone: pool frames/s x cadence / target fps. An upper bound on cameras. */
  readonly cameras_ceiling: number;
  /** Measured through the whole pipeline (`--capacity`), else null. */
  readonly capacity_streams: number | null;
  readonly recall_vs_512: number | null;
}

export interface DetectorsReport {
  readonly kind: 'detectors';
  readonly at: string;
  readonly host: HostInfo;
  readonly backend: BackendName;
  readonly workers: number;
  readonly frames: number;
  readonly fps: number;
  readonly rows: readonly DetectorRow[];
  readonly frontier: readonly FrontierRow[];
}

const REFERENCE = { model: 'centernet', input: 512 } as const;
const CADENCES = [1, 2] as const;

async function poolFps(backend: BackendName, model: string, inputSize: number, frames: readonly FrameInput[], seconds: number): Promise<number> {
  const workers = DEFAULTS.inference.workers;
  const engine = await InferenceEngine.start({ backend, model, inputSize, workers, minScore: 0.2, iouThreshold: 0.5, classes: ['person'] });
  try {
    const batch = DEFAULTS.inference.maxBatch;
    const pick = (k: number): FrameInput[] => Array.from({ length: batch }, (_, i) => frames[(k * batch + i) % frames.length]!);
    await Promise.all(Array.from({ length: workers }, (_, w) => engine.run(pick(w))));
    let done = 0;
    const t0 = performance.now();
    // One loop per thread keeps every thread busy with batches of the default size, as a loaded node is.
    await Promise.all(Array.from({ length: workers }, async (_, w) => {
      for (let k = w; performance.now() - t0 < seconds * 1000; k += workers) { await engine.run(pick(k)); done += batch; }
    }));
    return done / ((performance.now() - t0) / 1000);
  } finally {
    await engine.stop();
  }
}

export async function benchDetectors(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true, allowPositionals: false,
    options: { frames: { type: 'string' }, seconds: { type: 'string' }, backend: { type: 'string' }, capacity: { type: 'boolean' }, 'max-streams': { type: 'string' }, json: { type: 'boolean' } },
  });
  const nFrames = intArg(values, 'frames', 24, 1, 200);
  const seconds = intArg(values, 'seconds', 8, 2, 600);
  const maxStreams = intArg(values, 'max-streams', 8, 1, 64);
  const backend = (values.backend ?? DEFAULTS.inference.backend) as BackendName;
  const fps = RUN_DEFAULTS.fps;
  const candidates = loadManifest().models.filter((m) => m.task === 'object-detection')
    .flatMap((m) => (m.inputSizes ?? [m.inputShape[1] ?? 0]).map((input) => ({ model: m.name, input })))
    // The reference first: every other candidate is compared with what it found.
    .sort((a, b) => Number(b.model === REFERENCE.model && b.input === REFERENCE.input) - Number(a.model === REFERENCE.model && a.input === REFERENCE.input) || b.input - a.input);

  // Frames spread over the clip (1 fps) at the demo's analysis size, decoded as ingest decodes them.
  const { kept } = await bareDecode([{ url: mediaPath('vtest.mp4'), fps: 1, width: 640, height: 480, transport: 'tcp' }], 5, nFrames);
  const frames = kept.slice(0, nFrames);
  const opts = { minScore: DEFAULTS.tracking.highScore, iouThreshold: DEFAULTS.inference.iouThreshold, classes: ['person'] as const };
  let ref: Detection[][] | null = null;
  const rows: DetectorRow[] = [];
  for (const c of candidates) {
    process.stderr.write(`[detectors] ${c.model} at ${c.input}\n`);
    const runner = await createDetector(backend, c.model, opts, c.input);
    let dets: Detection[][];
    let cpuMs: number;
    try {
      await runner.detect(frames[0]!);
      const c0 = process.cpuUsage();
      dets = [];
      for (const f of frames) dets.push(await runner.detect(f));
      const u = process.cpuUsage(c0);
      cpuMs = (u.user + u.system) / 1000 / frames.length;
    } finally {
      runner.dispose();
    }
    ref ??= dets;
    const persons = dets.reduce((n, d) => n + d.length, 0);
    const refN = ref.reduce((n, d) => n + d.length, 0);
    const hit = dets.reduce((n, d, i) => n + matched(ref![i] ?? [], d), 0);
    rows.push({
      model: c.model, input: c.input, cpu_ms_per_frame: round(cpuMs) ?? 0, pool_fps: round(await poolFps(backend, c.model, c.input, frames, seconds), 2) ?? 0,
      persons, recall_vs_512: refN ? round(hit / refN, 3) : null, precision_vs_512: persons ? round(hit / persons, 3) : null,
    });
  }

  const frontier: FrontierRow[] = [];
  const sim = values.capacity ? await startDemoCameras(maxStreams) : null;
  try {
    for (const r of rows) {
      for (const every of CADENCES) {
        let capacity: number | null = null;
        if (sim) {
          process.stderr.write(`[detectors] capacity of ${r.model} at ${r.input}, detection every ${every}\n`);
          const settings = { ...RUN_DEFAULTS, inputSize: r.input, detectEvery: every };
          capacity = capacityOf(await sweepCapacity(sim, settings, { fps, minStreams: 1, maxStreams, seconds: 20, all: false }));
        }
        frontier.push({ model: r.model, input: r.input, detect_every: every, cameras_ceiling: round((r.pool_fps * every) / fps, 1) ?? 0, capacity_streams: capacity, recall_vs_512: r.recall_vs_512 });
      }
    }
  } finally {
    await sim?.stop();
  }
  const report: DetectorsReport = { kind: 'detectors', at: new Date().toISOString(), host: hostInfo(), backend, workers: DEFAULTS.inference.workers, frames: frames.length, fps, rows, frontier };
  if (values.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(`${frames.length} vtest.avi frames at 640x480, backend ${backend}, ${report.workers} worker(s); persons with score >= ${opts.minScore}\n`);
  process.stdout.write(table(['model', 'input', 'CPU ms/frame', 'pool frames/s', 'persons', 'recall vs 512', 'precision vs 512'],
    rows.map((r) => [r.model, String(r.input), fmt(r.cpu_ms_per_frame, 0), fmt(r.pool_fps, 2), String(r.persons), fmt(r.recall_vs_512, 3), fmt(r.precision_vs_512, 3)])) + '\n\n');
  process.stdout.write(`frontier at ${fps} fps per camera\n`);
  process.stdout.write(table(['model', 'input', 'detect every', 'cameras (detector ceiling)', 'cameras (pipeline)', 'recall vs 512'],
    frontier.map((f) => [f.model, String(f.input), String(f.detect_every), fmt(f.cameras_ceiling, 1), f.capacity_streams === null ? '-' : String(f.capacity_streams), fmt(f.recall_vs_512, 3)])) + '\n');
  return 0;
}

