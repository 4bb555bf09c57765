/**
 * Set-up step: makes .cache/media/faces.mp4 and faces.json (the face camera's footage, synth/faces.ts) when they
 * are missing or were made by an older version. `--check` only says (exit 0) whether they are current.
 */
import { join } from 'node:path';
import { footageCurrent } from './media-version.js';
import { CACHE_DIR, mediaPath } from '../common/paths.js';
import { FACE_FOOTAGE, FACES_FOOTAGE_VERSION, writeFaceFootage } from './faces.js';

const dir = join(CACHE_DIR, 'media');

const current = (): boolean => footageCurrent(dir, FACE_FOOTAGE, FACES_FOOTAGE_VERSION);

if (process.argv.includes('--check')) process.exit(current() ? 0 : 1);
if (!current()) {
  const started = Date.now();
  const truth = await writeFaceFootage(dir, mediaPath(FACE_FOOTAGE.photo));
  const a = truth.appearances[0]!;
  process.stderr.write(`[setup] face footage ${FACE_FOOTAGE.video}: ${truth.frames} frames a loop, the person on camera ${a.from}-${a.to} s, in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
