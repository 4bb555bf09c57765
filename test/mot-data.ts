import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMot, type MotRow } from '../tracking/index.js';

/** The shared MOTChallenge sequences (see shared/data/mot/README.md); override with CVCORE_MOT_DATA. */
export const MOT_DATA = process.env['CVCORE_MOT_DATA'] ?? '/work/shared/data/mot';

export function loadMot(sequence: string, file: string): MotRow[] {
  const path = join(MOT_DATA, sequence, file);
  return parseMot(readFileSync(path, 'utf8'), path);
}
