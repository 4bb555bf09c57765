/**
 * Set-up step: makes .cache/media/plates.mp4 and plates.json when they are missing or were made by an older
 * version of synth/footage.ts. `--check` only says (exit 0) whether they are current.
 */
import { join } from 'node:path';
import { footageCurrent } from './media-version.js';
import { CACHE_DIR } from '../common/paths.js';
import { FOOTAGE_VERSION, PLATE_FOOTAGE, writePlateFootage } from './footage.js';

const dir = join(CACHE_DIR, 'media');

const current = (): boolean => footageCurrent(dir, PLATE_FOOTAGE, FOOTAGE_VERSION);

if (process.argv.includes('--check')) process.exit(current() ? 0 : 1);
if (!current()) {
  const started = Date.now();
  const truth = await writePlateFootage(dir);
  const plates = truth.vehicles.filter((v) => v.plate !== null).map((v) => `${v.plate} (${v.colour})`).join(', ');
  process.stderr.write(`[setup] plate footage ${PLATE_FOOTAGE.video}: ${truth.frames} frames, plates ${plates} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
