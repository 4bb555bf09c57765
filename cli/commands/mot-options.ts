import { ConfigError } from '../../common/errors.js';

/** `--every K` of the MOT commands: a positive integer, 1 when absent. */
export function parseEvery(value: string | undefined): number {
  if (value === undefined) return 1;
  const every = Number(value);
  if (!Number.isInteger(every) || every < 1) {
    throw new ConfigError('CONFIG_INVALID_VALUE', `--every: must be a positive integer (analyse every k-th frame), got "${value}"`, { detail: { path: '--every' } });
  }
  return every;
}
