/**
 * Piscina worker: one backend per thread, with the detector and the face models each loaded the first time a
 * task needs them. Tasks: a batch of frames to detect, one object to structure, one image to embed a face
 * from, or a live person's face (the alarm path). Pixels sit in SharedArrayBuffers, so nothing is copied on the way in; answers are plain data.
 */
import { workerData } from 'node:worker_threads';
import type { Detection } from '../common/messages.js';
import { getBackend, type BackendName } from './backends.js';
import type { DecodeOptions } from './detector.js';
import { FaceModels, type RgbImage } from './face.js';
import type { PlateReader } from './plate.js';
import { PoseModel } from './pose.js';
import { createDetector, type Detector, type FrameInput } from './runner.js';
import { embedAllFaces, embedLargestFace, liveFace, structure, type FaceEmbedding, type FaceTaskInput, type LiveFace, type StructureInput, type StructureResult } from './structure.js';

export interface WorkerConfig {
  readonly backend: BackendName; readonly model: string; readonly inputSize?: number; readonly decode: DecodeOptions;
  /** Read vehicles' plates when structuring (the OCR models load on first use or at warm-up). */
  readonly plates?: boolean;
  /** Where the OCR models are read from (tests point it at a folder with a file missing); absent: models/files. */
  readonly modelsDir?: string;
}
export interface DetectTask { readonly kind?: 'detect'; readonly frames: readonly FrameInput[] }
export interface StructureTask { readonly kind: 'structure'; readonly input: StructureInput }
export interface EmbedTask { readonly kind: 'embed'; readonly image: RgbImage }
/** Every face in the image (watch-list photos: the caller refuses none or several). */
export interface EmbedAllTask { readonly kind: 'embed-all'; readonly image: RgbImage }
/** A live person track's face (the pipeline's alarm path): head region -> face detector -> descriptor. */
export interface FaceTask { readonly kind: 'face'; readonly input: FaceTaskInput }
/** Loads the face models and runs them once, so the first best shot does not stall the thread for seconds. */
export interface WarmFacesTask { readonly kind: 'warm-faces' }
/** Loads the plate reader (answers with its load error, if any, as an EmbedTaskResult-shaped { error }). */
export interface WarmPlatesTask { readonly kind: 'warm-plates' }
export type WorkerTask = DetectTask | StructureTask | EmbedTask | EmbedAllTask | FaceTask | WarmFacesTask | WarmPlatesTask;

/** Typed failures travel as data: an Error's class and code do not survive the thread boundary. */
export interface TaskError { readonly code: string; readonly message: string }
export interface DetectTaskResult {
  readonly detections: Detection[][];
  readonly ms: number;
  readonly numTensors: number;
  readonly error?: TaskError;
}
export interface StructureTaskResult { readonly result: StructureResult | null; readonly error?: TaskError }
export interface EmbedTaskResult { readonly face: FaceEmbedding | null; readonly error?: TaskError }
export interface EmbedAllTaskResult { readonly faces: FaceEmbedding[]; readonly error?: TaskError }
export interface FaceTaskResult { readonly live: LiveFace | null; readonly error?: TaskError }
export type WorkerResult = DetectTaskResult | StructureTaskResult | EmbedTaskResult | EmbedAllTaskResult | FaceTaskResult;

const cfg = workerData as WorkerConfig;
const backend = getBackend(cfg.backend).init();
backend.catch(() => undefined);
let runner: Promise<Detector> | null = null;
let faces: Promise<FaceModels> | null = null;
let plates: Promise<PlateReader> | null = null;

const detector = (): Promise<Detector> => (runner ??= createDetector(cfg.backend, cfg.model, cfg.decode, cfg.inputSize));
const faceModels = async (): Promise<FaceModels> => {
  await backend;
  return (faces ??= FaceModels.load());
};
// Body keypoints for clothing colour: loaded by the first person structured in this thread.
let poses: Promise<PoseModel> | null = null;
const poseModel = async (): Promise<PoseModel> => {
  await backend;
  return (poses ??= PoseModel.load());
};

// Once per thread; a failed load stays failed (the engine reports it in health rather than retrying per track).
const plateReader = cfg.plates ? (): Promise<PlateReader> => (plates ??= import('./plate.js').then((m) => m.PlateReader.load(cfg.modelsDir))) : null;

function asError(err: unknown): TaskError {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e.code === 'string' ? e.code : 'INFERENCE_FAILED', message: String(e.message ?? err) };
}

export default async function run(task: WorkerTask): Promise<WorkerResult> {
  if (task.kind === 'structure') {
    try { return { result: await structure(task.input, faceModels, plateReader, poseModel) }; } catch (err) { return { result: null, error: asError(err) }; }
  }
  if (task.kind === 'face') {
    try { return { live: await liveFace(task.input, faceModels) }; } catch (err) { return { live: null, error: asError(err) }; }
  }
  if (task.kind === 'warm-plates') {
    if (!plateReader) return { face: null };
    try { await plateReader(); return { face: null }; } catch (err) { return { face: null, error: asError(err) }; }
  }
  if (task.kind === 'warm-faces') {
    try {
      const blank: RgbImage = { data: new Uint8Array(64 * 64 * 3), width: 64, height: 64 };
      await embedLargestFace(await faceModels(), blank);
      return { face: null };
    } catch (err) { return { face: null, error: asError(err) }; }
  }
  if (task.kind === 'embed-all') {
    try { return { faces: await embedAllFaces(await faceModels(), task.image) }; } catch (err) { return { faces: [], error: asError(err) }; }
  }
  if (task.kind === 'embed') {
    try { return { face: await embedLargestFace(await faceModels(), task.image) }; } catch (err) { return { face: null, error: asError(err) }; }
  }
  const t0 = performance.now();
  try {
    const r = await detector();
    // One batched backbone run, then the batch-1 head per frame (see runner.ts).
    const detections = await r.detectBatch(task.frames);
    return { detections, ms: performance.now() - t0, numTensors: r.numTensors };
  } catch (err) {
    return { detections: [], ms: performance.now() - t0, numTensors: -1, error: asError(err) };
  }
}
