/**
 * Face embedding of an uploaded photo, for face search: decode with sharp (any format it reads, EXIF rotation
 * applied), find the largest face on the whole image, describe it. It runs in its own one-thread pool, started
 * on first use and left to exit when idle, so the API process never blocks its event loop on a model and does
 * not need the detector pool to exist.
 */
import { Piscina } from 'piscina';
import sharp from 'sharp';
import { InferenceError } from '../common/errors.js';
import type { Box } from '../common/messages.js';
import { rethrow } from './engine.js';
import type { BackendName } from './backends.js';
import type { EmbedAllTaskResult, EmbedTaskResult, WorkerConfig, WorkerResult, WorkerTask } from './worker.js';

/** Uploads are scaled down to this longest side first: faces stay large enough and decoding stays bounded. */
export const EMBED_MAX_SIDE = 1280;
/** An idle embedding thread exits after this long. */
export const EMBED_IDLE_MS = 60_000;

let pool: Piscina<WorkerTask, WorkerResult> | null = null;
let poolBackend: BackendName = 'wasm';

/** Chooses the backend for later embeddings (takes effect when the thread next starts). */
export function setFaceEmbedderBackend(name: BackendName): void { poolBackend = name; }

function getPool(): Piscina<WorkerTask, WorkerResult> {
  if (!pool) {
    const workerData: WorkerConfig = { backend: poolBackend, model: 'centernet', decode: { minScore: 1, iouThreshold: 1, classes: [] } };
    pool = new Piscina<WorkerTask, WorkerResult>({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: EMBED_IDLE_MS,
      workerData,
    });
  }
  return pool;
}

/** Decodes an upload into shared RGB24 (EXIF rotation applied, scaled to EMBED_MAX_SIDE); INFERENCE_BAD_IMAGE if it does not decode. */
async function decodeUpload(bytes: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number }> {
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    raw = await sharp(bytes, { failOn: 'error' }).rotate()
      .resize({ width: EMBED_MAX_SIDE, height: EMBED_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
      .removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw new InferenceError('INFERENCE_BAD_IMAGE', 'the image cannot be decoded', { cause });
  }
  const { width, height, channels } = raw.info;
  if (channels !== 3) throw new InferenceError('INFERENCE_BAD_IMAGE', `decoded image has ${channels} channels, expected 3`);
  // Into shared memory so the worker reads it in place.
  const data = new Uint8Array(new SharedArrayBuffer(raw.data.length));
  data.set(raw.data);
  return { data, width, height };
}

export async function embedFaceFromImage(bytes: Uint8Array): Promise<{ embedding: Float32Array; box: Box; quality: number; gender: string; age: number } | null> {
  const image = await decodeUpload(bytes);
  const res = (await getPool().run({ kind: 'embed', image })) as EmbedTaskResult;
  if (res.error) rethrow(res.error);
  return res.face;
}

/**
 * Every face (shorter side >= MIN_FACE_SIDE) in an upload, largest first, with its embedding, box and quality, and
 * the size of the image the boxes refer to (the decoded, rotated and scaled-down upload): watch-list photos, which
 * must hold exactly one face, and the caller says which when they hold none or several.
 */
export async function embedFacesFromImage(bytes: Uint8Array): Promise<{ faces: Array<{ embedding: Float32Array; box: Box; quality: number }>; width: number; height: number }> {
  const image = await decodeUpload(bytes);
  const res = (await getPool().run({ kind: 'embed-all', image })) as EmbedAllTaskResult;
  if (res.error) rethrow(res.error);
  return { faces: res.faces.map((f) => ({ embedding: f.embedding, box: f.box, quality: f.quality })), width: image.width, height: image.height };
}

/** Stops the embedding thread (tests, shutdown). */
export async function closeFaceEmbedder(): Promise<void> {
  const p = pool;
  pool = null;
  await p?.destroy();
}
