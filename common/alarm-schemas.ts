import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ALERT_PHASES, CLEAR_REASONS, SEVERITIES, type AlertPhase, type ClearReason, type Severity } from './messages.js';

/**
 * The wire contract of every alarm kind that goes to the city brain: crowd, watch-list, frequency, stranger.
 * One schema language for all of them: each kind is a TypeBox schema here; its TypeScript type is derived with
 * Static<>, alerts/schema.ts compiles it with Ajv to validate, and `cvcore alerts schemas` writes it as the JSON
 * Schema file subscribers in other languages read (alerts/schema/*.json, generated, never edited by hand).
 * Times are milliseconds since the Unix epoch (UTC). Every object forbids unknown fields, so a producer bug that
 * adds one shows up at the producer rather than at a subscriber.
 *
 * Only type imports and plain constants come from messages.ts (which re-exports CrowdAlertV1 from here as a
 * type), so the two modules do not form a runtime cycle.
 */

export const ALARM_SCHEMA_DRAFT = 'https://json-schema.org/draft/2020-12/schema';
const ID_BASE = 'https://cvcore.example/schema/';
const MAX_STRING = 256;

/** A string enum as JSON Schema's `enum` (TypeBox's own unions of literals become anyOf, which reads worse). */
function StringEnum<const T extends readonly string[]>(values: T, description?: string) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description === undefined ? {} : { description }) });
}
const Name = (description?: string) => Type.String({ minLength: 1, maxLength: MAX_STRING, ...(description === undefined ? {} : { description }) });
const Millis = (description: string) => Type.Integer({ minimum: 0, description });
const Nullable = <T extends TSchema>(schema: T, description?: string) =>
  Type.Union([schema, Type.Null()], description === undefined ? {} : { description });
/** Cosine similarity of two face embeddings. */
const Similarity = (description: string) => Type.Number({ minimum: -1, maximum: 1, description });
/** A face threshold: a similarity at or above it is a match. */
const Threshold = (description: string) => Type.Number({ minimum: 0, maximum: 1, description });
const Location = Nullable(
  Type.Object({
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
  }, { additionalProperties: false }),
  'Where the camera is, from the camera config; null when not configured.',
);

// ---- crowd --------------------------------------------------------------------------------------------------

export const CrowdAlertV1Schema = Type.Object({
  schemaVersion: Type.Literal(1),
  kind: Type.Literal('crowd'),
  id: Name('Incident id, stable across raised, updated and cleared.'),
  messageId: Name('JetStream de-duplication id (Nats-Msg-Id); a subscriber may also de-duplicate on it.'),
  seq: Type.Integer({ minimum: 1, description: 'Per-message sequence of the producing node; strictly increasing per node, so per zone.' }),
  phase: StringEnum([ALERT_PHASES.raised, ALERT_PHASES.updated, ALERT_PHASES.cleared] as const),
  district: Name(),
  camera: Name(),
  zone: Name(),
  location: Location,
  count: Type.Integer({ minimum: 0, description: 'People in the zone at `at`.' }),
  threshold: Type.Integer({ minimum: 1 }),
  density: Nullable(Type.Number({ minimum: 0 }), 'People per square metre, where the zone\'s area is configured.'),
  windowMs: Type.Integer({ minimum: 0, description: 'The sustain window the rule used.' }),
  severity: StringEnum(SEVERITIES),
  startedAt: Millis('First sample of the sustained run.'),
  at: Millis('When this phase was decided; not before startedAt.'),
  emittedAt: Millis('When the alert entered the producer\'s durable outbox.'),
  publishedAt: Nullable(Type.Integer({ minimum: 0 }), 'When it was last sent to NATS (a republish after a restart sets a later time).'),
  evidence: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 10_000, description: 'Counts over the window that justified the decision.' }),
  snapshotRef: Nullable(Name(), 'Where the snapshot frame can be fetched, e.g. <camera>/<frameSeq>.'),
  node: Name('The producing node.'),
}, {
  $schema: ALARM_SCHEMA_DRAFT,
  $id: `${ID_BASE}crowd-alert.v1.json`,
  title: 'cvcore crowd alert, schema v1',
  description: 'Published on citybrain.alerts.crowd.<district>.<camera>.<zone> (JetStream stream CITYBRAIN_ALERTS, Nats-Msg-Id = messageId). Times are milliseconds since the Unix epoch, UTC.',
  additionalProperties: false,
});
/** Crowd alert, schema v1 (re-exported by common/messages.ts and alerts/). */
export type CrowdAlertV1 = Static<typeof CrowdAlertV1Schema>;

/**
 * Crowd alert, schema v2: v1's fields, `schemaVersion` 2, and `clearReason`. Published for every crowd decision
 * beside its v1 twin, on citybrain.v2.alerts.crowd.<district>.<camera>.<zone> in the stream CITYBRAIN_ALERTS_V2,
 * so a v1 subscriber (which rejects unknown fields) never meets it.
 */
const { schemaVersion: _v1, ...CROWD_V1_FIELDS } = CrowdAlertV1Schema.properties;
void _v1;
export const CrowdAlertV2Schema = Type.Object({
  schemaVersion: Type.Literal(2),
  ...CROWD_V1_FIELDS,
  clearReason: Nullable(StringEnum(CLEAR_REASONS),
    'Why the incident ended, on a clear (zone-empty: the count fell below the rule; camera-removed; camera-disabled; zone-removed: the zone left the camera\'s config; rule-changed: the zone is there without its crowd rule); null on a raise or update.'),
}, {
  $schema: ALARM_SCHEMA_DRAFT,
  $id: `${ID_BASE}crowd-alert.v2.json`,
  title: 'cvcore crowd alert, schema v2',
  description: 'Published on citybrain.v2.alerts.crowd.<district>.<camera>.<zone> (JetStream stream CITYBRAIN_ALERTS_V2, Nats-Msg-Id = messageId), beside the same decision in schema v1 on citybrain.alerts.crowd.<district>.<camera>.<zone>. v1 plus clearReason. Times are milliseconds since the Unix epoch, UTC.',
  additionalProperties: false,
});
export type CrowdAlertV2 = Static<typeof CrowdAlertV2Schema>;

// ---- the header of the non-crowd kinds ------------------------------------------------------------------------

/** Fields every non-crowd alarm carries besides its kind (same meaning as in the crowd alert). */
const HEADER = {
  id: Name('Alarm id: stable for one decision (the producer\'s outbox de-duplicates on it).'),
  messageId: Name('JetStream de-duplication id (Nats-Msg-Id): <node>:<kind>:<id>.'),
  seq: Type.Integer({ minimum: 1, description: 'The producing node\'s outbox sequence (strictly increasing per node).' }),
  district: Name(),
  camera: Name(),
  department: Name('The department the alarm belongs to (a watch-list alarm: the list\'s; the others: the camera\'s).'),
  location: Location,
  track: Name('The record id of the track that raised it: <camera>:<trackId>:<firstSeen>.'),
  at: Millis('When the decision was made.'),
  emittedAt: Millis('When the alarm entered the producer\'s durable outbox.'),
  publishedAt: Nullable(Type.Integer({ minimum: 0 }), 'When it was last sent to NATS (a republish after a restart sets a later time).'),
  snapshotRef: Nullable(Name(), 'API path of the frame behind the alarm (scoped and audited), or null.'),
  node: Name('The producing node.'),
};
const AlarmHeaderV1Schema = Type.Object({ schemaVersion: Type.Literal(1), ...HEADER }, { additionalProperties: false });
export type AlarmHeaderV1 = Static<typeof AlarmHeaderV1Schema>;

/** The header with the kind right after schemaVersion, as it reads on the wire. */
function header<K extends string>(kind: K) {
  return { schemaVersion: Type.Literal(1), kind: Type.Literal(kind), ...HEADER };
}
const HEADER_NOTE = 'Carries the entry\'s id and list, never a person\'s name or photo. Times are milliseconds since the Unix epoch, UTC.';

// ---- watch-list -------------------------------------------------------------------------------------------------

export const WATCHLIST_ENTRY_KINDS = ['face', 'plate'] as const;
export const WatchlistAlarmV1Schema = Type.Object({
  ...header('watchlist'),
  list: Name('The watch-list id.'),
  entry: Name('The entry id on that list.'),
  entryKind: StringEnum(WATCHLIST_ENTRY_KINDS),
  similarity: Nullable(Similarity('cosine similarity of the live face to the entry\'s closest photo'), 'Face: the similarity; plate: null.'),
  threshold: Nullable(Threshold('the entry\'s face threshold'), 'Face: the entry\'s threshold; plate: null.'),
  plate: Nullable(Type.String({ minLength: 1, maxLength: 32 }), 'Plate: the plate as read; face: null.'),
  plateEdits: Nullable(Type.Integer({ minimum: 0, maximum: 1 }), 'Plate: edits from the entry\'s plate (0 exact, 1 one-edit); face: null.'),
  firstSeenAt: Millis('Capture time of the first frame of the track (the face or plate was on camera from then on).'),
  matchedFrameAt: Millis('Capture time of the frame whose face (or plate) made the match; not before firstSeenAt.'),
}, {
  $schema: ALARM_SCHEMA_DRAFT,
  $id: `${ID_BASE}watchlist-alarm.v1.json`,
  title: 'cvcore watch-list alarm, schema v1',
  description: `Published on citybrain.alerts.watchlist.<district>.<camera> (JetStream stream CITYBRAIN_ALERTS, Nats-Msg-Id = messageId) when a face or plate on a watch-list is seen. ${HEADER_NOTE}`,
  additionalProperties: false,
});
export type WatchlistAlarmV1 = Static<typeof WatchlistAlarmV1Schema>;

// ---- frequency ----------------------------------------------------------------------------------------------------

export const FrequencyAppearanceV1Schema = Type.Object({
  camera: Name(),
  track: Name(),
  at: Millis('When the appearance began.'),
  similarity: Similarity('Similarity to the face that raised the alarm (1 for the raising track itself).'),
}, { additionalProperties: false });
export type FrequencyAppearanceV1 = Static<typeof FrequencyAppearanceV1Schema>;

export const MAX_FREQUENCY_APPEARANCES = 100;
export const FrequencyAlarmV1Schema = Type.Object({
  ...header('frequency'),
  rule: Name('The frequency rule id.'),
  count: Type.Integer({ minimum: 1, description: 'Distinct appearances counted in the window (tracks closer than minGapMs count once); not below minCount.' }),
  minCount: Type.Integer({ minimum: 1, description: 'The rule\'s N.' }),
  windowMs: Type.Integer({ minimum: 1, description: 'The rule\'s window.' }),
  minGapMs: Type.Integer({ minimum: 0, description: 'Appearances closer than this count once.' }),
  threshold: Threshold('The similarity at or above which two faces are the same person.'),
  appearances: Type.Array(FrequencyAppearanceV1Schema, { maxItems: MAX_FREQUENCY_APPEARANCES, description: 'The evidence, oldest first.' }),
}, {
  $schema: ALARM_SCHEMA_DRAFT,
  $id: `${ID_BASE}frequency-alarm.v1.json`,
  title: 'cvcore frequency alarm, schema v1',
  description: `Published on citybrain.alerts.frequency.<district>.<camera> (JetStream stream CITYBRAIN_ALERTS, Nats-Msg-Id = messageId) when the same face appears at least minCount times within windowMs. ${HEADER_NOTE}`,
  additionalProperties: false,
});
export type FrequencyAlarmV1 = Static<typeof FrequencyAlarmV1Schema>;

// ---- stranger -------------------------------------------------------------------------------------------------------

export const STRANGER_REASONS = ['unknown_face', 'no_face'] as const;
export const MAX_ALLOW_LISTS = 256;
export const StrangerAlarmV1Schema = Type.Object({
  ...header('stranger'),
  zone: Name('The restricted zone.'),
  reason: StringEnum(STRANGER_REASONS, 'unknown_face: a face on none of the zone\'s allow-lists; no_face: in the zone for dwellMs with no readable face.'),
  similarity: Nullable(Similarity('best similarity against the allow-lists'), 'unknown_face: the best similarity against the allow-lists (null when they are empty); no_face: null.'),
  threshold: Nullable(Threshold('the allow-lists\' threshold'), 'The threshold the best similarity missed, or null.'),
  allowLists: Type.Array(Name(), { maxItems: MAX_ALLOW_LISTS, description: 'The zone\'s allow-list ids.' }),
  dwellMs: Type.Integer({ minimum: 0, description: 'How long the person had been in the zone when it was decided.' }),
}, {
  $schema: ALARM_SCHEMA_DRAFT,
  $id: `${ID_BASE}stranger-alarm.v1.json`,
  title: 'cvcore stranger alarm, schema v1',
  description: `Published on citybrain.alerts.stranger.<district>.<camera> (JetStream stream CITYBRAIN_ALERTS, Nats-Msg-Id = messageId) when an unknown face, or a person without a readable face, is in a restricted zone. ${HEADER_NOTE}`,
  additionalProperties: false,
});
export type StrangerAlarmV1 = Static<typeof StrangerAlarmV1Schema>;

// ---- all kinds ------------------------------------------------------------------------------------------------------

export type AlarmV1 = WatchlistAlarmV1 | FrequencyAlarmV1 | StrangerAlarmV1;
export type AlarmKind = AlarmV1['kind'];
export const ALARM_KINDS = ['watchlist', 'frequency', 'stranger'] as const;
/** Every kind on the wire, crowd included. */
export const ALERT_KINDS = ['crowd', ...ALARM_KINDS] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
/** Anything the alerts stage puts on the wire in schema v1. */
export type WireAlertV1 = CrowdAlertV1 | AlarmV1;
/** Anything the alerts stage puts on the wire (the outbox holds these). */
export type WireAlert = WireAlertV1 | CrowdAlertV2;

/** The schema of each kind, and the file `cvcore alerts schemas` writes it to (alerts/schema/<file>). */
export const ALERT_SCHEMAS = {
  crowd: { schema: CrowdAlertV1Schema, file: 'crowd-alert.v1.json' },
  watchlist: { schema: WatchlistAlarmV1Schema, file: 'watchlist-alarm.v1.json' },
  frequency: { schema: FrequencyAlarmV1Schema, file: 'frequency-alarm.v1.json' },
  stranger: { schema: StrangerAlarmV1Schema, file: 'stranger-alarm.v1.json' },
} as const;
/** Schema v2 files (alerts/schema/<file>); only the crowd alert has a v2. */
export const ALERT_SCHEMAS_V2 = {
  crowd: { schema: CrowdAlertV2Schema, file: 'crowd-alert.v2.json' },
} as const;

// The derived types must say what the rest of the code already means by phase, severity and kind.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const typesAgree: [
  Same<CrowdAlertV1['phase'], AlertPhase>, Same<CrowdAlertV1['severity'], Severity>, Same<AlarmKind, (typeof ALARM_KINDS)[number]>,
  Same<CrowdAlertV2['clearReason'], ClearReason | null>,
] = [true, true, true, true];
void typesAgree;
