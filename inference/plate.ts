/**
 * The plate reader: PaddleOCR's PP-OCRv4 text detector and recogniser (models/manifest.json, ONNX, run by
 * onnxruntime-node on one thread) applied to vehicle crops. Per crop: find text lines on the vehicle (DB), group
 * them into plate candidates (one row, or two stacked rows), rank them by shape and by the plate colours their
 * background shows, deskew and read the best few, decoding each line under the plate grammar (plate-text.ts).
 * Per track: the crops' readings are voted position by position, and a small JPEG of the plate comes back.
 * Loaded once per worker thread; a missing or corrupt file is ModelError MODEL_FILE_MISSING / MODEL_FILE_CORRUPT.
 */
import type * as Ort from 'onnxruntime-node';
import sharp from 'sharp';
import { ModelError } from '../common/errors.js';
import type { PlateColour } from '../common/plates.js';
import { MODELS_DIR, readModelFiles } from '../models/index.js';
import type { RgbImage } from './face.js';
import { loadOrt } from './onnx-runner.js';
import { dbBoxes, plateCandidates, plateColour, sampleRect, scaleRect, type PlateCandidate, type RotatedRect, type TextBox } from './plate-image.js';
import { PlateAlphabet, readPlateLine, readTwoRowPlate, votePlates, type CtcOutput, type PlateReading } from './plate-text.js';

export const DET_MODEL = 'ppocrv4-det';
export const REC_MODEL = 'ppocrv4-rec';
/** The detector's input: the crop scaled so its longer side is at most this (multiples of 32)... */
export const DET_MAX_SIDE = 800;
/** ...and enlarged at most this much: a small plate's characters need ~20 px of height to be found. */
export const DET_MAX_UPSCALE = 3;
/** The recogniser reads lines 48 px high; narrower lines are padded to this width, as it was trained. */
export const REC_HEIGHT = 48;
export const REC_MIN_WIDTH = 320;
export const REC_MAX_WIDTH = 640;
/** Plate candidates read per crop, best-ranked first (reading stops early at a clear plate)... */
export const CANDIDATES_READ = 3;
/** ...and up to this many while none has given text that fits a plate. */
export const CANDIDATES_MAX = 6;
/**
 * Ranking weights besides shape: a background in a plate colour (the chromatic ones count fully; white and black
 * backgrounds are as common on signs and adverts as on plates), and height in the crop (plates hang low on a
 * vehicle; signs, adverts and destination boards sit high).
 */
const RANK_CHROMATIC = 1;
const RANK_ACHROMATIC = 0.4;
const RANK_LOW = 0.8;
/** A reading this confident that fits a format ends the search of a crop. */
export const CLEAR_READING = 0.9;
/** The plate crop returned with the result is at most this wide (px). */
export const PLATE_CROP_WIDTH = 160;

// The detector's normalisation (ImageNet mean and std), applied in PaddleOCR's channel order (B, G, R).
const DET_MEAN = [0.406, 0.456, 0.485] as const;
const DET_STD = [0.225, 0.224, 0.229] as const;

/** One crop's reading with where the plate was. */
export interface CropReading {
  readonly reading: PlateReading;
  readonly colour: PlateColour;
  /** The whole plate in the crop's pixels. */
  readonly plate: RotatedRect;
  readonly crop: RgbImage;
}

/** A track's plate: voted across its crops. */
export interface PlateResult {
  /** Canonical plate (common/plates.ts), or null when the text fits no mainland format (then `raw`). */
  readonly plate: string | null;
  readonly raw: string | null;
  readonly colour: PlateColour;
  readonly confidence: number;
  readonly rows: 1 | 2;
  /** JPEG of the plate the result is closest to, at most PLATE_CROP_WIDTH wide. */
  readonly jpeg: Uint8Array;
  /** Crops that gave a reading, and how many were read (reading stops early once two agree clearly). */
  readonly readings: number;
  readonly crops: number;
}

export class PlateReader {
  readonly #det: Ort.InferenceSession;
  readonly #rec: Ort.InferenceSession;
  readonly #ort: typeof Ort;
  readonly alphabet: PlateAlphabet;

  private constructor(ort: typeof Ort, det: Ort.InferenceSession, rec: Ort.InferenceSession, alphabet: PlateAlphabet) {
    this.#ort = ort;
    this.#det = det;
    this.#rec = rec;
    this.alphabet = alphabet;
  }

  /** Reads and verifies the OCR files (sha256) and opens a one-thread session for each network. */
  static async load(dir: string = MODELS_DIR): Promise<PlateReader> {
    const [det, rec] = await Promise.all([readModelFiles(DET_MODEL, dir), readModelFiles(REC_MODEL, dir)]);
    const ort = loadOrt();
    const open = async (bytes: Buffer, model: string): Promise<Ort.InferenceSession> => {
      try {
        return await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
      } catch (cause) {
        throw new ModelError('MODEL_FILE_CORRUPT', `model ${model} does not load in onnxruntime: ${(cause as Error).message}`, { cause, detail: { model } });
      }
    };
    const detOnnx = [...det.values()][0]!;
    const recOnnx = [...rec].find(([f]) => f.endsWith('.onnx'))?.[1];
    const keys = [...rec].find(([f]) => f.endsWith('.txt'))?.[1];
    if (!recOnnx || !keys) throw new ModelError('MODEL_FILE_CORRUPT', `manifest entry ${REC_MODEL} must name an .onnx graph and a .txt dictionary`, { detail: { model: REC_MODEL } });
    const alphabet = PlateAlphabet.fromKeys(keys.toString('utf8'));
    return new PlateReader(ort, await open(detOnnx, DET_MODEL), await open(recOnnx, REC_MODEL), alphabet);
  }

  /** Text boxes on an image, in its pixels. */
  async detectText(img: RgbImage): Promise<TextBox[]> {
    const long = Math.max(img.width, img.height);
    const scale = Math.min(DET_MAX_UPSCALE, DET_MAX_SIDE / long);
    const snap = (v: number): number => Math.max(32, Math.min(DET_MAX_SIDE, Math.round((v * scale) / 32) * 32));
    const iw = snap(img.width), ih = snap(img.height);
    const small = sampleRect(img, { cx: img.width / 2, cy: img.height / 2, w: img.width, h: img.height, angle: 0 }, iw, ih);
    const input = new Float32Array(3 * iw * ih);
    const plane = iw * ih;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        // Channel c of the tensor holds B, G, R in turn.
        const v = small.data[i * 3 + (2 - c)]! / 255;
        input[c * plane + i] = (v - DET_MEAN[c]!) / DET_STD[c]!;
      }
    }
    const out = await this.#det.run({ x: new this.#ort.Tensor('float32', input, [1, 3, ih, iw]) });
    const map = Object.values(out)[0]!;
    const [, , mh, mw] = map.dims as number[];
    const boxes = dbBoxes(map.data as Float32Array, mw!, mh!);
    return boxes.map((b) => scaleRect(b, img.width / mw!, img.height / mh!));
  }

  /** The recogniser's distribution for one text line of `img`. */
  async recognise(img: RgbImage, line: RotatedRect): Promise<CtcOutput> {
    const w = Math.max(8, Math.min(REC_MAX_WIDTH, Math.round((REC_HEIGHT * line.w) / line.h)));
    const pix = sampleRect(img, line, w, REC_HEIGHT);
    const width = Math.max(w, REC_MIN_WIDTH);
    // Padding is 0 after normalisation (mid grey), as PaddleOCR pads.
    const input = new Float32Array(3 * REC_HEIGHT * width);
    const plane = REC_HEIGHT * width;
    for (let y = 0; y < REC_HEIGHT; y++) {
      for (let x = 0; x < w; x++) {
        const s = (y * w + x) * 3;
        for (let c = 0; c < 3; c++) input[c * plane + y * width + x] = (pix.data[s + (2 - c)]! / 255 - 0.5) / 0.5;
      }
    }
    const out = await this.#rec.run({ x: new this.#ort.Tensor('float32', input, [1, 3, REC_HEIGHT, width]) });
    const t = Object.values(out)[0]!;
    const [, steps, classes] = t.dims as number[];
    return { probs: t.data as Float32Array, steps: steps!, classes: classes! };
  }

  /** Reads the plate of one vehicle crop, or null when no candidate gives text. */
  async readCrop(img: RgbImage): Promise<CropReading | null> {
    const boxes = await this.detectText(img);
    const candidates = plateCandidates(boxes);
    // Colour ranks the candidates: a line on a plate's background is far likelier a plate than other text.
    const ranked = candidates.slice(0, CANDIDATES_MAX * 2).map((c) => {
      const col = plateColour(sampleRect(img, c.plate, 72, 24));
      const chromatic = col.colour === 'blue' || col.colour === 'yellow' || col.colour === 'green';
      return { c, col, score: c.score + col.share * (chromatic ? RANK_CHROMATIC : RANK_ACHROMATIC) + RANK_LOW * (c.plate.cy / img.height) };
    }).sort((a, b) => b.score - a.score).slice(0, CANDIDATES_MAX);
    let best: CropReading | null = null;
    for (const [i, { c, col }] of ranked.entries()) {
      if (i >= CANDIDATES_READ && best?.reading.plate) break;
      const reading = await this.#readCandidate(img, c, col.colour);
      if (!reading) continue;
      const r: CropReading = { reading, colour: col.colour, plate: c.plate, crop: img };
      if (!best || better(reading, best.reading)) best = r;
      if (reading.plate !== null && reading.confidence >= CLEAR_READING) break;
    }
    return best;
  }

  async #readCandidate(img: RgbImage, c: PlateCandidate, colour: PlateColour): Promise<PlateReading | null> {
    if (c.rows.length === 2) {
      const [top, bottom] = await Promise.all(c.rows.map((r) => this.recognise(img, r)));
      return readTwoRowPlate(top!, bottom!, this.alphabet);
    }
    const out = await this.recognise(img, c.rows[0]!);
    const r = readPlateLine(out, this.alphabet, colour === 'green' ? 'new-energy' : 'standard');
    return r.raw.length === 0 && r.plate === null ? null : r;
  }

  /** Reads every crop of a track and votes; null when no crop gave text. */
  async read(crops: readonly RgbImage[]): Promise<PlateResult | null> {
    const got: CropReading[] = [];
    // Largest first (the nearest view reads best); stop once enough crops agree clearly, since the rest could
    // not outvote them and each crop costs about 100 ms of CPU.
    const order = [...crops].sort((a, b) => b.width * b.height - a.width * a.height);
    let read = 0;
    for (const crop of order) {
      read++;
      const r = await this.readCrop(crop);
      if (r) got.push(r);
      if (settled(got)) break;
    }
    const vote = votePlates(got.map((g) => g.reading));
    if (!vote) return null;
    const shown = got[vote.best]!;
    // The colour most of the agreeing crops saw.
    const colours = new Map<PlateColour, number>();
    for (const g of got) colours.set(g.colour, (colours.get(g.colour) ?? 0) + g.reading.confidence);
    const colour = [...colours].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    return {
      plate: vote.plate, raw: vote.raw, colour, confidence: vote.confidence, rows: vote.rows,
      jpeg: await plateJpeg(shown.crop, shown.plate), readings: got.length, crops: read,
    };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.#det.release(), this.#rec.release()]);
  }
}

/** Reading a track's crops stops once this many of them read the same fitting plate in the same colour... */
export const EARLY_AGREEMENT = 2;
/** ...each at least this confident. */
export const EARLY_CONFIDENCE = 0.9;

/** True when EARLY_AGREEMENT readings give the same plate and colour at EARLY_CONFIDENCE or more. */
function settled(got: readonly CropReading[]): boolean {
  const count = new Map<string, number>();
  for (const g of got) {
    if (g.reading.plate === null || g.reading.confidence < EARLY_CONFIDENCE) continue;
    const key = `${g.reading.plate} ${g.colour}`;
    const n = (count.get(key) ?? 0) + 1;
    if (n >= EARLY_AGREEMENT) return true;
    count.set(key, n);
  }
  return false;
}

/** A fitting reading beats one that fits nothing; between equals, the more confident. */
function better(a: PlateReading, b: PlateReading): boolean {
  if ((a.plate !== null) !== (b.plate !== null)) return a.plate !== null;
  return a.confidence > b.confidence;
}

/** The plate, deskewed, as a JPEG at most PLATE_CROP_WIDTH wide. */
export async function plateJpeg(img: RgbImage, plate: RotatedRect): Promise<Uint8Array> {
  const w = Math.max(16, Math.min(PLATE_CROP_WIDTH, Math.round(plate.w)));
  const h = Math.max(8, Math.round((w * plate.h) / plate.w));
  const pix = sampleRect(img, plate, w, h);
  return new Uint8Array(await sharp(pix.data, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 80 }).toBuffer());
}
