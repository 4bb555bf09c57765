import type { Command } from '../command.js';
import { reportError } from '../run.js';

/** Each benchmark lives in bench/<kind>.ts and is loaded only when asked for. */
const KINDS: Readonly<Record<string, { summary: string; load(): Promise<(args: string[]) => Promise<number>> }>> = {
  tracker: { summary: 'tracker updates per second at 50, 200 and 1000 objects per frame', load: async () => (await import('../../bench/tracker.js')).benchTracker },
};

export const benchCommand: Command = {
  name: 'bench',
  summary: 'benchmarks, as ratios against the bare tools measured in the same run',
  get usage(): string {
    return `cvcore bench <kind> [options] [--json]\n${Object.entries(KINDS).map(([k, v]) => `  ${k.padEnd(10)} ${v.summary}`).join('\n')}`;
  },
  async run(args) {
    const [kind, ...rest] = args;
    const entry = kind ? KINDS[kind] : undefined;
    if (!entry) {
      process.stderr.write(`usage: ${this.usage}\n`);
      return 2;
    }
    try {
      return await (await entry.load())(rest);
    } catch (err) {
      return reportError(err);
    }
  },
};
