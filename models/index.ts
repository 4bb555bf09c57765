/**
 * Models: the manifest (models/manifest.json, committed) and the files it names (models/files/, copied from
 * the @vladmandic/human package at set-up). Reading a model checks that each file exists and matches its
 * sha256, so a missing or corrupt file is a typed error naming it rather than a shape error deep inside tfjs.
 * Gives: the artifacts (topology, weight specs, weight bytes) that the inference stage hands to tfjs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelError } from '../common/errors.js';
import { REPO_ROOT } from '../common/paths.js';

export interface ModelFile { readonly file: string; readonly sha256: string; readonly bytes: number }
export interface ModelEntry {
  readonly name: string;
  readonly task: 'object-detection' | 'face-detection' | 'face-attributes' | string;
  readonly inputShape: readonly number[];
  readonly preprocessing: string;
  readonly outputs: Readonly<Record<string, string>>;
  readonly labels: readonly string[];
  readonly licence: string;
  /** Where the files come from (package and path). */
  readonly source?: string;
  /** The npm package scripts/copy-models.mjs copies the files from, and the folder inside it (absent: @vladmandic/human, models/). */
  readonly package?: string;
  readonly folder?: string;
  readonly files: readonly ModelFile[];
  /** Largest batch the graph runs at once (absent: the engine's default). */
  readonly maxBatch?: number;
  /** Square input sizes the graph runs at (inference/input-size.ts); absent: only inputShape's. */
  readonly inputSizes?: readonly number[];
  /**
   * The backbone translated to ONNX at set-up (models/onnx-convert.ts) for the `onnx` backend: the file it
   * writes into models/files and the sha256 it must have (the translation is deterministic).
   */
  readonly onnx?: { readonly file: string; readonly sha256: string; readonly translatedBy?: string };
}
export interface Manifest { readonly version: number; readonly source: string; readonly models: readonly ModelEntry[] }

/** What tfjs's `io.fromMemory` takes, kept free of tfjs types so this stage does not depend on a backend. */
export interface ModelArtifacts {
  readonly entry: ModelEntry;
  readonly modelTopology: unknown;
  readonly weightSpecs: unknown[];
  readonly weightData: ArrayBuffer;
  /** The graph's signature (named inputs and outputs) where the converter wrote one. */
  readonly signature: unknown;
}

/** Where the model files are read from: models/files, or $CVCORE_MODELS_DIR (for a deployment's own copy). */
export const MODELS_DIR = process.env['CVCORE_MODELS_DIR'] ?? join(REPO_ROOT, 'models', 'files');
let cached: Manifest | null = null;

export function loadManifest(): Manifest {
  if (!cached) cached = JSON.parse(readFileSync(join(REPO_ROOT, 'models', 'manifest.json'), 'utf8')) as Manifest;
  return cached;
}

export function modelEntry(name: string): ModelEntry {
  const entry = loadManifest().models.find((m) => m.name === name);
  if (!entry) throw new ModelError('MODEL_UNKNOWN', `no model "${name}" in models/manifest.json`, { detail: { model: name } });
  return entry;
}

async function readChecked(dir: string, f: ModelFile, model: string): Promise<Buffer> {
  const path = join(dir, f.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new ModelError('MODEL_FILE_MISSING', `model file ${path} (${model}) is missing; run npm run setup`, { cause, detail: { model, file: path } });
  }
  const sum = createHash('sha256').update(bytes).digest('hex');
  if (sum !== f.sha256) {
    throw new ModelError('MODEL_FILE_CORRUPT', `model file ${path} (${model}) has sha256 ${sum}, expected ${f.sha256}`, { detail: { model, file: path } });
  }
  return bytes;
}

/**
 * Reads and verifies every file of a model, whatever its format (ONNX graphs, dictionaries): by file name, in
 * manifest order. A missing file is MODEL_FILE_MISSING, one whose sha256 differs MODEL_FILE_CORRUPT.
 */
export async function readModelFiles(name: string, dir: string = MODELS_DIR): Promise<Map<string, Buffer>> {
  const entry = modelEntry(name);
  const bytes = await Promise.all(entry.files.map((f) => readChecked(dir, f, name)));
  return new Map(entry.files.map((f, i) => [f.file, bytes[i]!]));
}

/** Reads and verifies a model's graph and weights. `dir` defaults to models/files. */
export async function readModel(name: string, dir: string = MODELS_DIR): Promise<ModelArtifacts> {
  const entry = modelEntry(name);
  const jsonFile = entry.files.find((f) => f.file.endsWith('.json'));
  const binFiles = entry.files.filter((f) => f.file.endsWith('.bin'));
  if (!jsonFile) throw new ModelError('MODEL_FILE_CORRUPT', `manifest entry ${name} names no .json graph`, { detail: { model: name } });
  const [json, ...bins] = await Promise.all([readChecked(dir, jsonFile, name), ...binFiles.map((f) => readChecked(dir, f, name))]);
  let graph: { modelTopology?: unknown; weightsManifest?: { weights: unknown[] }[]; signature?: unknown };
  try {
    graph = JSON.parse(json!.toString('utf8')) as typeof graph;
  } catch (cause) {
    throw new ModelError('MODEL_FILE_CORRUPT', `model graph ${jsonFile.file} is not JSON`, { cause, detail: { model: name, file: jsonFile.file } });
  }
  if (!graph.modelTopology || !graph.weightsManifest) {
    throw new ModelError('MODEL_FILE_CORRUPT', `model graph ${jsonFile.file} lacks modelTopology or weightsManifest`, { detail: { model: name, file: jsonFile.file } });
  }
  const total = bins.reduce((n, b) => n + b.length, 0);
  const weightData = new ArrayBuffer(total);
  const view = new Uint8Array(weightData);
  let off = 0;
  for (const b of bins) { view.set(b, off); off += b.length; }
  return { entry, modelTopology: graph.modelTopology, weightSpecs: graph.weightsManifest.flatMap((g) => g.weights), weightData, signature: graph.signature ?? null };
}
