/**
 * Piscina worker for the GPU: the engine runs ONE of these when `inference.backend` is webgpu (a second thread
 * would only compete for the same device) and the cross-stream batcher feeds it its batches (inference.maxBatch
 * 8-64). Same task and result shapes as worker.ts's detect task, plus the adapter it chose, so the engine's
 * warm-up can report which GPU (or software adapter) is doing the work.
 *
 * A lost device (a driver reset; a test destroys it through the `lose-device` hook) fails the batch that meets it
 * with INFERENCE_WEBGPU_DEVICE_LOST; the worker then disposes the runner and creates a new device and model, and
 * the next batch waits for them. Frames meanwhile wait in the cameras' drop-oldest queues (the batcher's
 * backpressure), so a reset drops frames by the usual queue rules and nothing else.
 */
import { workerData } from 'node:worker_threads';
import type { Detection } from '../common/messages.js';
import type { DecodeOptions } from './detector.js';
import { loseDevice, waitDeviceLost, type AdapterInfo, type WebgpuOptions } from './webgpu-backend.js';
import { WebgpuDetectorRunner } from './webgpu-runner.js';
import type { DetectTask, DetectTaskResult } from './worker.js';

export interface WebgpuWorkerConfig {
  readonly model: string;
  readonly decode: DecodeOptions;
  readonly maxBatch: number;
  readonly inputSize?: number;
  readonly webgpu?: Partial<WebgpuOptions>;
  /** Accept the `lose-device` task (tests only). */
  readonly testHooks?: boolean;
}
/** Test hook: destroys the device, as a driver reset would lose it. */
export interface LoseDeviceTask { readonly kind: 'lose-device' }
export type WebgpuTask = DetectTask | LoseDeviceTask;
export interface GpuDeviceStats {
  /** Devices lost (driver resets, or the test hook) since start. */
  readonly losses: number;
  /** Devices created after a loss (the first one is not counted). */
  readonly recreated: number;
  readonly lastLoss: { readonly reason: string; readonly message: string; readonly at: number } | null;
}
export interface WebgpuTaskResult extends DetectTaskResult { readonly adapter: AdapterInfo | null; readonly device: GpuDeviceStats }

const cfg = workerData as WebgpuWorkerConfig;
const create = (): Promise<WebgpuDetectorRunner> => {
  const p = WebgpuDetectorRunner.create(cfg.model, cfg.decode, { maxBatch: cfg.maxBatch, ...(cfg.inputSize !== undefined ? { inputSize: cfg.inputSize } : {}), ...(cfg.webgpu ? { webgpu: cfg.webgpu } : {}) });
  // Keep the rejection observed; it is rethrown to each task below.
  p.catch(() => undefined);
  return p;
};
let runner = create();
let stats: GpuDeviceStats = { losses: 0, recreated: 0, lastLoss: null };

/** Disposes the runner whose device was lost and starts a new one; the tasks after this await it. */
async function recreate(r: WebgpuDetectorRunner, why: { reason: string; message: string }): Promise<void> {
  stats = { losses: stats.losses + 1, recreated: stats.recreated + 1, lastLoss: { ...why, at: Date.now() } };
  try { r.dispose(); } catch { /* the device is gone; its objects may already be invalid */ }
  runner = create();
}

function taskError(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e.code === 'string' ? e.code : 'INFERENCE_FAILED', message: String(e.message ?? err) };
}

export default async function detect(task: WebgpuTask): Promise<WebgpuTaskResult> {
  const t0 = performance.now();
  if (task.kind === 'lose-device') {
    if (!cfg.testHooks) return { detections: [], ms: 0, numTensors: -1, adapter: null, device: stats, error: { code: 'INFERENCE_BAD_INPUT', message: 'lose-device is a test hook, enabled only with testHooks' } };
    await runner;
    loseDevice();
    return { detections: [], ms: performance.now() - t0, numTensors: -1, adapter: null, device: stats };
  }
  let r: WebgpuDetectorRunner | null = null;
  try {
    r = await runner;
    const detections: Detection[][] = await r.detectBatch(task.frames);
    return { detections, ms: performance.now() - t0, numTensors: r.numTensors, adapter: r.adapter, device: stats };
  } catch (err) {
    // A failed batch on a lost device: say so with its own code, and bring up a new device for the next one.
    const lost = r ? await waitDeviceLost(1000) : null;
    if (r && lost) {
      await recreate(r, lost);
      return { detections: [], ms: performance.now() - t0, numTensors: -1, adapter: null, device: stats, error: { code: 'INFERENCE_WEBGPU_DEVICE_LOST', message: `webgpu: the GPU device was lost (${lost.reason}${lost.message ? `: ${lost.message}` : ''}); the batch's frames are dropped and a new device is being created` } };
    }
    return { detections: [], ms: performance.now() - t0, numTensors: -1, adapter: null, device: stats, error: taskError(err) };
  }
}
