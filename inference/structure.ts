/**
 * Structuring one object from its best shot, inside a worker thread: vehicles get a type (from the detector's
 * class) and a named colour; people get a face search in the upper part of their box, then gender, age, an age
 * band, a face-quality score and the face descriptor. Cars, buses, trucks and motorcycles also get their licence
 * plate, read from the track's crops (plate.ts). Runs once per track (at track end), not per frame.
 */
import { InferenceError } from '../common/errors.js';
import { VEHICLE_CLASSES, type Box, type ObjectClass } from '../common/messages.js';
import { clothingColours, KEYPOINT_MIN_HEIGHT, type ClothingColours } from './clothing.js';
import { dominantColour } from './colour.js';
import { FaceModels, cropRgb, faceQuality, type FaceBox, type RgbImage } from './face.js';
import type { PlateReader } from './plate.js';
import type { Keypoint, PoseModel } from './pose.js';

export interface StructureInput {
  /** RGB24 pixels of the whole frame, ideally a view on a SharedArrayBuffer (not copied into the worker). */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** The object's box in the frame's pixels. */
  readonly box: Box;
  readonly cls: ObjectClass;
  /**
   * Vehicles: a few crops of the vehicle from different frames of its track (largest boxes first), for the plate
   * reader to vote across. Bounded by the pipeline; absent or empty for other classes.
   */
  readonly crops?: readonly VehicleCrop[];
}

/** One RGB24 crop of a vehicle, cut from a frame while the track was live. */
export interface VehicleCrop {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Capture time of the frame it was cut from, ms since the epoch. */
  readonly at: number;
}

// A type alias, not an interface, so it is assignable to TrackRecord's Record<string, string | number>.
export type StructureAttributes = {
  readonly colour?: string;
  readonly vehicleType?: string;
  readonly gender?: string;
  readonly age?: number;
  readonly ageBand?: string;
  readonly faceQuality?: number;
  /** Vehicles with a plate read: canonical plate (common/plates.ts), its colour, the vote's confidence, rows. */
  readonly plate?: string;
  readonly plateColour?: string;
  readonly plateConfidence?: number;
  readonly plateRows?: number;
  /** The OCR's reading when it fits no mainland format (plate is then absent). */
  readonly plateRaw?: string;
  /** People: clothing colours (VEHICLE_COLOURS names) with a confidence 0..1. */
  readonly upperColour?: string;
  readonly upperColourConfidence?: number;
  readonly lowerColour?: string;
  readonly lowerColourConfidence?: number;
};

export interface StructureResult {
  readonly attributes: StructureAttributes;
  /** The face descriptor (1024-d, L2-normalised) for people whose face was found, else null. */
  readonly embedding: Float32Array | null;
  /** Vehicles whose plate was found: a small JPEG of the plate, else null or absent. */
  readonly plateCrop?: Uint8Array | null;
  /**
   * Set when the plate reader could not be loaded (the other attributes are complete): its typed error's code and
   * message, for the engine's plates health. Run failures on one crop cost only that track's plate.
   */
  readonly plateError?: { readonly code: string; readonly message: string };
}

/** Vehicle classes that carry a licence plate (a bicycle has none). */
export const PLATE_CLASSES: readonly ObjectClass[] = ['car', 'motorcycle', 'bus', 'truck'];
/** Margin around the best-shot box (share of its size per side) when the track brought no crops. */
export const PLATE_FALLBACK_MARGIN = 0.05;

export interface FaceEmbedding {
  readonly embedding: Float32Array;
  readonly box: Box;
  readonly quality: number;
  readonly gender: string;
  readonly age: number;
}

export const AGE_BANDS = ['0-17', '18-29', '30-44', '45-59', '60+'] as const;
export type AgeBand = (typeof AGE_BANDS)[number];
/** Faces smaller than this (px, shorter side) give descriptors and ages too noisy to index. */
export const MIN_FACE_SIDE = 20;
/** Largest face width as a share of the person box's width (a head seen from the front, arms at the side). */
export const PERSON_FACE_WIDTH = 0.5;
/** Share of a person box, from the top, searched for the face (head and shoulders). */
export const HEAD_REGION = 0.4;

export function ageBand(age: number): AgeBand {
  if (age < 18) return '0-17';
  if (age < 30) return '18-29';
  if (age < 45) return '30-44';
  if (age < 60) return '45-59';
  return '60+';
}

export function checkInput(input: StructureInput): void {
  const { data, width, height, box } = input;
  if (!(width > 0 && height > 0) || data.length < width * height * 3) {
    throw new InferenceError('INFERENCE_BAD_INPUT', `frame buffer of ${data.length} bytes does not hold ${width}x${height} RGB24`, { detail: { width, height, bytes: data.length } });
  }
  if (!(box.w > 0 && box.h > 0) || box.x >= width || box.y >= height || box.x + box.w <= 0 || box.y + box.h <= 0) {
    throw new InferenceError('INFERENCE_BAD_INPUT', 'box lies outside the frame or is empty', { detail: { box, width, height } });
  }
}

async function describeFace(models: FaceModels, img: RgbImage, face: FaceBox): Promise<FaceEmbedding> {
  const d = await models.describe(img, FaceModels.cropBox(face));
  return { embedding: d.embedding, box: face.box, quality: faceQuality(img, face).quality, gender: d.gender, age: d.age };
}

/** The largest face in the whole image (uploads for face search), or null. */
export async function embedLargestFace(models: FaceModels, img: RgbImage): Promise<FaceEmbedding | null> {
  const faces = (await models.detect(img)).filter((f) => Math.min(f.box.w, f.box.h) >= MIN_FACE_SIDE);
  if (faces.length === 0) return null;
  const largest = faces.reduce((a, b) => (b.box.w * b.box.h > a.box.w * a.box.h ? b : a));
  return describeFace(models, img, largest);
}

/** Every face of at least MIN_FACE_SIDE in the whole image, largest first (watch-list photos must hold exactly one). */
export async function embedAllFaces(models: FaceModels, img: RgbImage): Promise<FaceEmbedding[]> {
  const faces = (await models.detect(img)).filter((f) => Math.min(f.box.w, f.box.h) >= MIN_FACE_SIDE);
  faces.sort((a, b) => b.box.w * b.box.h - a.box.w * a.box.h);
  const out: FaceEmbedding[] = [];
  for (const f of faces) out.push(await describeFace(models, img, f));
  return out;
}

/**
 * The plate attributes of a vehicle from its crops (or its best shot when the track kept none). A reader that
 * cannot load gives `plateError`; a run that fails costs this track's plate only.
 */
async function readPlate(input: StructureInput, img: RgbImage, plates: () => Promise<PlateReader>): Promise<Pick<StructureResult, 'plateCrop' | 'plateError'> & { attributes: StructureAttributes }> {
  let reader: PlateReader;
  try {
    reader = await plates();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    return { attributes: {}, plateError: { code: typeof e.code === 'string' ? e.code : 'INFERENCE_FAILED', message: String(e.message ?? err) } };
  }
  const b = input.box;
  const crops: RgbImage[] = input.crops && input.crops.length > 0
    ? input.crops.map((c) => ({ data: c.data, width: c.width, height: c.height }))
    : [cropRgb(img, { x: b.x - b.w * PLATE_FALLBACK_MARGIN, y: b.y - b.h * PLATE_FALLBACK_MARGIN, w: b.w * (1 + 2 * PLATE_FALLBACK_MARGIN), h: b.h * (1 + 2 * PLATE_FALLBACK_MARGIN) })];
  const r = await reader.read(crops).catch(() => null);
  if (!r) return { attributes: {} };
  const attributes: StructureAttributes = r.plate !== null
    ? { plate: r.plate, plateColour: r.colour, plateConfidence: r.confidence, plateRows: r.rows }
    : { plateRaw: r.raw ?? '', plateColour: r.colour, plateConfidence: r.confidence, plateRows: r.rows };
  return { attributes, plateCrop: r.jpeg };
}

/** Body keypoints for clothing colour, or null (too small, or no pose model): fixed body proportions then. */
async function bodyKeypoints(img: RgbImage, b: Box, pose: (() => Promise<PoseModel>) | undefined): Promise<readonly Keypoint[] | null> {
  if (!pose || b.h < KEYPOINT_MIN_HEIGHT) return null;
  try {
    return await (await pose()).keypoints(img, b);
  } catch {
    // Colours from proportions are still worth having; a pose model that fails to load must not cost the record.
    return null;
  }
}

/**
 * `models`, `plates` and `pose` are loaded on demand by the caller: vehicles never need the face or pose models,
 * people never the plate reader. `plates` null: plates are not read (config inference.plates false). Without
 * `pose`, clothing colours come from fixed body proportions.
 */
export async function structure(input: StructureInput, models: () => Promise<FaceModels>, plates: (() => Promise<PlateReader>) | null = null, pose?: () => Promise<PoseModel>): Promise<StructureResult> {
  checkInput(input);
  const img: RgbImage = { data: input.data, width: input.width, height: input.height };
  const b = input.box;
  if (VEHICLE_CLASSES.includes(input.cls)) {
    const attributes: StructureAttributes = { vehicleType: input.cls, colour: dominantColour(input.data, input.width, input.height, b) };
    if (!plates || !PLATE_CLASSES.includes(input.cls)) return { attributes, embedding: null };
    const p = await readPlate(input, img, plates);
    return { attributes: { ...attributes, ...p.attributes }, embedding: null, ...(p.plateCrop ? { plateCrop: p.plateCrop } : {}), ...(p.plateError ? { plateError: p.plateError } : {}) };
  }
  if (input.cls !== 'person') return { attributes: {}, embedding: null };
  // Clothing colours for every person, however small: most surveillance people never show a usable face.
  const clothes = clothingAttributes(clothingColours(img, b, await bodyKeypoints(img, b, pose)));
  const f = await personFace(img, b, models);
  if (!f) return { attributes: clothes, embedding: null };
  return {
    attributes: { ...clothes, gender: f.gender, age: Math.round(f.age), ageBand: ageBand(f.age), faceQuality: Math.round(f.quality * 1000) / 1000 },
    embedding: f.embedding,
  };
}

/** Whether a person box is wide enough to hold a face of MIN_FACE_SIDE (the live path asks before sending a task). */
export function mayHoldFace(b: Box): boolean {
  return b.w * PERSON_FACE_WIDTH >= MIN_FACE_SIDE;
}

/**
 * A person's face: searched in the head region of the person box, kept when its shorter side reaches
 * MIN_FACE_SIDE, then described (embedding, quality, gender, age). Shared by structure() (a track's best shot, at
 * track end) and the live face task (worker kind 'face', while the track is live), so both read the same face.
 * Null when the box is too narrow for such a face (the models are not run) or no face is found.
 */
export async function personFace(img: RgbImage, b: Box, models: () => Promise<FaceModels>): Promise<FaceEmbedding | null> {
  return (await personFaces([{ img, box: b }], models))[0] ?? null;
}

/**
 * personFace() for several people at once (the GPU's structuring batch): one face search over all their head
 * regions (FaceModels.detectMany) and one faceres run over the faces found (describeMany). Same rules, same results.
 */
export async function personFaces(items: readonly { readonly img: RgbImage; readonly box: Box }[], models: () => Promise<FaceModels>): Promise<(FaceEmbedding | null)[]> {
  const out: (FaceEmbedding | null)[] = items.map(() => null);
  // A face is at most about half as wide as the person's box: below that width no face can reach
  // MIN_FACE_SIDE, so skip the models (at surveillance distances most people are this small).
  const wide = items.map((it, i) => ({ ...it, i })).filter((it) => mayHoldFace(it.box));
  if (wide.length === 0) return out;
  const m = await models();
  // Head and shoulders, a little wider than the box: detector boxes often clip the side of the head.
  const found = await m.detectMany(wide.map(({ img, box: b }) => ({ img, region: { x: b.x - 0.1 * b.w, y: b.y - 0.05 * b.h, w: 1.2 * b.w, h: HEAD_REGION * b.h } })));
  const withFace = wide.flatMap((it, k) => {
    const face = (found[k] ?? []).filter((f) => Math.min(f.box.w, f.box.h) >= MIN_FACE_SIDE)[0];
    return face ? [{ ...it, face }] : [];
  });
  const described = await m.describeMany(withFace.map(({ img, face }) => ({ img, box: FaceModels.cropBox(face) })));
  withFace.forEach(({ img, face, i }, k) => {
    const d = described[k]!;
    out[i] = { embedding: d.embedding, box: face.box, quality: faceQuality(img, face).quality, gender: d.gender, age: d.age };
  });
  return out;
}

/** The live face task's input: a frame and a live person track's box in it. */
export interface FaceTaskInput {
  /** RGB24 pixels of the whole frame, ideally a view on a SharedArrayBuffer (not copied into the worker). */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** The person's box in the frame's pixels. */
  readonly box: Box;
}

/** A live face: its descriptor (1024-d, L2-normalised), its box in the frame's pixels and its quality 0..1. */
export interface LiveFace {
  readonly embedding: Float32Array;
  readonly box: Box;
  readonly quality: number;
}

/** The live face task (worker kind 'face'): the person's face, or null. */
export async function liveFace(input: FaceTaskInput, models: () => Promise<FaceModels>): Promise<LiveFace | null> {
  checkInput({ ...input, cls: 'person' });
  const f = await personFace({ data: input.data, width: input.width, height: input.height }, input.box, models);
  return f ? { embedding: f.embedding, box: f.box, quality: f.quality } : null;
}

/** The record's clothing attributes; a part too weak to name is left out. */
export function clothingAttributes(c: ClothingColours): StructureAttributes {
  return {
    ...(c.upper ? { upperColour: c.upper.colour, upperColourConfidence: c.upper.confidence } : {}),
    ...(c.lower ? { lowerColour: c.lower.colour, lowerColourConfidence: c.lower.confidence } : {}),
  };
}

/** One shot of the GPU's structuring batch: a person's best shot (structure) or a live person's face (face). */
export type PersonShot = { readonly kind: 'structure'; readonly input: StructureInput } | { readonly kind: 'face'; readonly input: FaceTaskInput };
/** Per shot: its result, or its typed failure (a bad shot costs only itself). */
export type PersonShotResult =
  | { readonly kind: 'structure'; readonly result: StructureResult }
  | { readonly kind: 'face'; readonly live: LiveFace | null }
  | { readonly kind: 'error'; readonly error: { readonly code: string; readonly message: string } };

/**
 * structure() and liveFace() for a batch of people (webgpu-worker.ts; the engine sends only people there): body
 * keypoints for all of them (PoseModel.keypointsMany), then one face search and one faceres run for all
 * (personFaces). Each shot gets what structure() or liveFace() alone would give it. Shots of other classes are
 * structured one by one without plates (the engine keeps vehicles on the CPU threads, where the plate reader is).
 * A failure of the face models fails the whole batch (thrown), as it fails the task on the CPU.
 */
export async function structurePeople(shots: readonly PersonShot[], models: () => Promise<FaceModels>, pose?: () => Promise<PoseModel>): Promise<PersonShotResult[]> {
  const out: PersonShotResult[] = shots.map(() => ({ kind: 'error', error: { code: 'INFERENCE_FAILED', message: 'not structured' } }));
  const people: { readonly i: number; readonly img: RgbImage; readonly box: Box; readonly structure: boolean }[] = [];
  for (const [i, s] of shots.entries()) {
    try {
      checkInput(s.kind === 'face' ? { ...s.input, cls: 'person' } : s.input);
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      out[i] = { kind: 'error', error: { code: typeof e.code === 'string' ? e.code : 'INFERENCE_BAD_INPUT', message: String(e.message ?? err) } };
      continue;
    }
    if (s.kind === 'structure' && s.input.cls !== 'person') {
      out[i] = { kind: 'structure', result: await structure(s.input, models, null, pose) };
      continue;
    }
    people.push({ i, img: { data: s.input.data, width: s.input.width, height: s.input.height }, box: s.input.box, structure: s.kind === 'structure' });
  }
  // Clothing colours for every best shot, with keypoints where the person is tall enough (as bodyKeypoints()).
  const posed = people.filter((p) => p.structure && pose && p.box.h >= KEYPOINT_MIN_HEIGHT);
  let kps: Keypoint[][] | null = null;
  if (posed.length > 0 && pose) {
    try { kps = await (await pose()).keypointsMany(posed.map(({ img, box }) => ({ img, box }))); } catch { kps = null; }
  }
  const faces = await personFaces(people.map(({ img, box }) => ({ img, box })), models);
  people.forEach((p, k) => {
    const f = faces[k] ?? null;
    if (!p.structure) {
      out[p.i] = { kind: 'face', live: f ? { embedding: f.embedding, box: f.box, quality: f.quality } : null };
      return;
    }
    const j = posed.indexOf(p);
    const clothes = clothingAttributes(clothingColours(p.img, p.box, j >= 0 && kps ? kps[j] ?? null : null));
    out[p.i] = {
      kind: 'structure',
      result: f
        ? { attributes: { ...clothes, gender: f.gender, age: Math.round(f.age), ageBand: ageBand(f.age), faceQuality: Math.round(f.quality * 1000) / 1000 }, embedding: f.embedding }
        : { attributes: clothes, embedding: null },
    };
  });
  return out;
}
