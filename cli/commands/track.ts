import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { formatMot, parseMot, trackMot } from '../../tracking/index.js';
import { reportError } from '../run.js';

const USAGE = 'cvcore track --detections <det.txt> --out <tracks.txt>';

/** `cvcore track`: run the tracker (default parameters) over MOTChallenge detections and write MOTChallenge tracks. */
export const trackCommand: Command = {
  name: 'track',
  summary: 'track MOTChallenge detections into MOTChallenge tracks',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    try {
      const { values } = parseArgs({
        args,
        options: { detections: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
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
      const dets = parseMot(await readFile(values.detections, 'utf8'), values.detections);
      const tracks = trackMot(dets);
      await writeFile(values.out, formatMot(tracks));
      process.stderr.write(`${tracks.length} boxes in ${new Set(tracks.map((t) => t.id)).size} tracks -> ${values.out}\n`);
      return 0;
    } catch (err) {
      return reportError(err);
    }
  },
};
