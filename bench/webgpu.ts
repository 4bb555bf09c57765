/**
 * `benchWebgpu(args)`: centernet frames per second on the webgpu backend at batch 1, 8, 32 and 64 (capped by
 * maxBatch), and the same frames on the wasm backend on this machine's CPU for the ratio. The process must
 * already have its Vulkan environment (on CI: the lines scripts/setup-vulkan.sh prints). On lavapipe the
 * figures prove the path, not the speed: keep `runs` at 1 and maxBatch at 8 there.
 */
import { spawnSync } from 'node:child_process';
import { OBJECT_CLASSES } from '../common/messages.js';
import { mediaPath } from '../common/paths.js';
import { DetectorRunner, type FrameInput } from '../inference/runner.js';
import type { AdapterInfo } from '../inference/webgpu-backend.js';
import { WebgpuDetectorRunner } from '../inference/webgpu-runner.js';

export interface WebgpuBenchArgs {
  /** Largest batch measured (1..64); batch sizes above it are skipped. */
  readonly maxBatch?: number;
  /** Timed batches per batch size, after one untimed warm-up batch (shader compilation). */
  readonly runs?: number;
  /** Frames the wasm reference times (frame by frame). */
  readonly wasmFrames?: number;
}
export interface WebgpuBenchResult {
  readonly adapter: AdapterInfo;
  readonly batches: readonly { readonly batch: number; readonly fps: number; readonly msPerBatch: number; readonly warmupMs: number }[];
  readonly wasm: { readonly fps: number; readonly frames: number };
  /** Best webgpu fps over wasm fps. */
  readonly ratioToWasm: number;
}

const BATCHES = [1, 8, 32, 64] as const;
const W = 768;
const H = 576;

/** Distinct frames of vtest.avi (pedestrians), decoded once; batches reuse them cyclically. */
function sampleFrames(count: number): FrameInput[] {
  const r = spawnSync('ffmpeg', ['-loglevel', 'error', '-i', mediaPath('vtest.avi'), '-vf', 'fps=1', '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  const px = W * H * 3;
  const n = Math.floor(r.stdout.byteLength / px);
  return Array.from({ length: n }, (_, i) => ({ data: new Uint8Array(r.stdout.buffer, r.stdout.byteOffset + i * px, px), width: W, height: H }));
}

export async function benchWebgpu(args: WebgpuBenchArgs = {}): Promise<WebgpuBenchResult> {
  const cap = args.maxBatch ?? 64;
  const runs = args.runs ?? 1;
  const wasmFrames = args.wasmFrames ?? 4;
  if (!Number.isInteger(cap) || cap < 1 || cap > 64) throw new RangeError('args.maxBatch must be an integer from 1 to 64');
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError('args.runs must be a positive integer');
  if (!Number.isInteger(wasmFrames) || wasmFrames < 1) throw new RangeError('args.wasmFrames must be a positive integer');
  const sizes = BATCHES.filter((b) => b <= cap);
  const top = Math.max(...sizes);
  const distinct = sampleFrames(Math.min(top, 16));
  const framesFor = (n: number): FrameInput[] => Array.from({ length: n }, (_, i) => distinct[i % distinct.length]!);
  const decode = { minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES };

  const gpu = await WebgpuDetectorRunner.create('centernet', decode, { maxBatch: top });
  const batches: { batch: number; fps: number; msPerBatch: number; warmupMs: number }[] = [];
  try {
    for (const b of sizes) {
      const frames = framesFor(b);
      let t = performance.now();
      await gpu.detectBatch(frames); // shapes differ per batch size, so each size compiles its own shaders
      const warmupMs = performance.now() - t;
      t = performance.now();
      for (let r = 0; r < runs; r++) await gpu.detectBatch(frames);
      const ms = (performance.now() - t) / runs;
      batches.push({ batch: b, fps: (b * 1000) / ms, msPerBatch: ms, warmupMs });
    }
  } finally {
    gpu.dispose();
  }

  const wasm = await DetectorRunner.create('wasm', 'centernet', decode);
  const frames = framesFor(wasmFrames);
  await wasm.detect(frames[0]!);
  const t = performance.now();
  for (const f of frames) await wasm.detect(f);
  const wasmFps = (wasmFrames * 1000) / (performance.now() - t);
  wasm.dispose();
  const best = Math.max(...batches.map((b) => b.fps));
  return { adapter: gpu.adapter, batches, wasm: { fps: wasmFps, frames: wasmFrames }, ratioToWasm: best / wasmFps };
}
