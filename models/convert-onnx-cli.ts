/**
 * Writes CenterNet's backbone as ONNX (models/onnx-convert.ts) for the set-up.
 * Usage: node dist/models/convert-onnx-cli.js [outDir]   (outDir defaults to MODELS_DIR)
 *        node dist/models/convert-onnx-cli.js --check   (exit 0 when MODELS_DIR already holds the manifest's file)
 * The tfjs files are always read from MODELS_DIR. Prints "<sha256> <bytes> <path>" on stdout. A translation whose
 * sha256 differs from the manifest's is written but fails (exit 1): the manifest is the contract.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelError } from '../common/errors.js';
import { MODELS_DIR, modelEntry } from './index.js';
import { CENTERNET_ONNX_FILE, convertCenternetBackbone } from './onnx-convert.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function main(): Promise<void> {
  const expected = modelEntry('centernet').onnx;
  if (process.argv[2] === '--check') {
    const have = await readFile(join(MODELS_DIR, CENTERNET_ONNX_FILE)).catch(() => null);
    process.exit(have && expected && sha(have) === expected.sha256 ? 0 : 1);
  }
  const outDir = resolve(process.argv[2] ?? MODELS_DIR);
  const bytes = await convertCenternetBackbone();
  await mkdir(outDir, { recursive: true });
  const target = join(outDir, CENTERNET_ONNX_FILE);
  // A reader (or a set-up killed halfway) must never see a partial model: write aside, sync, then rename.
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const sha256 = sha(bytes);
  process.stdout.write(`${sha256} ${bytes.length} ${target}\n`);
  if (expected && sha256 !== expected.sha256) {
    throw new ModelError('MODEL_FILE_CORRUPT', `the translation's sha256 ${sha256} is not the manifest's ${expected.sha256} (a new converter or new weights: update models/manifest.json)`, { detail: { file: target } });
  }
}

main().catch((err: unknown) => {
  const code = typeof err === 'object' && err !== null && 'code' in err ? `${String(err.code)}: ` : '';
  process.stderr.write(`convert-onnx: ${code}${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
