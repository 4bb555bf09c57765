// Copies the model files named in models/manifest.json out of the installed @vladmandic/human package into
// models/files/ and checks each one's sha256 against the manifest. Runs at set-up; nothing downloads.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(root, 'models', 'manifest.json'), 'utf8'));
const require = createRequire(import.meta.url);
// The package's exports hide package.json, so find its folder through the module search paths.
const humanDir = require.resolve.paths('@vladmandic/human').map((p) => join(p, '@vladmandic', 'human')).find((p) => existsSync(join(p, 'models')));
if (!humanDir) { console.error('[setup] @vladmandic/human is not installed; run npm ci'); process.exit(1); }
const dest = join(root, 'models', 'files');
mkdirSync(dest, { recursive: true });

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
let copied = 0;
for (const model of manifest.models) {
  for (const { file, sha256: expected } of model.files) {
    const target = join(dest, file);
    if (existsSync(target) && sha256(target) === expected) continue;
    const source = join(humanDir, 'models', file);
    if (!existsSync(source)) {
      console.error(`[setup] model file ${file} (${model.name}) is missing from @vladmandic/human; run npm ci`);
      process.exit(1);
    }
    copyFileSync(source, target);
    const got = sha256(target);
    if (got !== expected) {
      console.error(`[setup] model file ${file} has sha256 ${got}, the manifest expects ${expected}`);
      process.exit(1);
    }
    copied++;
  }
}
if (copied > 0) console.error(`[setup] copied ${copied} model files into models/files`);
