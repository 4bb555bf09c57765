import type { AlarmKind } from '../common/alarm-schemas.js';

/**
 * Subject layout. Alerts (durable, JetStream): citybrain.alerts.crowd.<district>.<camera>.<zone> and, for the
 * other alarm kinds, citybrain.alerts.<kind>.<district>.<camera> (watchlist, frequency, stranger).
 * Events (best effort, core NATS): citybrain.events.<kind>.<tokens...>, e.g. zone_count.<district>.<camera>.<zone>
 * and stream_health.<district>.<camera>. nats.conf's permissions are written against these two roots.
 */
export const SUBJECT_ROOT = 'citybrain';
export const ALERT_SUBJECT_PREFIX = `${SUBJECT_ROOT}.alerts.crowd`;
/** What the stream captures and what subscribers filter on. */
export const ALERT_SUBJECTS = `${SUBJECT_ROOT}.alerts.>`;
export const EVENT_SUBJECTS = `${SUBJECT_ROOT}.events.>`;
/**
 * Schema v2 (crowd alerts with a clear reason) lives in a tree of its own, captured by a stream of its own
 * (CITYBRAIN_ALERTS_V2): nothing a v1 subscriber reads changes, filtered or not. citybrain.v2.alerts.crowd.<district>.<camera>.<zone>.
 */
export const ALERT_V2_PREFIX = `${SUBJECT_ROOT}.v2.alerts`;
export const ALERT_V2_SUBJECTS = `${ALERT_V2_PREFIX}.>`;
export const EVENT_KINDS = { zoneCount: 'zone_count', streamHealth: 'stream_health' } as const;
export type EventKind = (typeof EVENT_KINDS)[keyof typeof EVENT_KINDS];

/** A token never longer than this: subjects stay short for the server's matching and for humans reading logs. */
const MAX_TOKEN = 64;

/**
 * Makes one subject token from a free-form name (camera ids, zone names, districts come from config).
 * Dots would split a token in two, `*` and `>` are wildcards, whitespace ends a subject in the protocol; each of
 * these and any control character becomes `_`. Distinct names can collide (`a.b` and `a_b`), so config ids
 * should already be subject-safe; this only guarantees a well-formed subject.
 */
export function sanitizeToken(raw: string): string {
  const t = raw.replace(/[.*>\s\u0000-\u001f\u007f$]/gu, '_').slice(0, MAX_TOKEN);
  return t.length === 0 ? '_' : t;
}

export function alertSubject(district: string, camera: string, zone: string): string {
  return `${ALERT_SUBJECT_PREFIX}.${sanitizeToken(district)}.${sanitizeToken(camera)}.${sanitizeToken(zone)}`;
}

/** A crowd alert of schema v2: citybrain.v2.alerts.crowd.<district>.<camera>.<zone>. */
export function alertV2Subject(district: string, camera: string, zone: string): string {
  return `${ALERT_V2_PREFIX}.crowd.${sanitizeToken(district)}.${sanitizeToken(camera)}.${sanitizeToken(zone)}`;
}

/** A watch-list, frequency or stranger alarm: citybrain.alerts.<kind>.<district>.<camera>. */
export function alarmSubject(kind: AlarmKind, district: string, camera: string): string {
  return `${SUBJECT_ROOT}.alerts.${kind}.${sanitizeToken(district)}.${sanitizeToken(camera)}`;
}

/** What a subscriber filters on to get one kind: citybrain.alerts.<kind>.> */
export function alertKindFilter(kind: string): string {
  return `${SUBJECT_ROOT}.alerts.${sanitizeToken(kind)}.>`;
}

export function eventSubject(kind: EventKind, tokens: readonly string[]): string {
  if (tokens.length === 0) throw new RangeError('tokens must name at least one subject token');
  return `${SUBJECT_ROOT}.events.${kind}.${tokens.map(sanitizeToken).join('.')}`;
}
