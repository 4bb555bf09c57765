/**
 * A model file that is missing or does not match its sha256 is a typed error naming the file, before tfjs
 * ever parses it; every manifest entry is complete and its files verify.
 */
import test from 'ava';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelError } from '../common/errors.js';
import { loadManifest, MODELS_DIR, readModel, readModelFiles } from '../models/index.js';

test('models - manifest entries are complete and verify', async (t) => {
  for (const m of loadManifest().models) {
    for (const k of ['name', 'task', 'inputShape', 'preprocessing', 'outputs', 'labels', 'licence', 'source', 'files'] as const) {
      t.truthy(m[k], `${m.name}.${k}`);
    }
    for (const f of m.files) t.regex(f.sha256, /^[0-9a-f]{64}$/);
    const files = await readModelFiles(m.name);
    for (const f of m.files) t.is(files.get(f.file)?.length, f.bytes, `${m.name}: ${f.file}`);
    // tfjs graphs also parse; ONNX entries (the plate reader's OCR) are parsed by onnxruntime when loaded.
    if (m.files.some((f) => f.file.endsWith('.json'))) {
      const art = await readModel(m.name);
      t.true(art.weightData.byteLength > 0, m.name);
    }
  }
});

test('models - a corrupt or missing file is a typed error naming it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-models-'));
  try {
    for (const f of ['blazeface.json', 'blazeface.bin']) await copyFile(join(MODELS_DIR, f), join(dir, f));
    await t.notThrowsAsync(readModel('blazeface', dir));
    const bin = join(dir, 'blazeface.bin');
    const bytes = await readFile(bin);
    bytes[1000] = bytes[1000]! ^ 0xff;
    await writeFile(bin, bytes);
    const corrupt = await t.throwsAsync(readModel('blazeface', dir), { instanceOf: ModelError });
    t.is((corrupt as ModelError).code, 'MODEL_FILE_CORRUPT');
    t.is((corrupt as ModelError).detail['file'], bin);
    await rm(bin);
    const missing = await t.throwsAsync(readModel('blazeface', dir), { instanceOf: ModelError });
    t.is((missing as ModelError).code, 'MODEL_FILE_MISSING');
    t.regex((missing as ModelError).message, /blazeface\.bin/);
    const unknown = await t.throwsAsync(readModel('no-such-model', dir), { instanceOf: ModelError });
    t.is((unknown as ModelError).code, 'MODEL_UNKNOWN');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('models - the OCR files copied from another package verify and fail with the same codes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-models-'));
  try {
    const keys = 'ppocr_keys_v1.txt';
    const onnx = 'ch_PP-OCRv4_rec_infer.onnx';
    for (const f of [keys, onnx]) await copyFile(join(MODELS_DIR, f), join(dir, f));
    await t.notThrowsAsync(readModelFiles('ppocrv4-rec', dir));
    const bytes = await readFile(join(dir, keys));
    bytes[10] = bytes[10]! ^ 0xff;
    await writeFile(join(dir, keys), bytes);
    const corrupt = await t.throwsAsync(readModelFiles('ppocrv4-rec', dir), { instanceOf: ModelError });
    t.is((corrupt as ModelError).code, 'MODEL_FILE_CORRUPT');
    await copyFile(join(MODELS_DIR, keys), join(dir, keys));
    await rm(join(dir, onnx));
    const missing = await t.throwsAsync(readModelFiles('ppocrv4-rec', dir), { instanceOf: ModelError });
    t.is((missing as ModelError).code, 'MODEL_FILE_MISSING');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
