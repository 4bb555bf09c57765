import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { TSchema } from '@sinclair/typebox';
import { AlertError } from '../common/errors.js';
import {
  ALARM_KINDS, ALERT_KINDS, ALERT_SCHEMAS, ALERT_SCHEMAS_V2, CrowdAlertV1Schema,
  type AlarmKind, type AlarmV1, type AlertKind, type CrowdAlertV1, type CrowdAlertV2, type FrequencyAlarmV1, type StrangerAlarmV1,
  type WatchlistAlarmV1, type WireAlertV1,
} from '../common/alarm-schemas.js';

/**
 * Validation of every alarm kind on the wire against its schema (common/alarm-schemas.ts), with Ajv. Each schema
 * is compiled once, at load. The JSON Schema files in alerts/schema/ are generated from the same objects
 * (`cvcore alerts schemas`), so the validator, the TypeScript types and the files subscribers read cannot drift.
 */
export type { CrowdAlertV1, CrowdAlertV2 };
export const ALERT_SCHEMA_VERSION: CrowdAlertV1['schemaVersion'] = 1;

/** Field order of the crowd wire format: the schema's properties, all of them required. */
export const ALERT_V1_FIELDS = Object.freeze(Object.keys(CrowdAlertV1Schema.properties)) as readonly (keyof CrowdAlertV1)[];

// strict: a keyword Ajv does not know, or a type it would have to guess, is a schema bug and fails at load.
const ajv = new Ajv2020({ allErrors: false, strict: true });
const compiled = new Map<AlertKind, ValidateFunction>(
  ALERT_KINDS.map((kind) => [kind, ajv.compile(ALERT_SCHEMAS[kind].schema as TSchema)]),
);
const crowdV2 = ajv.compile(ALERT_SCHEMAS_V2.crowd.schema as TSchema);

/** `/appearances/0/similarity` -> `appearances[0].similarity`, the notation the errors have always used. */
function dottedPath(pointer: string, extra: string | undefined): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out.length === 0 ? p : `.${p}`;
  return out;
}

function valueAt(data: unknown, pointer: string): unknown {
  let v = data;
  for (const p of pointer.split('/').slice(1)) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 80));
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : typeof value;
}

function fail(prefix: string, path: string, why: string, value: unknown, kind: string): never {
  throw new AlertError('ALERT_INVALID_EVENT', `${prefix}${path.length > 0 ? `.${path}` : ''} ${why} (got ${shown(value)})`, { detail: { path, kind } });
}

/**
 * Turns Ajv's first failure into the error callers see. With a nullable field Ajv reports each branch of the union
 * and then the union itself; the deepest path is the one that says what is wrong (`location.lat`, not `location`).
 */
function reject(prefix: string, kind: string, data: unknown, errors: readonly ErrorObject[]): never {
  let best: { e: ErrorObject; path: string; depth: number } | null = null;
  for (const e of errors) {
    const extra = e.keyword === 'required' ? String(e.params['missingProperty'])
      : e.keyword === 'additionalProperties' ? String(e.params['additionalProperty']) : undefined;
    const path = dottedPath(e.instancePath, extra);
    const depth = e.instancePath.split('/').length + (extra === undefined ? 0 : 1);
    if (best === null || depth > best.depth) best = { e, path, depth };
  }
  if (best === null) fail(prefix, '', 'does not match its schema', data, kind);
  const { e, path } = best;
  if (e.keyword === 'required') fail(prefix, path, 'is required', undefined, kind);
  if (e.keyword === 'additionalProperties') fail(prefix, path, `is not a field of schema v${kind === 'crowd-v2' ? 2 : 1}`, valueAt(data, e.instancePath + '/' + path.split('.').at(-1)), kind);
  const why = e.keyword === 'enum' ? `must be one of ${(e.params['allowedValues'] as unknown[]).join(', ')}`
    : e.keyword === 'const' ? `must be ${JSON.stringify(e.params['allowedValue'])}` : e.message ?? 'is invalid';
  fail(prefix, path, why, valueAt(data, e.instancePath), kind);
}

function check(kind: AlertKind, value: unknown, prefix: string): void {
  const validate = compiled.get(kind);
  if (validate === undefined) throw new TypeError(`no schema for alert kind ${kind}`);
  if (!validate(value)) reject(prefix, kind, value, validate.errors ?? []);
}

/**
 * Checks an unknown value against the crowd alert schema v1 and returns it typed. Unknown keys are rejected.
 * Throws AlertError ALERT_INVALID_EVENT naming the path (`detail.path`).
 */
export function validateAlert(a: unknown): CrowdAlertV1 {
  check('crowd', a, 'alert');
  const o = a as CrowdAlertV1;
  // What a JSON Schema cannot say: the phase is decided after the incident began.
  if (o.at < o.startedAt) fail('alert', 'at', 'must not be before startedAt', o.at, 'crowd');
  return o;
}

/**
 * Checks an unknown value against the crowd alert schema v2 (v1 and `clearReason`) and returns it typed. Besides
 * the schema: `at` not before `startedAt`, and a clear has a reason while a raise or update has none.
 * Throws AlertError ALERT_INVALID_EVENT naming the path (`detail.kind` is `crowd-v2`).
 */
export function validateAlertV2(a: unknown): CrowdAlertV2 {
  if (!crowdV2(a)) reject('alert', 'crowd-v2', a, crowdV2.errors ?? []);
  const o = a as CrowdAlertV2;
  if (o.at < o.startedAt) fail('alert', 'at', 'must not be before startedAt', o.at, 'crowd-v2');
  if (o.phase === 'cleared' && o.clearReason === null) fail('alert', 'clearReason', 'is required on a clear', null, 'crowd-v2');
  if (o.phase !== 'cleared' && o.clearReason !== null) fail('alert', 'clearReason', 'must be null unless the phase is cleared', o.clearReason, 'crowd-v2');
  return o;
}

type AlarmOf<K extends AlarmKind> = Extract<AlarmV1, { kind: K }>;

/**
 * Checks an unknown value against the schema of `kind` (watchlist, frequency, stranger) and returns it typed.
 * Throws AlertError ALERT_INVALID_EVENT naming the path (`detail.path`), a wrong kind included.
 */
export function validateAlarm<K extends AlarmKind>(kind: K, value: unknown): AlarmOf<K> {
  if (!(ALARM_KINDS as readonly string[]).includes(kind)) throw new TypeError(`kind must be one of ${ALARM_KINDS.join(', ')}`);
  // The kind first: an alarm of another kind would otherwise be reported by the first field it lacks.
  const got = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  if (got !== undefined && got !== kind) fail('alarm', 'kind', `must be ${JSON.stringify(kind)}`, got, kind);
  check(kind, value, 'alarm');
  const a = value as AlarmV1;
  // Cross-field rules the schemas do not say (they keep the derived types plain).
  if (a.kind === 'watchlist') checkWatchlist(a);
  else if (a.kind === 'frequency') checkFrequency(a);
  else checkStranger(a);
  return a as AlarmOf<K>;
}

function checkWatchlist(a: WatchlistAlarmV1): void {
  const f = (path: string, why: string, v: unknown): never => fail('alarm', path, why, v, 'watchlist');
  if (a.entryKind === 'face') {
    if (a.similarity === null) f('similarity', 'is required for a face entry', null);
    if (a.threshold === null) f('threshold', 'is required for a face entry', null);
    if (a.plate !== null) f('plate', 'must be null for a face entry', a.plate);
    if (a.plateEdits !== null) f('plateEdits', 'must be null for a face entry', a.plateEdits);
  } else {
    if (a.plate === null) f('plate', 'is required for a plate entry', null);
    if (a.plateEdits === null) f('plateEdits', 'is required for a plate entry', null);
    if (a.similarity !== null) f('similarity', 'must be null for a plate entry', a.similarity);
  }
  if (a.matchedFrameAt < a.firstSeenAt) f('matchedFrameAt', 'must not be before firstSeenAt', a.matchedFrameAt);
}

function checkFrequency(a: FrequencyAlarmV1): void {
  if (a.count < a.minCount) fail('alarm', 'count', `must not be below minCount (${a.minCount})`, a.count, 'frequency');
}

function checkStranger(a: StrangerAlarmV1): void {
  if (a.reason === 'no_face' && a.similarity !== null) fail('alarm', 'similarity', 'must be null when reason is no_face', a.similarity, 'stranger');
}

export function isAlarmKind(kind: unknown): kind is AlarmKind {
  return (ALARM_KINDS as readonly unknown[]).includes(kind);
}

/**
 * For readers of the whole stream (`cvcore alerts tail`): validates a message by its own `kind`. A kind this
 * version does not know (a newer producer's) gives null, so the caller can show it raw instead of failing;
 * a known kind that does not match its schema throws ALERT_INVALID_EVENT.
 */
export function validateWireAlert(value: unknown): WireAlertV1 | null {
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  if (kind === 'crowd') return validateAlert(value);
  if (isAlarmKind(kind)) return validateAlarm(kind, value);
  return null;
}

/**
 * As validateWireAlert, for a reader of either stream (`cvcore alerts tail --subject 'citybrain.v2.alerts.>'`):
 * a crowd alert with `schemaVersion` 2 is checked against v2, anything else as validateWireAlert does.
 */
export function validateAnyWireAlert(value: unknown): WireAlertV1 | CrowdAlertV2 | null {
  const o = typeof value === 'object' && value !== null ? (value as { kind?: unknown; schemaVersion?: unknown }) : null;
  if (o?.kind === 'crowd' && o.schemaVersion === 2) return validateAlertV2(value);
  return validateWireAlert(value);
}

/**
 * The JSON Schema files, as `cvcore alerts schemas` writes them: file name -> text (2-space JSON and a newline).
 * JSON.stringify drops TypeBox's symbol-keyed bookkeeping, leaving plain JSON Schema.
 */
export function renderAlertSchemas(): Array<{ file: string; text: string }> {
  return [
    ...ALERT_KINDS.map((kind) => ({ file: ALERT_SCHEMAS[kind].file, text: `${JSON.stringify(ALERT_SCHEMAS[kind].schema, null, 2)}\n` })),
    { file: ALERT_SCHEMAS_V2.crowd.file, text: `${JSON.stringify(ALERT_SCHEMAS_V2.crowd.schema, null, 2)}\n` },
  ];
}
