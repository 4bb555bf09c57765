// Copies the model files named in models/manifest.json out of installed npm packages into models/files/ and
// checks each one's sha256 against the manifest. Runs at set-up; nothing downloads. An entry names where its
// files come from with `package` and `folder` (inside the package); without them the files come from
// @vladmandic/human's models/ folder.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const DEFAULT_PACKAGE = '@vladmandic/human';
const DEFAULT_FOLDER = 'models';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(root, 'models', 'manifest.json'), 'utf8'));
const require = createRequire(import.meta.url);

// Packages' exports often hide package.json, so find each package's folder through the module search paths.
const packageDirs = new Map();
function packageDir(pkg, folder) {
  const key = `${pkg}\0${folder}`;
  if (!packageDirs.has(key)) {
    const dir = require.resolve.paths(pkg).map((p) => join(p, ...pkg.split('/'))).find((p) => existsSync(join(p, folder)));
    if (!dir) { console.error(`[setup] ${pkg} is not installed; run npm ci`); process.exit(1); }
    packageDirs.set(key, join(dir, folder));
  }
  return packageDirs.get(key);
}

const dest = join(root, 'models', 'files');
mkdirSync(dest, { recursive: true });

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
let copied = 0;
for (const model of manifest.models) {
  const pkg = model.package ?? DEFAULT_PACKAGE;
  const folder = model.folder ?? DEFAULT_FOLDER;
  for (const { file, sha256: expected } of model.files) {
    const target = join(dest, file);
    if (existsSync(target) && sha256(target) === expected) continue;
    const source = join(packageDir(pkg, folder), file);
    if (!existsSync(source)) {
      console.error(`[setup] model file ${file} (${model.name}) is missing from ${pkg}/${folder}; run npm ci`);
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
