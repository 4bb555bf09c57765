/**
 * The engine on webgpu, in its own process (started with lavapipeEnv(): Dawn and the dynamic loader read the
 * Vulkan environment only at start). Two cameras' frame queues feed the real Batcher, which feeds the engine's
 * GPU thread; then a test hook destroys the device (as a driver reset would lose it) and more frames follow; then
 * one best shot is structured; then the engine stops and the process must exit on its own (nothing calls
 * process.exit: the parent checks the exit). Usage: node webgpu-engine-child.js <request.json> <result.json>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { OBJECT_CLASSES, type Detection, type Frame } from '../../common/messages.js';
import { FrameQueue } from '../../ingest/index.js';
import { Batcher, InferenceEngine, type BatcherStats, type GpuStatus, type StructureResult } from '../../inference/index.js';
import { waitFor } from './wait.js';

export interface EngineChildRequest { framesFile: string; width: number; height: number; count: number; maxBatch: number; inputSize: number; minScore: number; iouThreshold: number }
export interface EngineChildResult {
  /** Frame index (into the request's frames) -> detections, from the batches before the device was lost. */
  before: { frame: number; detections: readonly Detection[] }[];
  /** The same after the loss, on the new device. */
  after: { frame: number; detections: readonly Detection[] }[];
  /** Error codes the batcher reported (the batch that met the lost device). */
  errors: string[];
  /** What the frames of the failed batch became: delivered (should not be) or not. */
  lostBatchDelivered: number;
  stats: BatcherStats;
  gpu: GpuStatus | null;
  structure: { frame: number; box: Detection['box']; result: StructureResult } | null;
  ms: { start: number; first: number; loss: number; after: number; stop: number };
}

const [reqFile, outFile] = process.argv.slice(2);
if (!reqFile || !outFile) throw new TypeError('usage: webgpu-engine-child.js <request.json> <result.json>');
const req = JSON.parse(readFileSync(reqFile, 'utf8')) as EngineChildRequest;
const raw = readFileSync(req.framesFile);
const px = req.width * req.height * 3;
// Frames as ingest hands them over: views on SharedArrayBuffers.
const frames = Array.from({ length: req.count }, (_, i) => {
  const u = new Uint8Array(new SharedArrayBuffer(px));
  u.set(raw.subarray(i * px, (i + 1) * px));
  return u;
});

const t0 = performance.now();
const lap = (() => { let t = t0; return () => { const n = performance.now(); const d = n - t; t = n; return Math.round(d); }; })();
const engine = await InferenceEngine.start({
  backend: 'webgpu', model: 'centernet', inputSize: req.inputSize, workers: 1, maxBatch: req.maxBatch, testHooks: true,
  minScore: req.minScore, iouThreshold: req.iouThreshold, classes: OBJECT_CLASSES,
});
const msStart = lap();
const cams = ['cam-a', 'cam-b'];
const queues = cams.map(() => new FrameQueue(16));
/** seq -> frame index; seqs are unique across the run so a delivery names its phase. */
const frameOf = new Map<number, number>();
const delivered = new Map<number, readonly Detection[]>();
const errors: string[] = [];
// A long maxDelayMs: a batch leaves when maxBatch frames wait, so its size does not depend on timing.
const batcher = new Batcher(engine, { maxBatch: req.maxBatch, maxDelayMs: 60_000, maxInFlight: 1 },
  (f, r) => { delivered.set(f.seq, r.detections); },
  (err) => { errors.push(String((err as { code?: unknown }).code ?? (err as Error).message)); });
cams.forEach((id, i) => batcher.add(id, queues[i]!));
let seq = 0;
/** Pushes frames[0..n) round-robin over the two cameras; returns their seqs. */
const pushRound = (n: number): number[] => {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = seq++;
    frameOf.set(s, i);
    seqs.push(s);
    const f: Frame = { cameraId: cams[i % 2]!, seq: s, pts: s / 5, capturedAt: Date.now(), width: req.width, height: req.height, data: frames[i]! };
    queues[i % 2]!.push(f);
  }
  return seqs;
};
const BOUND = 8 * 60_000;
const first = pushRound(req.maxBatch);
await waitFor('the first batch', BOUND, async () => first.every((s) => delivered.has(s)));
const msFirst = lap();

// A driver reset: the next batch fails with a typed error; the GPU thread creates a new device meanwhile.
await engine.loseGpuDevice();
const doomed = pushRound(req.maxBatch);
await waitFor('the batch on the lost device to fail', BOUND, async () => errors.length > 0 || doomed.every((s) => delivered.has(s)));
const msLoss = lap();
const again = pushRound(req.maxBatch);
await waitFor('a batch on the new device', BOUND, async () => again.every((s) => delivered.has(s)) || errors.length > 1, () => `errors ${errors.join(', ')}`);
const msAfter = lap();
await batcher.stop();

// Structuring (people: on the GPU thread) of the largest person of the first frame.
const dets0 = delivered.get(first[0]!) ?? [];
const person = [...dets0].filter((d) => d.cls === 'person').sort((a, b) => b.box.w * b.box.h - a.box.w * a.box.h)[0];
const structure = person ? { frame: 0, box: person.box, result: await engine.structure({ data: frames[0]!, width: req.width, height: req.height, box: person.box, cls: 'person' }) } : null;

const result: EngineChildResult = {
  before: first.map((s) => ({ frame: frameOf.get(s)!, detections: delivered.get(s)! })),
  after: again.filter((s) => delivered.has(s)).map((s) => ({ frame: frameOf.get(s)!, detections: delivered.get(s)! })),
  errors,
  lostBatchDelivered: doomed.filter((s) => delivered.has(s)).length,
  stats: batcher.stats(),
  gpu: engine.gpu,
  structure,
  ms: { start: msStart, first: msFirst, loss: msLoss, after: msAfter, stop: 0 },
};
const tStop = performance.now();
await engine.stop();
result.ms.stop = Math.round(performance.now() - tStop);
writeFileSync(outFile, JSON.stringify(result));
// No process.exit: the process must end by itself now that the engine (and Dawn) are stopped.
