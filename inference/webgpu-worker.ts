/**
 * Piscina worker for the GPU: the engine runs ONE of these (inference.workers = 1 for webgpu: a second
 * thread would only compete for the same device) and the cross-stream batcher feeds it large batches
 * (inference.maxBatch 8-64). Same task and result shapes as worker.ts, plus the adapter it chose, so the
 * engine's warm-up can report which GPU (or software adapter) is doing the work.
 */
import { workerData } from 'node:worker_threads';
import type { Detection } from '../common/messages.js';
import type { DecodeOptions } from './detector.js';
import type { AdapterInfo, WebgpuOptions } from './webgpu-backend.js';
import { WebgpuDetectorRunner } from './webgpu-runner.js';
import type { DetectTask, DetectTaskResult } from './worker.js';

export interface WebgpuWorkerConfig {
  readonly model: string;
  readonly decode: DecodeOptions;
  readonly maxBatch: number;
  readonly webgpu?: Partial<WebgpuOptions>;
}
export interface WebgpuTaskResult extends DetectTaskResult { readonly adapter: AdapterInfo | null }

const cfg = workerData as WebgpuWorkerConfig;
const runner = WebgpuDetectorRunner.create(cfg.model, cfg.decode, { maxBatch: cfg.maxBatch, ...(cfg.webgpu ? { webgpu: cfg.webgpu } : {}) });
// Keep the rejection observed; it is rethrown to each task below.
runner.catch(() => undefined);

export default async function detect(task: DetectTask): Promise<WebgpuTaskResult> {
  const t0 = performance.now();
  try {
    const r = await runner;
    const detections: Detection[][] = await r.detectBatch(task.frames);
    return { detections, ms: performance.now() - t0, numTensors: r.numTensors, adapter: r.adapter };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'INFERENCE_FAILED';
    return { detections: [], ms: performance.now() - t0, numTensors: -1, adapter: null, error: { code, message: String(e.message ?? err) } };
  }
}
