/**
 * The plate reader on the real OCR models: plates rendered with sharp in three CJK fonts and five colours
 * (a green eight-character new-energy plate and a two-row yellow one among them), set on a vehicle-like body, are
 * read exactly with their colour and rows; through the engine a car's crops give plate attributes and a JPEG of
 * the plate. A missing OCR file is a typed ModelError, and an engine whose OCR model is missing still starts and
 * structures vehicles, without plates, with health saying why.
 */
import test from 'ava';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ModelError } from '../common/errors.js';
import { OBJECT_CLASSES } from '../common/messages.js';
import { MODELS_DIR, modelEntry } from '../models/index.js';
import { InferenceEngine, PlateReader } from '../inference/index.js';
import { PLATE_CROP_MARGIN, PLATE_CROP_MAX_PIXELS, PLATE_CROP_SKIP_TOP } from '../runtime/index.js';
import { cutVehicleCrop } from '../inference/index.js';
import { motionBlurCase, plateSpecs, plateViews } from '../synth/index.js';
import { onVehicle, renderPlate, type PlateSpec } from './support/plates.js';

const CASES: readonly (PlateSpec & { readonly rowsRead: 1 | 2 })[] = [
  { text: '鲁B12345', colour: 'blue', width: 140, font: 'Noto Sans CJK SC', rowsRead: 1 },
  { text: '京A8H6Q2', colour: 'blue', width: 110, font: 'WenQuanYi Zen Hei', rowsRead: 1 },
  { text: '粤BD12345', colour: 'green', width: 150, font: 'WenQuanYi Zen Hei', rowsRead: 1 },
  { text: '苏E7K31P', colour: 'yellow', width: 130, rows: 2, font: 'Noto Sans CJK SC', rowsRead: 2 },
  { text: '浙C9Z0T1', colour: 'white', width: 120, font: 'AR PL UMing CN', rowsRead: 1 },
  { text: '川A5M8N2', colour: 'black', width: 110, font: 'Noto Sans CJK SC', rowsRead: 1 },
];

let reader: PlateReader;
test.before(async () => { reader = await PlateReader.load(); });
test.after.always(async () => { await reader?.dispose(); });

for (const c of CASES) {
  test(`plates - reads a rendered ${c.colour} ${c.rows === 2 ? 'two-row ' : ''}plate in ${c.font} exactly`, async (t) => {
    const vehicle = await onVehicle(await renderPlate(c));
    const r = await reader.read([vehicle]);
    t.is(r?.plate, c.text, JSON.stringify({ ...r, jpeg: undefined }));
    t.is(r?.colour, c.colour);
    t.is(r?.rows, c.rowsRead);
    t.true(r!.confidence > 0.5, `confidence ${r?.confidence}`);
    const meta = await sharp(r!.jpeg).metadata();
    t.is(meta.format, 'jpeg');
    t.true(meta.width! <= 160);
  });
}

test('plates - several crops of one vehicle are voted into one reading', async (t) => {
  const spec: PlateSpec = { text: '鲁B6J7K8', colour: 'blue', width: 120 };
  const crops = await Promise.all([0.4, 0.8, 1.1].map(async (blur) => onVehicle(await renderPlate(spec), [90, 30, 30], blur)));
  const r = await reader.read(crops);
  t.is(r?.plate, spec.text);
  // Read until two agree clearly (the sharpest two may already), every crop at most.
  t.true(r!.readings >= 2 && r!.readings <= 3, `readings ${r?.readings}`);
  t.is(r?.readings, r?.crops);
});

test('plates - reading stops once two crops agree clearly, and a disagreeing crop is read past', async (t) => {
  const spec: PlateSpec = { text: '苏E5N2Q7', colour: 'yellow', width: 130 };
  const clear = await onVehicle(await renderPlate(spec), [40, 40, 120], 0.4);
  const four = await reader.read([clear, clear, clear, clear]);
  t.is(four?.plate, spec.text);
  t.is(four?.crops, 2, 'two clear readings settle the vote');
  // A crop with another plate, larger (read first), does not settle anything on its own.
  const other = await onVehicle(await renderPlate({ text: '苏E5N207', colour: 'yellow', width: 150 }), [40, 40, 120], 0.4);
  const mixed = await reader.read([clear, other, clear]);
  t.is(mixed?.crops, 3);
  t.is(mixed?.plate, spec.text);
});

test('plates - a vehicle without a plate gives no reading', async (t) => {
  const blank = await onVehicle({ data: new Uint8Array(100 * 32 * 3).fill(150), width: 100, height: 32 });
  t.is(await reader.read([blank]), null);
});

test('plates - synth plates on real vehicle photos, one track of three views per colour and layout, read exactly', async (t) => {
  // The first plate 140 px or wider of each colour and layout in the bench's set (bench/plates.ts, seed 17).
  const seen = new Set<string>();
  const specs = plateSpecs({ seed: 17, count: 120, widths: [140, 160, 200] }).filter((s) => {
    const key = `${s.truth.colour}/${s.truth.rows}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  t.true(specs.length >= 5, [...seen].join(' '));
  for (const spec of specs) {
    const views = await plateViews(spec, 3);
    const crops = views.map((v) => cutVehicleCrop(v.image, v.vehicleBox, PLATE_CROP_MARGIN, PLATE_CROP_MAX_PIXELS, PLATE_CROP_SKIP_TOP));
    const r = await reader.read(crops);
    t.is(r?.plate, spec.truth.plate, `${spec.truth.colour}/${spec.truth.rows} on ${spec.vehicle}`);
    t.is(r?.colour, spec.truth.colour);
    t.is(r?.rows, spec.truth.rows);
  }
});

test('plates - a motion-blurred foreign plate gives no confident mainland reading', async (t) => {
  const blur = await motionBlurCase();
  const r = await reader.read([blur.image]);
  t.false(r !== null && r.plate !== null && r.confidence >= 0.8, JSON.stringify({ ...r, jpeg: undefined }));
});

async function modelsWithout(missing: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-ocr-'));
  for (const m of ['ppocrv4-det', 'ppocrv4-rec']) {
    for (const f of modelEntry(m).files) if (f.file !== missing) await copyFile(join(MODELS_DIR, f.file), join(dir, f.file));
  }
  return dir;
}

test('plates - a missing OCR file is ModelError MODEL_FILE_MISSING naming it', async (t) => {
  const dir = await modelsWithout('ch_PP-OCRv4_rec_infer.onnx');
  try {
    const err = await t.throwsAsync(PlateReader.load(dir), { instanceOf: ModelError });
    t.is((err as ModelError).code, 'MODEL_FILE_MISSING');
    t.regex(err!.message, /ch_PP-OCRv4_rec_infer\.onnx/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('plates - through the engine: a car\'s crops give plate attributes and a plate JPEG', async (t) => {
  const engine = await InferenceEngine.start({ backend: 'onnx', model: 'centernet', workers: 1, minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES, plates: true });
  try {
    t.deepEqual(engine.platesHealth, { state: 'ready' });
    const spec: PlateSpec = { text: '粤BD12345', colour: 'green', width: 150 };
    const car = await onVehicle(await renderPlate(spec));
    const crops = [{ ...car, at: 0 }];
    const r = await engine.structure({ ...car, box: { x: 0, y: 0, w: car.width, h: car.height }, cls: 'car', crops });
    t.is(r.attributes.plate, spec.text);
    t.is(r.attributes.plateColour, 'green');
    t.is(r.attributes.plateRows, 1);
    t.true(r.attributes.plateConfidence! > 0.5);
    t.is(r.attributes.vehicleType, 'car');
    t.truthy(r.plateCrop && r.plateCrop.length > 100);
    // No crops: the best-shot box is read instead. A bicycle has no plate.
    const fallback = await engine.structure({ ...car, box: { x: 0, y: 0, w: car.width, h: car.height }, cls: 'truck' });
    t.is(fallback.attributes.plate, spec.text);
    const bike = await engine.structure({ ...car, box: { x: 0, y: 0, w: car.width, h: car.height }, cls: 'bicycle' });
    t.is(bike.attributes.plate, undefined);
  } finally {
    await engine.stop();
  }
});

test('plates - an engine whose OCR model is missing still structures vehicles, without plates, and says why', async (t) => {
  const dir = await modelsWithout('ch_PP-OCRv4_det_infer.onnx');
  const engine = await InferenceEngine.start({ backend: 'onnx', model: 'centernet', workers: 1, minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES, plates: true, modelsDir: dir });
  try {
    const h = engine.platesHealth;
    t.is(h.state, 'unavailable');
    t.is(h.state === 'unavailable' ? h.code : null, 'MODEL_FILE_MISSING');
    const car = await onVehicle(await renderPlate({ text: '鲁B12345', colour: 'blue', width: 140 }));
    const r = await engine.structure({ ...car, box: { x: 0, y: 0, w: car.width, h: car.height }, cls: 'car', crops: [{ ...car, at: 0 }] });
    t.is(r.attributes.vehicleType, 'car');
    t.truthy(r.attributes.colour);
    t.is(r.attributes.plate, undefined);
    t.is((r as { plateError?: unknown }).plateError, undefined);
  } finally {
    await engine.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
