/**
 * Piscina worker: one backend and one detector per thread, created once. A task is a batch of frames whose
 * pixels sit in SharedArrayBuffers, so nothing is copied on the way in; the answer is plain detections.
 */
import { workerData } from 'node:worker_threads';
import type { Detection } from '../common/messages.js';
import type { BackendName } from './backends.js';
import type { DecodeOptions } from './detector.js';
import { DetectorRunner, type FrameInput } from './runner.js';

export interface WorkerConfig { readonly backend: BackendName; readonly model: string; readonly decode: DecodeOptions }
export interface DetectTask { readonly frames: readonly FrameInput[] }
export interface DetectTaskResult {
  readonly detections: Detection[][];
  readonly ms: number;
  readonly numTensors: number;
  /** Typed failures travel as data: an Error's class and code do not survive the thread boundary. */
  readonly error?: { readonly code: string; readonly message: string };
}

const cfg = workerData as WorkerConfig;
const runner = DetectorRunner.create(cfg.backend, cfg.model, cfg.decode);
// Keep the rejection observed; it is rethrown to each task below.
runner.catch(() => undefined);

export default async function detect(task: DetectTask): Promise<DetectTaskResult> {
  const t0 = performance.now();
  try {
    const r = await runner;
    // One batched backbone run, then the batch-1 head per frame (see runner.ts).
    const detections: Detection[][] = await r.detectBatch(task.frames);
    return { detections, ms: performance.now() - t0, numTensors: r.numTensors };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'INFERENCE_FAILED';
    return { detections: [], ms: performance.now() - t0, numTensors: -1, error: { code, message: String(e.message ?? err) } };
  }
}
