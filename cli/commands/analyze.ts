import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../common/errors.js';
import { OBJECT_CLASSES, type ObjectClass } from '../../common/messages.js';
import { BACKENDS } from '../../config/index.js';
import { analyzeVideo } from '../../runtime/index.js';
import { formatMot } from '../../tracking/index.js';
import type { Command } from '../command.js';
import { reportError } from '../run.js';

const USAGE = 'cvcore analyze --input <video file or RTSP URL> --out-mot <tracks.txt> [--fps F] [--classes person,car] [--max-frames N] [--workers W] [--backend B] [--transport tcp|udp]';

/** One terminal line: frames done (of the total when known), frames a second, time left. */
export function progressLine(done: number, total: number | null, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const left = total !== null && rate > 0 ? `, ${Math.max(0, Math.round((total - done) / rate))} s left` : '';
  const of = total !== null ? `/${total} (${Math.min(100, Math.round((100 * done) / total))} %)` : '';
  return `frame ${done}${of}, ${rate.toFixed(1)} frames/s${left}   `;
}

/** `cvcore analyze`: decode -> detect -> track over a whole video, tracks out in MOTChallenge format. */
export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'decode, detect and track a whole video; write its tracks in MOTChallenge format',
  usage: USAGE,
  async run(args) {
    try {
      const { values } = parseArgs({
        args, strict: true,
        options: {
          input: { type: 'string' }, 'out-mot': { type: 'string' }, classes: { type: 'string', default: 'person' },
          'max-frames': { type: 'string' }, workers: { type: 'string' }, backend: { type: 'string' }, fps: { type: 'string' },
          transport: { type: 'string', default: 'tcp' },
        },
      });
      if (!values.input || !values['out-mot']) {
        process.stderr.write(`usage: ${USAGE}\n`);
        return 2;
      }
      const classes = values.classes.split(',').map((c) => c.trim());
      const bad = classes.find((c) => !(OBJECT_CLASSES as readonly string[]).includes(c));
      if (bad !== undefined) throw new ConfigError('CONFIG_INVALID_VALUE', `--classes: "${bad}" is not one of ${OBJECT_CLASSES.join(', ')}`, { detail: { path: '--classes' } });
      if (values.backend !== undefined && !(BACKENDS as readonly string[]).includes(values.backend)) {
        throw new ConfigError('CONFIG_INVALID_VALUE', `--backend: must be one of ${BACKENDS.join(', ')}`, { detail: { path: '--backend' } });
      }
      const maxFrames = values['max-frames'] === undefined ? undefined : Number(values['max-frames']);
      if (maxFrames !== undefined && (!Number.isInteger(maxFrames) || maxFrames < 1)) throw new RangeError('--max-frames must be a positive integer');
      const workers = values.workers === undefined ? undefined : Number(values.workers);
      if (workers !== undefined && (!Number.isInteger(workers) || workers < 1 || workers > 64)) throw new RangeError('--workers must be an integer from 1 to 64');
      const fps = values.fps === undefined ? undefined : Number(values.fps);
      if (fps !== undefined && !(fps > 0 && fps <= 60)) {
        throw new ConfigError('CONFIG_INVALID_VALUE', `--fps: must be a number of frames per second above 0 and at most 60, got "${values.fps}"`, { detail: { path: '--fps' } });
      }
      const transport = values.transport === 'udp' ? 'udp' : 'tcp';
      const tty = process.stderr.isTTY;
      const started = Date.now();
      const result = await analyzeVideo({
        input: values.input, classes: classes as ObjectClass[], transport,
        ...(workers !== undefined ? { workers } : {}),
        ...(fps !== undefined ? { fps } : {}),
        ...(maxFrames !== undefined ? { maxFrames } : {}),
        ...(values.backend ? { backend: values.backend as (typeof BACKENDS)[number] } : {}),
        onFrame: (n, total) => { if (tty && n % 10 === 0) process.stderr.write(`\r${progressLine(n, maxFrames ?? total, Date.now() - started)}`); },
      });
      await writeFile(values['out-mot'], formatMot(result.rows));
      const ids = new Set(result.rows.map((r) => r.id)).size;
      const rate = fps !== undefined ? `, ${result.analysed} detected at ${fps} fps` : '';
      process.stderr.write(`${tty ? '\n' : ''}${result.frames} frames (${result.width}x${result.height})${rate}, ${result.rows.length} boxes in ${ids} tracks -> ${values['out-mot']}\n`);
      return 0;
    } catch (err) {
      return reportError(err);
    }
  },
};
