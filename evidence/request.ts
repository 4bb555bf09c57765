/**
 * An export request as the API receives it, checked field by field: tracks and alarms (up to maxTracks ids
 * each), cameras (1..maxCameras) with a range no longer than maxRangeMs, or any mix of them. Every refusal is EVIDENCE_BAD_REQUEST naming
 * the field.
 */
import { EvidenceError } from '../common/errors.js';
import type { ExportLimits } from './store.js';

export interface ExportRequest {
  readonly trackIds: readonly string[];
  readonly alarmIds: readonly string[];
  readonly cameras: readonly string[];
  /** Present exactly when cameras are. */
  readonly from: number | null;
  readonly to: number | null;
  readonly note: string | null;
}

/** Video kept before a track's first and after its last moment. */
export const TRACK_CLIP_MARGIN_MS = 3_000;
/** Video kept either side of the moment an alarm was decided (the frame behind it is in the middle). */
export const ALARM_CLIP_MARGIN_MS = 5_000;
export const MAX_NOTE_CHARS = 1000;

const bad = (field: string, why: string): never => {
  throw new EvidenceError('EVIDENCE_BAD_REQUEST', `${field}: ${why}`, { detail: { field } });
};

function ids(v: unknown, field: string, max: number): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return bad(field, 'an array of ids');
  if (v.length > max) bad(field, `at most ${max} in one export (got ${v.length})`);
  const out: string[] = [];
  v.forEach((x, i) => {
    if (typeof x !== 'string' || x.length === 0 || x.length > 256) bad(`${field}[${i}]`, 'an id of 1 to 256 characters');
    if (!out.includes(x as string)) out.push(x as string);
  });
  return out;
}

function time(v: unknown, field: string): number | null {
  if (v === undefined || v === null) return null;
  const t = typeof v === 'string' ? (/^\d+$/.test(v) ? Number(v) : Date.parse(v)) : v;
  if (typeof t !== 'number' || !Number.isFinite(t) || !Number.isInteger(t) || t < 0) return bad(field, `epoch ms or an ISO time (got ${JSON.stringify(v)})`);
  return t;
}

export function parseExportRequest(body: unknown, limits: ExportLimits): ExportRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return bad('body', 'a JSON object with trackIds, alarmIds, or cameras with from and to');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['trackIds', 'alarmIds', 'cameras', 'from', 'to', 'note'].includes(k)) bad(k, 'unknown field (trackIds, alarmIds, cameras, from, to, note)');
  const trackIds = ids(b['trackIds'], 'trackIds', limits.maxTracks);
  const alarmIds = ids(b['alarmIds'], 'alarmIds', limits.maxTracks);
  const cameras = ids(b['cameras'], 'cameras', limits.maxCameras);
  const from = time(b['from'], 'from');
  const to = time(b['to'], 'to');
  const note = b['note'] === undefined || b['note'] === null ? null : typeof b['note'] === 'string' ? b['note'] : bad('note', 'a string');
  if (note !== null && note.length > MAX_NOTE_CHARS) bad('note', `at most ${MAX_NOTE_CHARS} characters`);
  if (trackIds.length === 0 && alarmIds.length === 0 && cameras.length === 0) bad('trackIds', 'name at least one track or alarm, or cameras with from and to');
  if (cameras.length > 0) {
    if (from === null) bad('from', 'required with cameras');
    if (to === null) bad('to', 'required with cameras');
    if (from! >= to!) bad('to', `must be after from (${from} >= ${to})`);
    if (to! - from! > limits.maxRangeMs) bad('to', `the range is ${to! - from!} ms, over the limit of ${limits.maxRangeMs} ms (config exports.maxRangeMs)`);
  } else if (from !== null || to !== null) {
    bad(from !== null ? 'from' : 'to', 'a range applies to cameras: name them');
  }
  return { trackIds, alarmIds, cameras, from, to, note };
}

/** A safe zip path segment for an id: letters, digits, '.', '_' and '-' kept, every other byte as %XX. */
export function fileSegment(id: string): string {
  const out = Array.from(Buffer.from(id, 'utf8'), (b) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9._-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
  // '.' and '..' alone are path segments of their own.
  return out.replace(/^\.+$/, (dots) => dots.replace(/\./g, '%2E'));
}
