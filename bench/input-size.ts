/**
 * `cvcore bench input-size`: an experiment, not a product path. Does centernet run at a smaller input than the
 * 512x512 of its manifest, how much faster, and how many of the people it finds at 512 does it still find?
 * The detector in inference/ has its input size fixed by the manifest, so this loads the same verified graph
 * (models/) directly with tfjs and feeds it vtest.avi frames at each size. If a size holds recall, the finding
 * is an argument for an `inference.inputSize` setting; until then the capacity sweep runs at 512.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as tfconv from '@tensorflow/tfjs-converter';
import type { Detection } from '../common/messages.js';
import { mediaPath } from '../common/paths.js';
import { DEFAULTS } from '../config/defaults.js';
import { decodeCenternet, getBackend, iou, type BackendName, type FrameInput } from '../inference/index.js';
import { readModel } from '../models/index.js';
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
function matched(ref: readonly Detection[], got: readonly Detection[]): number {
  const used = new Set<number>();
  let n = 0;
  for (const r of ref) {
    let best = -1, bestIou = MATCH_IOU;
    got.forEach((g, j) => { const v = iou(r.box, g.box); if (!used.has(j) && v >= bestIou) { best = j; bestIou = v; } });
    if (best >= 0) { used.add(best); n++; }
  }
  return n;
}

interface GraphNode { name: string; op: string; attr?: { shape?: { shape?: { dim?: { size: string }[] } } } }

/**
 * The converted graph pins its input placeholder to 1x512x512x3, and tfjs checks inputs against it. A copy of
 * the topology with height and width left free (-1) lets the graph run at other sizes, if its ops allow.
 */
function freeSpatialSize(topology: unknown): unknown {
  const copy = structuredClone(topology) as { node?: GraphNode[] };
  for (const n of copy.node ?? []) {
    const dim = n.op === 'Placeholder' ? n.attr?.shape?.shape?.dim : undefined;
    if (dim && dim.length === 4) { dim[1]!.size = '-1'; dim[2]!.size = '-1'; }
  }
  return copy;
}

/**
 * centernet's head resizes its feature maps to fixed sizes (32, 64, 128 at a 512 input) and flattens a fixed
 * 128x128 grid; those are int32 constants among the weights. For another input size they are scaled by
 * size/512, in a copy of the weight bytes (the weights on disk and in models/ are never touched).
 */
const SIZE_CONSTS: Readonly<Record<string, (f: number) => number[]>> = {
  'tower_0/CenternetHead/c5_upsample/up_sampling2d/mul': (f) => [32 * f, 32 * f],
  'tower_0/CenternetHead/c4_upsample/up_sampling2d_1/mul': (f) => [64 * f, 64 * f],
  'tower_0/CenternetHead/c3_upsample/up_sampling2d_2/mul': (f) => [128 * f, 128 * f],
  'tower_0/BatchGather/concat': (f) => [(128 * f) ** 2, 4],
  'tower_0/strided_slice_6': (f) => [128 * f],
};

interface WeightSpec { name: string; shape: number[]; dtype: string; quantization?: { dtype: string } }
const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

function scaledWeights(specs: readonly WeightSpec[], data: ArrayBuffer, size: number): ArrayBuffer {
  const out = data.slice(0);
  const f = size / 512;
  let off = 0;
  for (const w of specs) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const bytes = n * (BYTES[w.quantization?.dtype ?? w.dtype] ?? 4);
    const scale = SIZE_CONSTS[w.name];
    if (scale && w.dtype === 'int32' && !w.quantization) new Int32Array(out, off, n).set(scale(f));
    off += bytes;
  }
  return out;
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
  await getBackend(backend).init();
  const art = await readModel(DEFAULTS.inference.model);
  const load = (size: number): Promise<tfconv.GraphModel> => tfconv.loadGraphModel(tf.io.fromMemory({
    modelTopology: freeSpatialSize(art.modelTopology) as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs: art.weightSpecs as tf.io.WeightsManifestEntry[],
    weightData: scaledWeights(art.weightSpecs as WeightSpec[], art.weightData, size),
  }));
  const opts = { minScore: DEFAULTS.tracking.highScore, iouThreshold: DEFAULTS.inference.iouThreshold, classes: ['person'] as const };
  const run = async (model: tfconv.GraphModel, size: number, f: FrameInput): Promise<Detection[]> => {
    const out = tf.tidy(() => {
      const img = tf.tensor3d(f.data, [f.height, f.width, 3], 'float32');
      return model.execute(tf.expandDims(tf.image.resizeBilinear(img, [size, size]), 0), 'tower_0/detections') as tf.Tensor;
    });
    try { return decodeCenternet((await out.data()) as Float32Array, art.entry.labels, size, f.width, f.height, opts); } finally { out.dispose(); }
  };

  const ref: Detection[][] = [];
  const rows: InputSizeRow[] = [];
  for (const size of sizes) {
    let model: tfconv.GraphModel | null = null;
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
