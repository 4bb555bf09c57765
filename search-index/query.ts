/**
 * Validation of user-supplied search input. Anything an investigator's client sends passes through here;
 * errors are IndexError INDEX_BAD_QUERY with `detail.field` naming the offending path.
 */
import { IndexError } from '../common/errors.js';
import { VEHICLE_COLOURS } from '../common/colours.js';
import { OBJECT_CLASSES, type ObjectClass } from '../common/messages.js';
import { PLATE_ALPHABET, PLATE_COLOURS, canonicalPlate } from '../common/plates.js';
import { MAX_TIME, SEP } from './keys.js';
import { ATTRIBUTE_NAMES, type AttributeName, type FaceSearchOptions, type SearchQuery } from './types.js';

export const QUERY_LIMITS = {
  defaultLimit: 50,
  maxLimit: 500,
  maxCameras: 1000,
  maxValueLength: 128,
  defaultK: 10,
  maxK: 500,
  /** Characters of a plate pattern, wildcards included (the longest plate has 8). */
  maxPlateLength: 16,
} as const;

const QUERY_KEYS = ['cameraIds', 'classes', 'from', 'to', 'attributes', 'plate', 'plateFuzzy', 'limit', 'cursor'] as const;

/** Attributes whose values come from a closed list; the others are free strings. */
const ATTRIBUTE_VALUES: Partial<Record<AttributeName, readonly string[]>> = {
  plateColour: PLATE_COLOURS,
  upperColour: VEHICLE_COLOURS,
  lowerColour: VEHICLE_COLOURS,
};

const PLATE_CHARS = new Set([...PLATE_ALPHABET, '*', '?']);

/**
 * A plate pattern in canonical form (separators dropped, upper case, O->0, I->1), runs of `*` collapsed.
 * Rejected: characters outside the plate alphabet, empty, or wildcards only (that would list every plate).
 */
export function parsePlatePattern(v: unknown, field = 'plate'): string {
  if (typeof v !== 'string') throw bad(field, 'must be a string');
  const p = canonicalPlate(v).replace(/\*+/g, '*');
  const chars = [...p];
  if (chars.length === 0) throw bad(field, 'must not be empty');
  if (chars.length > QUERY_LIMITS.maxPlateLength) throw bad(field, `must be at most ${QUERY_LIMITS.maxPlateLength} characters`);
  const wrong = chars.find((c) => !PLATE_CHARS.has(c));
  if (wrong !== undefined) throw bad(field, `holds ${JSON.stringify(wrong)}, which no plate holds (wildcards: * and ?)`);
  if (chars.every((c) => c === '*' || c === '?')) throw bad(field, 'must hold at least one plate character besides wildcards');
  return p;
}

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

function bad(field: string, why: string): IndexError {
  return new IndexError('INDEX_BAD_QUERY', `${field} ${why}`, { detail: { field } });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function checkString(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > QUERY_LIMITS.maxValueLength || v.includes(SEP)) {
    throw bad(field, `must be a non-empty string of at most ${QUERY_LIMITS.maxValueLength} characters`);
  }
  return v;
}

function checkTime(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TIME) throw bad(field, 'must be an integer time in ms since the epoch');
  return v;
}

function checkCameras(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > QUERY_LIMITS.maxCameras) {
    throw bad(field, `must be a non-empty array of at most ${QUERY_LIMITS.maxCameras} camera ids`);
  }
  return [...new Set(v.map((c, i) => checkString(c, `${field}[${i}]`)))];
}

function checkUnknownKeys(o: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(path + k, 'is not a known field');
}

export function parseQuery(input: unknown): SearchQuery {
  if (!isPlainObject(input)) throw bad('query', 'must be an object');
  checkUnknownKeys(input, QUERY_KEYS, '');
  const q: SearchQuery = {};
  if (input['cameraIds'] !== undefined) q.cameraIds = checkCameras(input['cameraIds'], 'cameraIds');
  if (input['classes'] !== undefined) {
    const v = input['classes'];
    if (!Array.isArray(v) || v.length === 0) throw bad('classes', 'must be a non-empty array');
    q.classes = [...new Set(v.map((c, i): ObjectClass => {
      if (!(OBJECT_CLASSES as readonly unknown[]).includes(c)) throw bad(`classes[${i}]`, `must be one of ${OBJECT_CLASSES.join(', ')}`);
      return c as ObjectClass;
    }))];
  }
  if (input['from'] !== undefined) q.from = checkTime(input['from'], 'from');
  if (input['to'] !== undefined) q.to = checkTime(input['to'], 'to');
  if (q.from !== undefined && q.to !== undefined && q.from > q.to) throw bad('from', 'must not be after to');
  if (input['attributes'] !== undefined) {
    const a = input['attributes'];
    if (!isPlainObject(a)) throw bad('attributes', 'must be an object');
    checkUnknownKeys(a, ATTRIBUTE_NAMES, 'attributes.');
    const attrs: NonNullable<SearchQuery['attributes']> = {};
    for (const name of ATTRIBUTE_NAMES) {
      if (a[name] === undefined) continue;
      const v = checkString(a[name], `attributes.${name}`);
      const allowed = ATTRIBUTE_VALUES[name];
      if (allowed && !allowed.includes(v)) throw bad(`attributes.${name}`, `must be one of ${allowed.join(', ')}`);
      attrs[name] = v;
    }
    q.attributes = attrs;
  }
  if (input['plate'] !== undefined) q.plate = parsePlatePattern(input['plate']);
  if (input['plateFuzzy'] !== undefined) {
    const f = input['plateFuzzy'];
    if (typeof f !== 'boolean') throw bad('plateFuzzy', 'must be a boolean');
    if (q.plate === undefined) throw bad('plateFuzzy', 'needs a plate');
    if (f && hasWildcard(q.plate)) throw bad('plateFuzzy', 'cannot be used with a wildcard plate');
    q.plateFuzzy = f;
  }
  if (input['limit'] !== undefined) {
    const l = input['limit'];
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 1 || l > QUERY_LIMITS.maxLimit) throw bad('limit', `must be an integer in 1..${QUERY_LIMITS.maxLimit}`);
    q.limit = l;
  }
  if (input['cursor'] !== undefined) {
    if (typeof input['cursor'] !== 'string' || !/^[A-Za-z0-9_-]{1,8192}$/.test(input['cursor'])) throw bad('cursor', 'is not a cursor this index issued');
    // Its content is checked by the index that issued it (a local index's and a cluster's cursors differ).
    q.cursor = input['cursor'];
  }
  return q;
}

const FACE_KEYS = ['k', 'from', 'to', 'cameraIds'] as const;

/** The same rules for face-search options (the embedding itself is checked by the index). */
export function parseFaceOptions(input: unknown): FaceSearchOptions {
  if (!isPlainObject(input)) throw bad('options', 'must be an object');
  checkUnknownKeys(input, FACE_KEYS, '');
  const o: FaceSearchOptions = {};
  if (input['k'] !== undefined) {
    const k = input['k'];
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > QUERY_LIMITS.maxK) throw bad('k', `must be an integer in 1..${QUERY_LIMITS.maxK}`);
    o.k = k;
  }
  if (input['from'] !== undefined) o.from = checkTime(input['from'], 'from');
  if (input['to'] !== undefined) o.to = checkTime(input['to'], 'to');
  if (o.from !== undefined && o.to !== undefined && o.from > o.to) throw bad('from', 'must not be after to');
  if (input['cameraIds'] !== undefined) o.cameraIds = checkCameras(input['cameraIds'], 'cameraIds');
  return o;
}
