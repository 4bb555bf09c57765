import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SetupError } from './errors.js';

/** The repository root, found from this file whether it runs from the sources or from dist/. */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
  return dir;
})();

export const CACHE_DIR = resolve(process.env['CVCORE_CACHE'] ?? join(REPO_ROOT, '.cache'));

/** A sample file extracted by the set-up from Debian packages (vtest.avi, vtest.mp4, astronaut.png...). */
export function mediaPath(name: string): string {
  const p = join(CACHE_DIR, 'media', name);
  if (!existsSync(p)) throw new SetupError('SETUP_MEDIA_MISSING', `sample media ${name} not found at ${p}; run npm run setup`, { detail: { file: p } });
  return p;
}
