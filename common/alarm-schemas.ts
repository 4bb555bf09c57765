/**
 * The wire contract of every alarm kind that goes to the city brain (watch-list, frequency, stranger; crowd has
 * its own CrowdAlertV1 in messages.ts). CONTRACT STUB: the alerts helper replaces these hand-written interfaces by
 * TypeBox schemas with the same names and shapes (types derived with Static<>), validated by Ajv.
 * Times are milliseconds since the Unix epoch (UTC).
 */

/** Fields every non-crowd alarm carries (same meaning as in the crowd alert). */
export interface AlarmHeaderV1 {
  readonly schemaVersion: 1;
  /** Alarm id: stable for one decision (the outbox de-duplicates on it). */
  readonly id: string;
  /** Nats-Msg-Id: `<node>:<kind>:<id>`. */
  readonly messageId: string;
  /** The producing node's outbox sequence (strictly increasing per node). */
  readonly seq: number;
  readonly district: string;
  readonly camera: string;
  /** The department the alarm belongs to (a watch-list alarm: the list's; the others: the camera's). */
  readonly department: string;
  readonly location: { readonly lat: number; readonly lon: number } | null;
  /** The record id of the track that raised it: `<camera>:<trackId>:<firstSeen>`. */
  readonly track: string;
  /** When the decision was made. */
  readonly at: number;
  readonly emittedAt: number;
  readonly publishedAt: number | null;
  /** API path of the frame behind the alarm (scoped and audited), or null. */
  readonly snapshotRef: string | null;
  readonly node: string;
}

export interface WatchlistAlarmV1 extends AlarmHeaderV1 {
  readonly kind: 'watchlist';
  readonly list: string;
  readonly entry: string;
  readonly entryKind: 'face' | 'plate';
  /** Face: cosine similarity of the live face to the entry's closest photo; plate: null. */
  readonly similarity: number | null;
  /** The entry's threshold (face), or null. */
  readonly threshold: number | null;
  /** Plate entries: the plate as read, and the edits from the entry's plate (0 exact, 1 one-edit). */
  readonly plate: string | null;
  readonly plateEdits: number | null;
  /** Capture time of the first frame of the track (the face or plate was on camera from then on). */
  readonly firstSeenAt: number;
  /** Capture time of the frame whose face (or plate) made the match. */
  readonly matchedFrameAt: number;
}

export interface FrequencyAppearanceV1 {
  readonly camera: string;
  readonly track: string;
  readonly at: number;
  /** Similarity to the face that raised the alarm (1 for the raising track itself). */
  readonly similarity: number;
}

export interface FrequencyAlarmV1 extends AlarmHeaderV1 {
  readonly kind: 'frequency';
  readonly rule: string;
  /** Distinct appearances counted in the window (tracks closer than minGapMs count once). */
  readonly count: number;
  readonly minCount: number;
  readonly windowMs: number;
  readonly minGapMs: number;
  readonly threshold: number;
  /** Oldest first, at most 100. */
  readonly appearances: readonly FrequencyAppearanceV1[];
}

export interface StrangerAlarmV1 extends AlarmHeaderV1 {
  readonly kind: 'stranger';
  readonly zone: string;
  /** unknown_face: a face on none of the zone's allow-lists; no_face: in the zone for dwellMs with no readable face. */
  readonly reason: 'unknown_face' | 'no_face';
  /** Best similarity against the allow-lists (unknown_face), else null. */
  readonly similarity: number | null;
  readonly threshold: number | null;
  readonly allowLists: readonly string[];
  /** How long the person had been in the zone when it was decided. */
  readonly dwellMs: number;
}

export type AlarmV1 = WatchlistAlarmV1 | FrequencyAlarmV1 | StrangerAlarmV1;
export type AlarmKind = AlarmV1['kind'];
export const ALARM_KINDS = ['watchlist', 'frequency', 'stranger'] as const;
