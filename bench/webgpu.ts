/**
 * `benchWebgpu(args)` / `cvcore bench webgpu`: centernet frames per second on the webgpu backend at batch 1, 8,
 * 32 and 64 (or --batches), each batch size first checked against the adapter's limits (a batch whose input
 * buffer would exceed maxStorageBufferBindingSize or maxBufferSize is skipped, with the limit named), and the
 * same frames on the wasm backend on this machine's CPU for the ratio. The process must already have its Vulkan
 * environment (on CI: the lines scripts/setup-vulkan.sh prints). On lavapipe the figures prove the path, not the
 * speed: keep `runs` at 1 and the batches at 1 and 2 there (bench/gpu-check.sh --quick does).
 */
import { spawnSync } from 'node:child_process';
import { OBJECT_CLASSES } from '../common/messages.js';
import { mediaPath } from '../common/paths.js';
import { DetectorRunner, type FrameInput } from '../inference/runner.js';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { maxBatchForLimits, requiredLimits, type AdapterInfo } from '../inference/webgpu-backend.js';
import { WebgpuDetectorRunner } from '../inference/webgpu-runner.js';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { FaceModels } from '../inference/face.js';
import { PoseModel } from '../inference/pose.js';
import { structure, structurePeople, type StructureInput } from '../inference/structure.js';

export interface WebgpuBenchArgs {
  /** Largest batch measured (1..64); batch sizes above it are skipped. */
  readonly maxBatch?: number;
  /** The batch sizes to measure (default 1, 8, 32, 64), each at most 64. */
  readonly batches?: readonly number[];
  /** Detector input size (one of centernet's inputSizes; default 512). */
  readonly inputSize?: number;
  /** Timed batches per batch size, after one untimed warm-up batch (shader compilation). */
  readonly runs?: number;
  /** Frames the wasm reference times (frame by frame). */
  readonly wasmFrames?: number;
  /** People's best shots structured as one GPU batch (face models and MoveNet, as the engine does) and one by one on wasm; 0 skips. */
  readonly structureShots?: number;
}
export interface WebgpuBenchResult {
  readonly kind: 'webgpu';
  readonly at: string;
  readonly adapter: AdapterInfo;
  readonly inputSize: number;
  /** Batch sizes the adapter's limits do not allow, with the limit that stops each. */
  readonly skipped: readonly { readonly batch: number; readonly limit: string; readonly need: number; readonly has: number }[];
  readonly host: { readonly cpus: number; readonly cpuModel: string; readonly load: number };
  readonly batches: readonly { readonly batch: number; readonly fps: number; readonly msPerBatch: number; readonly warmupMs: number }[];
  readonly wasm: { readonly fps: number; readonly frames: number };
  /** Best webgpu fps over wasm fps. */
  readonly ratioToWasm: number;
  /** Structuring people (faces, age/gender, descriptor, pose, clothing): one GPU batch of `shots` against wasm shot by shot. */
  readonly structuring: { readonly shots: number; readonly gpuShotsPerSec: number; readonly gpuMsPerBatch: number; readonly gpuWarmupMs: number; readonly wasmShotsPerSec: number; readonly ratioToWasm: number } | null;
}

const BATCHES = [1, 8, 32, 64] as const;

/** People's best shots with a face in the head region: the test photos (astronaut.png, messi5.jpg) in turn. */
async function personShots(n: number): Promise<StructureInput[]> {
  const photos = await Promise.all([
    { file: 'astronaut.png', box: { x: 70, y: 40, w: 312, h: 472 } },
    { file: 'messi5.jpg', box: { x: 188, y: 80, w: 105, h: 262 } },
  ].map(async ({ file, box }) => {
    const { data, info } = await sharp(await readFile(mediaPath(file))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, box, cls: 'person' as const };
  }));
  return Array.from({ length: n }, (_, i) => photos[i % photos.length]!);
}
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
  const nShots = args.structureShots ?? 8;
  if (!Number.isInteger(nShots) || nShots < 0 || nShots > 64) throw new RangeError('args.structureShots must be an integer from 0 to 64');
  if (!Number.isInteger(cap) || cap < 1 || cap > 64) throw new RangeError('args.maxBatch must be an integer from 1 to 64');
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError('args.runs must be a positive integer');
  if (!Number.isInteger(wasmFrames) || wasmFrames < 1) throw new RangeError('args.wasmFrames must be a positive integer');
  const wanted = (args.batches ?? BATCHES).filter((b) => b <= cap);
  if (wanted.length === 0 || wanted.some((b) => !Number.isInteger(b) || b < 1 || b > 64)) throw new RangeError('args.batches must hold integers from 1 to 64 (at most maxBatch)');
  const decode = { minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES };
  const size = args.inputSize ?? 512;

  // The shots are decoded up front, so decoding is in neither the GPU's nor wasm's figure.
  const people = nShots > 0 ? await personShots(nShots) : [];
  // Size the batches to the adapter: a batch-1 runner reads its limits, then the measured one is made for the
  // largest batch that fits (its device asks for exactly those limits).
  const probe = await WebgpuDetectorRunner.create('centernet', decode, { maxBatch: 1, inputSize: size });
  const fits = probe.adapter.maxBatch;
  const limits: Record<string, number> = { ...probe.adapter.limits };
  probe.dispose();
  const skipped: { batch: number; limit: string; need: number; has: number }[] = [];
  for (const b of wanted.filter((x) => x > fits)) {
    const need = requiredLimits(b, size);
    const limit = Object.keys(limits).find((k) => (limits[k] ?? 0) < (need[k] ?? 0)) ?? 'maxStorageBufferBindingSize';
    skipped.push({ batch: b, limit, need: need[limit] ?? 0, has: limits[limit] ?? 0 });
  }
  const sizes = wanted.filter((b) => b <= fits);
  if (sizes.length === 0) throw new RangeError(`the adapter's limits fit no batch of ${wanted.join(', ')} at input ${size} (largest: ${maxBatchForLimits(limits, size)})`);
  const top = Math.max(...sizes);
  const distinct = sampleFrames(Math.min(top, 16));
  const framesFor = (n: number): FrameInput[] => Array.from({ length: n }, (_, i) => distinct[i % distinct.length]!);

  const gpu = await WebgpuDetectorRunner.create('centernet', decode, { maxBatch: top, inputSize: size });
  const batches: { batch: number; fps: number; msPerBatch: number; warmupMs: number }[] = [];
  let gpuStructure: { ms: number; warmupMs: number } | null = null;
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
    if (nShots > 0) {
      // The GPU thread's structuring path (webgpu-worker.ts): one batch of shots through structurePeople.
      const shots = people.map((input) => ({ kind: 'structure' as const, input }));
      const [faces, pose] = await Promise.all([FaceModels.load(), PoseModel.load()]);
      try {
        let t = performance.now();
        await structurePeople(shots, async () => faces, async () => pose);
        const warmupMs = performance.now() - t;
        t = performance.now();
        for (let r = 0; r < runs; r++) await structurePeople(shots, async () => faces, async () => pose);
        gpuStructure = { ms: (performance.now() - t) / runs, warmupMs };
      } finally {
        faces.dispose();
        pose.dispose();
      }
    }
  } finally {
    gpu.dispose();
  }

  const wasm = await DetectorRunner.create('wasm', 'centernet', decode, size);
  const frames = framesFor(wasmFrames);
  await wasm.detect(frames[0]!);
  const t = performance.now();
  for (const f of frames) await wasm.detect(f);
  const wasmFps = (wasmFrames * 1000) / (performance.now() - t);
  wasm.dispose();
  let structuring: WebgpuBenchResult['structuring'] = null;
  if (gpuStructure) {
    // The CPU threads' path on wasm: one shot per task (worker.ts structure()).
    const shots = people;
    const [faces, pose] = await Promise.all([FaceModels.load(), PoseModel.load()]);
    await structure(shots[0]!, async () => faces, null, async () => pose);
    const ts = performance.now();
    for (const s of shots) await structure(s, async () => faces, null, async () => pose);
    const wasmShotsPerSec = (nShots * 1000) / (performance.now() - ts);
    faces.dispose();
    pose.dispose();
    const gpuShotsPerSec = (nShots * 1000) / gpuStructure.ms;
    structuring = { shots: nShots, gpuShotsPerSec, gpuMsPerBatch: gpuStructure.ms, gpuWarmupMs: gpuStructure.warmupMs, wasmShotsPerSec, ratioToWasm: gpuShotsPerSec / wasmShotsPerSec };
  }
  const best = Math.max(...batches.map((b) => b.fps));
  return {
    kind: 'webgpu', at: new Date().toISOString(), adapter: gpu.adapter, inputSize: size, skipped,
    host: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? '', load: loadavg()[0] ?? 0 },
    batches, wasm: { fps: wasmFps, frames: wasmFrames }, ratioToWasm: best / wasmFps, structuring,
  };
}

/**
 * `cvcore bench webgpu [--batches 1,8,32,64] [--runs R] [--wasm-frames N] [--input-size S] [--structure-shots N] [--json]`:
 * the adapter, the batches its limits allow, frames/s per batch size and the ratio to wasm on this machine's CPU,
 * and people structured per second on the GPU (one batch of N shots, default 8) against wasm.
 */
export async function benchWebgpuCli(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: {
    batches: { type: 'string' }, runs: { type: 'string' }, 'wasm-frames': { type: 'string' }, 'input-size': { type: 'string' }, 'structure-shots': { type: 'string' }, json: { type: 'boolean' },
  } });
  const int = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer`);
    return n;
  };
  const batches = values.batches?.split(',').map((b) => int(b.trim(), 'batches')!);
  const runs = int(values.runs, 'runs');
  const wasmFrames = int(values['wasm-frames'], 'wasm-frames');
  const inputSize = int(values['input-size'], 'input-size');
  const structureShots = values['structure-shots'] === '0' ? 0 : int(values['structure-shots'], 'structure-shots');
  const r = await benchWebgpu({ ...(batches ? { batches } : {}), ...(runs ? { runs } : {}), ...(wasmFrames ? { wasmFrames } : {}), ...(inputSize ? { inputSize } : {}), ...(structureShots !== undefined ? { structureShots } : {}) });
  if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else {
    const a = r.adapter;
    process.stdout.write([
      `adapter: ${a.description} (vendor ${a.vendor}, architecture ${a.architecture}, device ${a.device}, ${a.dawnBackend}${a.software ? ', SOFTWARE' : ''}); largest batch its limits allow at input ${r.inputSize}: ${a.maxBatch}`,
      ...r.batches.map((b) => `batch ${b.batch}: ${b.fps.toFixed(3)} frames/s (${b.msPerBatch.toFixed(0)} ms a batch; first batch ${b.warmupMs.toFixed(0)} ms)`),
      ...r.skipped.map((s) => `batch ${s.batch}: skipped, needs ${s.limit} ${s.need}, adapter has ${s.has}`),
      `wasm (CPU, one thread): ${r.wasm.fps.toFixed(3)} frames/s; best webgpu / wasm: ${r.ratioToWasm.toFixed(2)}`,
      ...(r.structuring ? [`structuring people: ${r.structuring.gpuShotsPerSec.toFixed(3)} shots/s on the GPU (batch of ${r.structuring.shots}, ${r.structuring.gpuMsPerBatch.toFixed(0)} ms; first ${r.structuring.gpuWarmupMs.toFixed(0)} ms), wasm ${r.structuring.wasmShotsPerSec.toFixed(3)} shots/s; webgpu / wasm: ${r.structuring.ratioToWasm.toFixed(2)}`] : []),
    ].join('\n') + '\n');
  }
  return 0;
}
