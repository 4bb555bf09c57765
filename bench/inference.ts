/**
 * `cvcore bench inference`: the detector's throughput through the pipeline (FrameQueue -> Batcher -> piscina
 * pool -> worker -> centernet) against a bare tfjs loop over the same model, frames and backend in this same
 * process (no pool, no batcher, no decode of the results into typed detections beyond reading them). Runs one
 * after the other, never together, so they do not compete for the cores.
 *
 * JSON: backend, workers (W), seconds, bare_fps, pipeline_fps_1_worker, pipeline_fps_n_workers (W workers),
 * ratio_vs_bare (pipeline with one worker at batch 1 over the bare loop: the cost of the machinery),
 * scaling_2_workers (two workers over one), batch_sweep ({ batch, fps }[] with one worker), cpus, load, and
 * `adapter` (webgpu: the GPU the engine's GPU thread chose - vendor, architecture, device, description, Dawn
 * backend type, whether it is a software adapter such as lavapipe, its batch limits; null for the CPU backends).
 * On webgpu the engine has one GPU thread whatever --workers says (the workers then only structure), so
 * scaling_2_workers says nothing there; the batch sweep is what counts.
 * Targets: ratio_vs_bare >= 0.9; scaling_2_workers >= 1.7 on a machine with two free cores.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import type { Frame } from '../common/messages.js';
import { OBJECT_CLASSES } from '../common/messages.js';
import { mediaPath } from '../common/paths.js';
import { FrameQueue } from '../ingest/index.js';
import { Batcher, InferenceEngine, getBackend, type BackendName } from '../inference/index.js';
import { loadGraph } from '../inference/graph.js';
import { BACKENDS } from '../config/index.js';
import { shutdownWebgpu, type AdapterInfo } from '../inference/webgpu-backend.js';

const W = 768;
const H = 576;
const FRAMES = 16;

interface Args { workers: number; seconds: number; json: boolean; backend: BackendName }

function parse(args: readonly string[]): Args {
  const out: Args = { workers: 2, seconds: 10, json: false, backend: 'wasm' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === '--json') out.json = true;
    else if (a === '--workers') { out.workers = Number(v); i++; }
    else if (a === '--seconds') { out.seconds = Number(v); i++; }
    else if (a === '--backend') {
      if (!(BACKENDS as readonly string[]).includes(v ?? '')) throw new RangeError(`--backend must be one of ${BACKENDS.join(', ')}`);
      out.backend = v as BackendName; i++;
    } else throw new RangeError(`unknown argument ${a}`);
  }
  if (!Number.isInteger(out.workers) || out.workers < 1) throw new RangeError('--workers must be a positive integer');
  if (!(out.seconds > 0)) throw new RangeError('--seconds must be > 0');
  return out;
}

/** Real frames of vtest.avi in SharedArrayBuffers, as ingest delivers them. */
function loadFrames(): Uint8Array[] {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', mediaPath('vtest.avi'), '-vf', 'select=not(mod(n\\,25))', '-vsync', '0',
    '-frames:v', String(FRAMES), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: W * H * 3 * FRAMES + 1024 });
  return Array.from({ length: FRAMES }, (_, i) => {
    const u = new Uint8Array(new SharedArrayBuffer(W * H * 3));
    u.set(raw.subarray(i * W * H * 3, (i + 1) * W * H * 3));
    return u;
  });
}

async function bareFps(backend: BackendName, frames: readonly Uint8Array[], seconds: number): Promise<number> {
  await getBackend(backend).init();
  const { model } = await loadGraph('centernet');
  const once = async (data: Uint8Array): Promise<void> => {
    const out = tf.tidy(() => {
      const input = tf.expandDims(tf.image.resizeBilinear(tf.tensor3d(data, [H, W, 3], 'float32'), [512, 512]), 0);
      return model.execute(input, 'tower_0/detections') as tf.Tensor;
    });
    await out.data();
    out.dispose();
  };
  await once(frames[0]!);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) await once(frames[n++ % frames.length]!);
  const fps = n / ((performance.now() - t0) / 1000);
  model.dispose();
  // Dawn would keep the process alive after the command; the engine's GPU thread gets its own device.
  if (backend === 'webgpu') shutdownWebgpu();
  return fps;
}

/** The adapter the last webgpu engine reported (its GPU thread's). */
let adapter: AdapterInfo | null = null;

async function pipelineFps(backend: BackendName, workers: number, batch: number, frames: readonly Uint8Array[], seconds: number): Promise<number> {
  const engine = await InferenceEngine.start({ backend, model: 'centernet', workers, minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES, ...(backend === 'webgpu' ? { maxBatch: batch } : {}) });
  adapter = engine.gpu?.adapter ?? adapter;
  try {
    // Warm the real frame size once per thread (kernel set-up for 768x576 inputs) before timing.
    await Promise.all(Array.from({ length: workers }, () => engine.run([{ data: frames[0]!, width: W, height: H }])));
    const queue = new FrameQueue(Math.max(8, 2 * batch * workers));
    let seq = 0;
    const next = (): Frame => ({ cameraId: 'bench', seq: seq, pts: seq / 25, capturedAt: Date.now(), width: W, height: H, data: frames[seq++ % frames.length]! });
    // Frames are counted up to the last delivery, and the run goes on past `seconds` until at least two
    // full rounds of batches have come back, so a long batch is never cut in half by the timer.
    const minFrames = 2 * batch * workers;
    let delivered = 0;
    let last = 0;
    let counting = true;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((r) => { done = r; });
    let t0 = 0;
    const batcher = new Batcher(engine, { maxBatch: batch, maxDelayMs: 0, maxInFlight: workers }, () => {
      if (!counting) return;
      delivered++;
      last = performance.now();
      if (last - t0 >= seconds * 1000 && delivered >= minFrames && delivered % batch === 0) { counting = false; done(); }
      // Keep the camera queue full: the pipeline is never starved, so this is its throughput ceiling.
      queue.push(next());
    });
    t0 = performance.now();
    batcher.add('bench', queue);
    // Pushed after add: each push signals the batcher, which is what starts it pumping.
    for (let i = 0; i < queue.capacity; i++) queue.push(next());
    await finished;
    await batcher.stop();
    return delivered / ((last - t0) / 1000);
  } finally {
    await engine.stop();
  }
}

export interface InferenceBenchResult {
  readonly backend: BackendName;
  readonly workers: number;
  readonly seconds: number;
  readonly bare_fps: number;
  readonly pipeline_fps_1_worker: number;
  readonly pipeline_fps_n_workers: number;
  readonly ratio_vs_bare: number;
  readonly scaling_2_workers: number;
  readonly batch_sweep: readonly { readonly batch: number; readonly fps: number }[];
  readonly cpus: number;
  readonly load_before: number;
  readonly load_after: number;
  readonly adapter: AdapterInfo | null;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export async function benchInference(args: string[]): Promise<number> {
  const a = parse(args);
  const frames = loadFrames();
  const load0 = loadavg()[0]!;
  const log = (m: string): void => { if (!a.json) process.stderr.write(`${m}\n`); };
  adapter = null;
  const bare = await bareFps(a.backend, frames, a.seconds);
  log(`bare loop: ${bare.toFixed(2)} fps`);
  const one = await pipelineFps(a.backend, 1, 1, frames, a.seconds);
  log(`pipeline, 1 worker, batch 1: ${one.toFixed(2)} fps`);
  const two = await pipelineFps(a.backend, 2, 1, frames, a.seconds);
  log(`pipeline, 2 workers, batch 1: ${two.toFixed(2)} fps`);
  const many = a.workers === 2 ? two : a.workers === 1 ? one : await pipelineFps(a.backend, a.workers, 1, frames, a.seconds);
  if (a.workers > 2) log(`pipeline, ${a.workers} workers, batch 1: ${many.toFixed(2)} fps`);
  const sweep: { batch: number; fps: number }[] = [];
  for (const batch of [1, 2, 4, 8]) {
    const fps = batch === 1 ? one : await pipelineFps(a.backend, 1, batch, frames, a.seconds);
    sweep.push({ batch, fps: r3(fps) });
    log(`pipeline, 1 worker, batch ${batch}: ${fps.toFixed(2)} fps`);
  }
  const result: InferenceBenchResult = {
    backend: a.backend, workers: a.workers, seconds: a.seconds,
    bare_fps: r3(bare), pipeline_fps_1_worker: r3(one), pipeline_fps_n_workers: r3(many),
    ratio_vs_bare: r3(one / bare), scaling_2_workers: r3(two / one), batch_sweep: sweep,
    cpus: availableParallelism(), load_before: r3(load0), load_after: r3(loadavg()[0]!),
    adapter,
  };
  process.stdout.write(a.json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 2)}\n`);
  return 0;
}
