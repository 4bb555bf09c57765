import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { ConfigError } from '../../common/errors.js';
import { DEFAULT_MOT_FPS, formatMot, parseMot, trackMot } from '../../tracking/index.js';
import { parseEvery } from './mot-options.js';
import { reportError } from '../run.js';

const USAGE = 'cvcore track --detections <det.txt> --out <tracks.txt> [--fps F] [--every K]';

/**
 * `cvcore track`: run the tracker (default parameters) over MOTChallenge detections and write MOTChallenge tracks.
 * `--fps` is the sequence's frame rate (the tracker works in time); `--every K` analyses frames 1, 1 + K, ... only.
 */
export const trackCommand: Command = {
  name: 'track',
  summary: 'track MOTChallenge detections into MOTChallenge tracks',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    try {
      const { values } = parseArgs({
        args,
        options: {
          detections: { type: 'string' }, out: { type: 'string' }, fps: { type: 'string' }, every: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
        allowPositionals: false,
      });
      if (values.help) {
        process.stdout.write(`usage: ${USAGE}\n`);
        return 0;
      }
      if (!values.detections || !values.out) {
        process.stderr.write(`usage: ${USAGE}\n`);
        return 2;
      }
      const fps = values.fps === undefined ? DEFAULT_MOT_FPS : Number(values.fps);
      if (!(fps > 0) || !Number.isFinite(fps)) throw new ConfigError('CONFIG_INVALID_VALUE', '--fps: must be a positive number (the sequence\'s frame rate)', { detail: { path: '--fps' } });
      const every = parseEvery(values.every);
      const dets = parseMot(await readFile(values.detections, 'utf8'), values.detections);
      const tracks = trackMot(dets, { fps, every });
      await writeFile(values.out, formatMot(tracks));
      process.stderr.write(`${tracks.length} boxes in ${new Set(tracks.map((t) => t.id)).size} tracks -> ${values.out}\n`);
      return 0;
    } catch (err) {
      return reportError(err);
    }
  },
};
