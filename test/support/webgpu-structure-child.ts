/**
 * Structuring on the GPU (issue 21), in its own process started with lavapipeEnv() (Dawn and the dynamic loader
 * read the Vulkan environment only at start). The webgpu engine starts with the face models warmed on the GPU;
 * a detection batch takes the GPU, and meanwhile a few people's best shots and one live face arrive: they wait
 * and leave together as one structuring batch. Then a test hook destroys the device (as a driver reset would
 * lose it): the next shot fails with INFERENCE_WEBGPU_DEVICE_LOST and the one after it is structured on a new
 * device. Then the engine stops and the process must exit by itself (nothing calls process.exit).
 * Usage: node webgpu-structure-child.js <request.json> <result.json>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { OBJECT_CLASSES, type Box } from '../../common/messages.js';
import { InferenceEngine, type GpuStatus } from '../../inference/index.js';
import type { JsonFace, JsonStructure } from './lavapipe.js';

export interface StructureShotRequest { readonly file: string; readonly width: number; readonly height: number; readonly box: Box; readonly kind: 'structure' | 'face' }
export interface StructureChildRequest {
  readonly shots: readonly StructureShotRequest[];
  readonly detectFrame: { readonly file: string; readonly width: number; readonly height: number };
  readonly inputSize: number;
  readonly maxBatch: number;
  /** false: start with inference.webgpu.structure false and only structure the shots (no detection, no loss). */
  readonly gpuStructure?: boolean;
}
export interface StructureChildResult {
  /** Per shot of the request, in its order: what the GPU gave. */
  readonly results: readonly (JsonStructure | JsonFace | { readonly error: string })[];
  /** The first shot again, on the lost device (its error code) and on the new device. */
  readonly lostCode: string | null;
  readonly afterLoss: JsonStructure | { readonly error: string };
  readonly gpu: GpuStatus | null;
  /** GPU status right after the shared batch (before the loss). */
  readonly gpuBefore: GpuStatus | null;
  ms: { start: number; batch: number; loss: number; after: number; stop: number };
}

const [reqFile, outFile] = process.argv.slice(2);
if (!reqFile || !outFile) throw new TypeError('usage: webgpu-structure-child.js <request.json> <result.json>');
const req = JSON.parse(readFileSync(reqFile, 'utf8')) as StructureChildRequest;
/** Pixels as the pipeline hands them over: views on SharedArrayBuffers. */
const shared = (file: string): Uint8Array => {
  const raw = readFileSync(file);
  const u = new Uint8Array(new SharedArrayBuffer(raw.length));
  u.set(raw);
  return u;
};
const pixels = req.shots.map((s) => shared(s.file));
const code = (err: unknown): string => String((err as { code?: unknown }).code ?? (err as Error).message);
const asJson = (r: Awaited<ReturnType<InferenceEngine['structure']>>): JsonStructure => ({ attributes: r.attributes, embedding: r.embedding ? Array.from(r.embedding) : null });

const t0 = performance.now();
const lap = (() => { let t = t0; return () => { const n = performance.now(); const d = n - t; t = n; return Math.round(d); }; })();
const engine = await InferenceEngine.start({
  backend: 'webgpu', model: 'centernet', inputSize: req.inputSize, workers: 1, maxBatch: req.maxBatch, testHooks: true, warmFaces: true,
  minScore: 0.2, iouThreshold: 0.5, classes: OBJECT_CLASSES, ...(req.gpuStructure === false ? { webgpu: { structure: false } } : {}),
});
const msStart = lap();
const structureShot = (i: number): Promise<JsonStructure | JsonFace | { error: string }> => {
  const s = req.shots[i]!;
  const input = { data: pixels[i]!, width: s.width, height: s.height, box: s.box };
  return s.kind === 'face'
    ? engine.face(input).then((f) => ({ face: f ? { embedding: Array.from(f.embedding), box: f.box, quality: f.quality } : null }), (err: unknown) => ({ error: code(err) }))
    : engine.structure({ ...input, cls: 'person' }).then(asJson, (err: unknown) => ({ error: code(err) }));
};

/** The switch off: people go to the CPU threads (wasm); nothing is structured on the GPU. */
async function onCpu(): Promise<StructureChildResult> {
  const results = await Promise.all(req.shots.map((_, i) => structureShot(i)));
  const first = results[0] ?? { error: 'no shot' };
  const msBatch = lap();
  return { results, lostCode: null, afterLoss: 'face' in first ? { error: 'a face' } : first, gpu: engine.gpu, gpuBefore: engine.gpu, ms: { start: msStart, batch: msBatch, loss: 0, after: 0, stop: 0 } };
}

async function onGpu(): Promise<StructureChildResult> {
  // A detection batch takes the GPU first; the shots submitted meanwhile wait and leave as one batch after it.
  const detection = engine.run([{ data: shared(req.detectFrame.file), width: req.detectFrame.width, height: req.detectFrame.height }]);
  const results = await Promise.all(req.shots.map((_, i) => structureShot(i)));
  await detection;
  const gpuBefore = engine.gpu;
  const msBatch = lap();
  // A driver reset: the next structuring batch fails with a typed error, the device is recreated for the one after.
  await engine.loseGpuDevice();
  const lost = await structureShot(0);
  const msLoss = lap();
  const afterLoss = await structureShot(0);
  const msAfter = lap();
  return {
    results,
    lostCode: 'error' in lost ? lost.error : null,
    afterLoss: 'face' in afterLoss ? { error: 'a structure shot answered as a face' } : afterLoss,
    gpu: engine.gpu,
    gpuBefore,
    ms: { start: msStart, batch: msBatch, loss: msLoss, after: msAfter, stop: 0 },
  };
}

const result = req.gpuStructure === false ? await onCpu() : await onGpu();
const tStop = performance.now();
await engine.stop();
result.ms.stop = Math.round(performance.now() - tStop);
writeFileSync(outFile, JSON.stringify(result));
// No process.exit: the process must end by itself now that the engine (and Dawn) are stopped.
