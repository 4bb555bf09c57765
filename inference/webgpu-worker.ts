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
 *
 * Structuring (`structure-batch`, when `inference.webgpu.structure` is on): the people of a batch of best shots
 * and live faces, with the face models (blazeface, faceres) and MoveNet loaded on this thread's tfjs backend,
 * which is webgpu (structure.ts structurePeople: the same code as on the CPU threads). A lost device fails every
 * shot of the batch with INFERENCE_WEBGPU_DEVICE_LOST and is recreated as for detection; the models reload on
 * the new device with the next batch.
 */
import { workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { Detection } from '../common/messages.js';
import type { DecodeOptions } from './detector.js';
import { deviceLost, loseDevice, waitDeviceLost, type AdapterInfo, type WebgpuOptions } from './webgpu-backend.js';
import { WebgpuDetectorRunner } from './webgpu-runner.js';
import { FaceModels } from './face.js';
import { PoseModel } from './pose.js';
import { structurePeople, embedLargestFace, type PersonShot, type PersonShotResult } from './structure.js';
import type { DetectTask, DetectTaskResult, TaskError } from './worker.js';

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
/** A structuring batch: people's best shots and live faces (the engine sends up to DEFAULT_GPU_STRUCTURE_BATCH). */
export interface StructureBatchTask { readonly kind: 'structure-batch'; readonly shots: readonly PersonShot[] }
/** Loads the face and pose models on the GPU and runs them once (shader compilation happens here, not on a track). */
export interface GpuWarmFacesTask { readonly kind: 'warm-faces' }
export type WebgpuTask = DetectTask | LoseDeviceTask | StructureBatchTask | GpuWarmFacesTask;
export interface GpuDeviceStats {
  /** Devices lost (driver resets, or the test hook) since start. */
  readonly losses: number;
  /** Devices created after a loss (the first one is not counted). */
  readonly recreated: number;
  readonly lastLoss: { readonly reason: string; readonly message: string; readonly at: number } | null;
}
export interface WebgpuTaskResult extends DetectTaskResult { readonly adapter: AdapterInfo | null; readonly device: GpuDeviceStats }
/** A structuring batch's answer: one result per shot, or `error` for the whole batch (a lost device, models that did not load). */
export interface WebgpuStructureResult {
  readonly results: readonly PersonShotResult[];
  readonly ms: number;
  readonly device: GpuDeviceStats;
  /** The tfjs backend the models ran on (webgpu; a check that structuring really ran on the GPU). */
  readonly backend: string;
  readonly error?: TaskError;
}

const cfg = workerData as WebgpuWorkerConfig;
const create = (): Promise<WebgpuDetectorRunner> => {
  const p = WebgpuDetectorRunner.create(cfg.model, cfg.decode, { maxBatch: cfg.maxBatch, ...(cfg.inputSize !== undefined ? { inputSize: cfg.inputSize } : {}), ...(cfg.webgpu ? { webgpu: cfg.webgpu } : {}) });
  // Keep the rejection observed; it is rethrown to each task below.
  p.catch(() => undefined);
  return p;
};
let runner = create();
// The structuring models, on this thread's backend (webgpu once the runner is up); dropped with a lost device.
let faces: Promise<FaceModels> | null = null;
let poses: Promise<PoseModel> | null = null;
const faceModels = async (): Promise<FaceModels> => { await runner; return (faces ??= FaceModels.load()); };
const poseModel = async (): Promise<PoseModel> => { await runner; return (poses ??= PoseModel.load()); };
let stats: GpuDeviceStats = { losses: 0, recreated: 0, lastLoss: null };

/** Disposes the runner whose device was lost and starts a new one; the tasks after this await it. */
async function recreate(r: WebgpuDetectorRunner, why: { reason: string; message: string }): Promise<void> {
  stats = { losses: stats.losses + 1, recreated: stats.recreated + 1, lastLoss: { ...why, at: Date.now() } };
  // Models first, while their backend still exists (as the runner disposes its own before the backend).
  for (const m of [faces, poses]) {
    try { (await m)?.dispose(); } catch { /* never loaded, or already invalid with the device */ }
  }
  faces = null;
  poses = null;
  try { r.dispose(); } catch { /* the device is gone; its objects may already be invalid */ }
  runner = create();
}

function taskError(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e.code === 'string' ? e.code : 'INFERENCE_FAILED', message: String(e.message ?? err) };
}

const lostMessage = (lost: { reason: string; message: string }, what: string): string =>
  `webgpu: the GPU device was lost (${lost.reason}${lost.message ? `: ${lost.message}` : ''}); ${what} and a new device is being created`;

/** A structuring batch (or the warm-up, with no shots): the people on the GPU, or one error for all of them. */
async function structureBatch(shots: readonly PersonShot[] | null): Promise<WebgpuStructureResult> {
  const t0 = performance.now();
  let r: WebgpuDetectorRunner | null = null;
  try {
    r = await runner;
    let results: PersonShotResult[] = [];
    if (shots) {
      results = await structurePeople(shots, faceModels, poseModel);
    } else {
      const blank = { data: new Uint8Array(64 * 64 * 3), width: 64, height: 64 };
      await embedLargestFace(await faceModels(), blank);
      await (await poseModel()).keypoints(blank, { x: 0, y: 0, w: 64, h: 64 });
    }
    // A lost device can hide behind a success: a failed pose run only costs keypoints. Check it directly.
    const lost = deviceLost();
    if (lost) { await recreate(r, lost); return { results: [], ms: performance.now() - t0, device: stats, backend: tf.getBackend(), error: { code: 'INFERENCE_WEBGPU_DEVICE_LOST', message: lostMessage(lost, 'the structuring batch is dropped (its tracks keep their records without these attributes)') } }; }
    return { results, ms: performance.now() - t0, device: stats, backend: tf.getBackend() };
  } catch (err) {
    const lost = r ? await waitDeviceLost(1000) : null;
    if (r && lost) {
      await recreate(r, lost);
      return { results: [], ms: performance.now() - t0, device: stats, backend: tf.getBackend(), error: { code: 'INFERENCE_WEBGPU_DEVICE_LOST', message: lostMessage(lost, 'the structuring batch is dropped (its tracks keep their records without these attributes)') } };
    }
    return { results: [], ms: performance.now() - t0, device: stats, backend: tf.getBackend(), error: taskError(err) };
  }
}

export default async function detect(task: WebgpuTask): Promise<WebgpuTaskResult | WebgpuStructureResult> {
  if (task.kind === 'structure-batch') return structureBatch(task.shots);
  if (task.kind === 'warm-faces') return structureBatch(null);
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
      return { detections: [], ms: performance.now() - t0, numTensors: -1, adapter: null, device: stats, error: { code: 'INFERENCE_WEBGPU_DEVICE_LOST', message: lostMessage(lost, "the batch's frames are dropped") } };
    }
    return { detections: [], ms: performance.now() - t0, numTensors: -1, adapter: null, device: stats, error: taskError(err) };
  }
}
