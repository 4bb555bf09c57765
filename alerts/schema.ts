import { AlertError } from '../common/errors.js';
import { ALERT_PHASES, SEVERITIES, type AlertPhase, type CrowdAlertV1, type Severity } from '../common/messages.js';

/**
 * Crowd alert, schema v1: what subscribers receive on citybrain.alerts.crowd.<district>.<camera>.<zone>.
 * The interface lives in common/messages.ts (the API names it without importing this stage); it is
 * re-exported here. alerts/schema/crowd-alert.v1.json is the same contract as a JSON Schema for subscribers in
 * other languages; a test keeps the two in step. Times are milliseconds since the Unix epoch (UTC).
 */
export type { CrowdAlertV1 };
export const ALERT_SCHEMA_VERSION: CrowdAlertV1['schemaVersion'] = 1;

/** Field order of the wire format; the JSON Schema lists the same fields as required. */
export const ALERT_V1_FIELDS = [
  'schemaVersion', 'kind', 'id', 'messageId', 'seq', 'phase', 'district', 'camera', 'zone', 'location', 'count',
  'threshold', 'density', 'windowMs', 'severity', 'startedAt', 'at', 'emittedAt', 'publishedAt', 'evidence',
  'snapshotRef', 'node',
] as const;

const MAX_STRING = 256;
const MAX_EVIDENCE = 10_000;

function fail(path: string, why: string, value: unknown): never {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value === 'number' ? String(value) : typeof value;
  throw new AlertError('ALERT_INVALID_EVENT', `alert.${path} ${why} (got ${shown})`, { detail: { path } });
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_STRING) fail(k, `must be a string of 1..${MAX_STRING} characters`, v);
  return v;
}
function num(o: Record<string, unknown>, k: string, min: number, integer = false): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    fail(k, `must be a finite ${integer ? 'integer' : 'number'} >= ${min}`, v);
  }
  return v;
}

/**
 * Checks an unknown value against schema v1 and returns it typed. Unknown keys are rejected, so a producer bug
 * that adds a field shows up here rather than at a subscriber. Throws AlertError ALERT_INVALID_EVENT naming the path.
 */
export function validateAlert(a: unknown): CrowdAlertV1 {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) fail('', 'must be an object', a);
  const o = a as Record<string, unknown>;
  const known = new Set<string>(ALERT_V1_FIELDS);
  for (const k of Object.keys(o)) if (!known.has(k)) fail(k, 'is not a field of schema v1', o[k]);
  for (const k of ALERT_V1_FIELDS) if (!(k in o)) fail(k, 'is required', undefined);
  if (o['schemaVersion'] !== ALERT_SCHEMA_VERSION) fail('schemaVersion', `must be ${ALERT_SCHEMA_VERSION}`, o['schemaVersion']);
  if (o['kind'] !== 'crowd') fail('kind', 'must be "crowd"', o['kind']);
  str(o, 'id'); str(o, 'messageId'); str(o, 'district'); str(o, 'camera'); str(o, 'zone'); str(o, 'node');
  num(o, 'seq', 1, true);
  if (!Object.values(ALERT_PHASES).includes(o['phase'] as AlertPhase)) fail('phase', `must be one of ${Object.values(ALERT_PHASES).join(', ')}`, o['phase']);
  if (!SEVERITIES.includes(o['severity'] as Severity)) fail('severity', `must be one of ${SEVERITIES.join(', ')}`, o['severity']);
  const loc = o['location'];
  if (loc !== null) {
    if (typeof loc !== 'object' || Array.isArray(loc)) fail('location', 'must be {lat, lon} or null', loc);
    const l = loc as Record<string, unknown>;
    if (Object.keys(l).some((k) => k !== 'lat' && k !== 'lon')) fail('location', 'must have only lat and lon', loc);
    const lat = num(l, 'lat', -90);
    const lon = num(l, 'lon', -180);
    if (lat > 90) fail('location.lat', 'must be <= 90', lat);
    if (lon > 180) fail('location.lon', 'must be <= 180', lon);
  }
  num(o, 'count', 0, true);
  num(o, 'threshold', 1, true);
  if (o['density'] !== null) num(o, 'density', 0);
  num(o, 'windowMs', 0, true);
  const startedAt = num(o, 'startedAt', 0, true);
  const at = num(o, 'at', 0, true);
  if (at < startedAt) fail('at', 'must not be before startedAt', at);
  num(o, 'emittedAt', 0, true);
  if (o['publishedAt'] !== null) num(o, 'publishedAt', 0, true);
  const ev = o['evidence'];
  if (!Array.isArray(ev) || ev.length > MAX_EVIDENCE) fail('evidence', `must be an array of at most ${MAX_EVIDENCE} counts`, ev);
  ev.forEach((c: unknown, i: number) => {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) fail(`evidence[${i}]`, 'must be a non-negative integer', c);
  });
  if (o['snapshotRef'] !== null) str(o, 'snapshotRef');
  return o as unknown as CrowdAlertV1;
}
