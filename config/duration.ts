/**
 * Durations in the config (alarm windows, gaps, cooldowns): `'30s'`, `'10m'`, `'2h'`, `'7d'`, `'250ms'`, or a
 * whole number of milliseconds (a number, or digits in a string). One parser, so every duration reads the same.
 */
import { ConfigError } from '../common/errors.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** What the config's duration fields accept (the schema's pattern). */
export const DURATION_PATTERN = /^(\d{1,12})(ms|s|m|h|d)?$/;

export type Duration = string | number;

/** Milliseconds of a duration; CONFIG_INVALID_VALUE naming `path` when it is not one. */
export function parseDuration(value: Duration, path = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0) return value;
  } else {
    const m = DURATION_PATTERN.exec(value.trim());
    if (m) return Number(m[1]) * UNIT_MS[(m[2] ?? 'ms') as keyof typeof UNIT_MS];
  }
  throw new ConfigError('CONFIG_INVALID_VALUE', `${path}: not a duration (use e.g. '30s', '10m', '2h', '7d' or whole milliseconds), got ${JSON.stringify(value)}`, { detail: { path } });
}
