/**
 * `cvcore bench input-size`: an experiment, not a product path. Does centernet run at a smaller input than the
 * 512x512 of its manifest, how much faster, and how many of the people it finds at 512 does it still find?
 * It runs the product's detector (DetectorRunner, as `inference.inputSize` sets it) on vtest.avi frames at each size.
 */
import { parseArgs } from 'node:util';
import type { Detection } from '../common/messages.js';
import { mediaPath } from '../common/paths.js';
import { DEFAULTS } from '../config/defaults.js';
import { createDetector, iou, type BackendName, type Detector, type FrameInput } from '../inference/index.js';
import { bareDecode } from './bare.js';
import { fmt, round, table } from './report.js';

export interface InputSizeRow {
  readonly size: number;
  readonly ok: boolean;
  readonly error: string | null;
  readonly ms_per_frame: number | null;
  /** CPU per frame: on a shared machine the wall time mostly measures the neighbours. */
  readonly cpu_ms_per_frame: number | null;
  readonly persons: number;
  /** Share of the 512 run's persons (score >= highScore) found again at IoU >= 0.5. */
  readonly recall_vs_512: number | null;
  /** Share of this size's persons that the 512 run also found. */
  readonly precision_vs_512: number | null;
}

const MATCH_IOU = 0.5;

/** Greedy one-to-one matching by IoU; enough to compare two detectors' outputs on the same frame. */
export function matched(ref: readonly Detection[], got: readonly Detection[]): number {
  const used = new Set<number>();
  let n = 0;
  for (const r of ref) {
    let best = -1, bestIou = MATCH_IOU;
    got.forEach((g, j) => { const v = iou(r.box, g.box); if (!used.has(j) && v >= bestIou) { best = j; bestIou = v; } });
    if (best >= 0) { used.add(best); n++; }
  }
  return n;
}

export async function benchInputSize(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, strict: true, allowPositionals: false, options: { sizes: { type: 'string' }, frames: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' } } });
  const sizes = [...new Set((values.sizes ?? '512,384,320,256').split(',').map(Number))];
  if (sizes.some((s) => !Number.isInteger(s) || s < 64 || s > 1024 || s % 32 !== 0)) throw new RangeError('--sizes must be multiples of 32 from 64 to 1024, comma-separated');
  const nFrames = Number(values.frames ?? 16);
  if (!Number.isInteger(nFrames) || nFrames < 1 || nFrames > 200) throw new RangeError('--frames must be an integer from 1 to 200');
  const backend = (values.backend ?? 'wasm') as BackendName;
  // 512 first: it is the reference the other sizes are compared with.
  if (!sizes.includes(512)) sizes.push(512);
  sizes.sort((a, b) => (a === 512 ? -1 : b === 512 ? 1 : b - a));

  // Frames spread over the clip (1 fps) at the demo's analysis size, decoded as ingest decodes them.
  const { kept } = await bareDecode([{ url: mediaPath('vtest.mp4'), fps: 1, width: 640, height: 480, transport: 'tcp' }], 5, nFrames);
  const frames: FrameInput[] = kept.slice(0, nFrames);
  const opts = { minScore: DEFAULTS.tracking.highScore, iouThreshold: DEFAULTS.inference.iouThreshold, classes: ['person'] as const };
  const load = (size: number): Promise<Detector> => createDetector(backend, 'centernet', opts, size);
  const run = (model: Detector, _size: number, f: FrameInput): Promise<Detection[]> => model.detect(f);

  const ref: Detection[][] = [];
  const rows: InputSizeRow[] = [];
  for (const size of sizes) {
    let model: Detector | null = null;
    try {
      model = await load(size);
      await run(model, size, frames[0]!);
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const dets: Detection[][] = [];
      for (const f of frames) dets.push(await run(model, size, f));
      const ms = (performance.now() - t0) / frames.length;
      const c = process.cpuUsage(c0);
      const cpuMs = (c.user + c.system) / 1000 / frames.length;
      if (size === 512) ref.push(...dets);
      const persons = dets.reduce((n, d) => n + d.length, 0);
      const refN = ref.reduce((n, d) => n + d.length, 0);
      const hit = dets.reduce((n, d, i) => n + matched(ref[i] ?? [], d), 0);
      rows.push({ size, ok: true, error: null, ms_per_frame: round(ms), cpu_ms_per_frame: round(cpuMs), persons, recall_vs_512: refN ? round(hit / refN, 3) : null, precision_vs_512: persons ? round(hit / persons, 3) : null });
    } catch (err) {
      rows.push({ size, ok: false, error: (err as Error).message.split('\n')[0] ?? String(err), ms_per_frame: null, cpu_ms_per_frame: null, persons: 0, recall_vs_512: null, precision_vs_512: null });
    } finally {
      model?.dispose();
    }
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ backend, frames: frames.length, rows }, null, 2) + '\n');
  } else {
    process.stdout.write(`centernet on ${frames.length} vtest.avi frames (640x480), backend ${backend}, persons with score >= ${opts.minScore}\n`);
    process.stdout.write(table(['input', 'ms/frame', 'CPU ms/frame', 'persons', 'recall vs 512', 'precision vs 512', 'error'],
      rows.map((r) => [`${r.size}x${r.size}`, fmt(r.ms_per_frame, 0), fmt(r.cpu_ms_per_frame, 0), String(r.persons), fmt(r.recall_vs_512, 3), fmt(r.precision_vs_512, 3), r.error ?? ''])) + '\n');
  }
  return 0;
}
