import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { combineMot, evaluateMot, formatMotTable, parseMot, subsampleMot, type MotMetrics } from '../../tracking/index.js';
import { parseEvery } from './mot-options.js';
import { reportError } from '../run.js';

const USAGE = 'cvcore eval-mot --gt <gt.txt> --tracks <tracks.txt> [--gt <gt2.txt> --tracks <tracks2.txt> ...] [--every K] [--json]';

/** A sequence's name is its folder (MOTChallenge layout `<seq>/gt/gt.txt` or `<seq>/gt.txt`). */
function sequenceName(gtPath: string): string {
  const dir = dirname(gtPath);
  return basename(dir) === 'gt' ? basename(dirname(dir)) : basename(dir);
}

/** `cvcore eval-mot`: py-motmetrics-compatible CLEAR-MOT and identity scores; several pairs add an overall row. */
export const evalMotCommand: Command = {
  name: 'eval-mot',
  summary: 'score MOTChallenge tracks against ground truth (IDF1, MOTA, ...)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    try {
      const { values } = parseArgs({
        args,
        options: {
          gt: { type: 'string', multiple: true },
          tracks: { type: 'string', multiple: true },
          json: { type: 'boolean' },
          every: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
        allowPositionals: false,
      });
      if (values.help) {
        process.stdout.write(`usage: ${USAGE}\n`);
        return 0;
      }
      const gts = values.gt ?? [];
      const tracks = values.tracks ?? [];
      if (gts.length === 0 || gts.length !== tracks.length) {
        process.stderr.write(`usage: ${USAGE}\n`);
        return 2;
      }
      const every = parseEvery(values.every);
      const rows: { name: string; metrics: MotMetrics }[] = [];
      for (let k = 0; k < gts.length; k++) {
        // Tracks made with --every K are scored against the ground truth of the frames that were analysed.
        const gt = subsampleMot(parseMot(await readFile(gts[k]!, 'utf8'), gts[k]), every);
        const hyp = parseMot(await readFile(tracks[k]!, 'utf8'), tracks[k]);
        rows.push({ name: sequenceName(gts[k]!), metrics: evaluateMot(gt, hyp) });
      }
      if (rows.length > 1) rows.push({ name: 'overall', metrics: combineMot(rows.map((r) => r.metrics)) });
      if (values.json) process.stdout.write(JSON.stringify(Object.fromEntries(rows.map((r) => [r.name, r.metrics])), null, 2) + '\n');
      else process.stdout.write(formatMotTable(rows));
      return 0;
    } catch (err) {
      return reportError(err);
    }
  },
};
