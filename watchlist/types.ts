/**
 * The watch-list stage's contract: lists and entries per department (face entries with photos and embeddings,
 * plate entries), in-memory matching for the live path, and the alarm log (every alarm with its frame, state
 * acknowledged/dismissed, each entry's history of matches). Everything that reads or changes personal data
 * takes the caller's Scope; an object outside it is answered exactly like one that does not exist (null).
 */
import type { AlarmKind, AlarmV1 } from '../common/alarm-schemas.js';
import type { Box } from '../common/messages.js';

/** Who may see what: the search index's scope ('all', or the caller's departments). */
export type Scope = 'all' | { readonly departments: readonly string[] };

export type ListKind = 'face' | 'plate';

export interface WatchList {
  readonly id: string;
  readonly name: string;
  readonly department: string;
  readonly kind: ListKind;
  readonly note: string;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly updatedAt: number;
  /** Live entries (not removed; expired ones included). */
  readonly entries: number;
}

export interface WatchEntryBase {
  readonly id: string;
  readonly list: string;
  readonly department: string;
  readonly label: string;
  readonly note: string;
  /** ms since the epoch; null: never. An expired entry stops matching and stays listed. */
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly updatedAt: number;
  /** Matches so far (the alarm log holds each one). */
  readonly matches: number;
  readonly lastMatchAt: number | null;
}

export interface FaceEntry extends WatchEntryBase {
  readonly kind: 'face';
  /** Cosine similarity at or above which a live face matches, 0..1. */
  readonly threshold: number;
  /** Photos kept (JPEG), each with the face box found in it and its quality. */
  readonly photos: readonly { readonly box: Box; readonly quality: number }[];
}

export interface PlateEntry extends WatchEntryBase {
  readonly kind: 'plate';
  /** Canonical plate (common/plates.ts). */
  readonly plate: string;
  /** exact, or fuzzy: also a plate one edit away (substitution, insertion or deletion). */
  readonly match: 'exact' | 'fuzzy';
}

export type WatchEntry = FaceEntry | PlateEntry;

export interface FaceHit {
  readonly list: string;
  readonly entry: string;
  readonly department: string;
  readonly similarity: number;
  readonly threshold: number;
}

export interface PlateHit {
  readonly list: string;
  readonly entry: string;
  readonly department: string;
  readonly plate: string;
  readonly edits: number;
}

export const ALARM_STATES = ['open', 'acknowledged', 'dismissed'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

export interface StoredAlarm {
  readonly alarm: AlarmV1;
  readonly state: AlarmState;
  /** Who acknowledged or dismissed it, when, with what note. */
  readonly handledBy: string | null;
  readonly handledAt: number | null;
  readonly handledNote: string | null;
  readonly hasSnapshot: boolean;
  readonly hasFace: boolean;
  /** Watch-list alarms: the entry's label when it matched (for the investigator; never on the wire); else null. */
  readonly entryLabel?: string | null;
}

export interface AlarmQuery {
  readonly kind?: AlarmKind;
  readonly state?: AlarmState;
  readonly camera?: string;
  readonly from?: number;
  readonly to?: number;
  readonly limit?: number;
  readonly cursor?: string;
}

export interface Page<T> { readonly items: readonly T[]; readonly nextCursor: string | null }

/** One face found in an uploaded photo. */
export interface PhotoFace { readonly embedding: Float32Array; readonly box: Box; readonly quality: number }

/** Finds every face in an encoded image (inference's embedFacesFromImage). */
export interface PhotoEmbedder {
  embedFacesFromImage(bytes: Uint8Array): Promise<{ faces: PhotoFace[]; width: number; height: number }>;
}

export interface WatchlistService {
  // ---- management (API, CLI through the API); `actor` is the token id, for createdBy ----
  createList(input: { name: string; department: string; kind: ListKind; note?: string }, actor: string): Promise<WatchList>;
  lists(scope: Scope): Promise<WatchList[]>;
  list(id: string, scope: Scope): Promise<WatchList | null>;
  updateList(id: string, patch: { name?: string; note?: string }, scope: Scope): Promise<WatchList | null>;
  /** Removes the list and all its entries (they stop matching at once); false when not found in scope. */
  deleteList(id: string, scope: Scope): Promise<boolean>;
  addFaceEntry(list: string, input: { label: string; note?: string; threshold?: number; expiresAt?: number | null; photos: readonly Uint8Array[] }, actor: string, scope: Scope): Promise<FaceEntry | null>;
  addPlateEntry(list: string, input: { label: string; note?: string; plate: string; match?: 'exact' | 'fuzzy'; expiresAt?: number | null }, actor: string, scope: Scope): Promise<PlateEntry | null>;
  entries(list: string, scope: Scope, page?: { limit?: number; cursor?: string }): Promise<Page<WatchEntry> | null>;
  entry(list: string, entry: string, scope: Scope): Promise<WatchEntry | null>;
  updateEntry(list: string, entry: string, patch: { label?: string; note?: string; threshold?: number; expiresAt?: number | null }, scope: Scope): Promise<WatchEntry | null>;
  /** Removes an entry: it stops matching before this resolves. */
  removeEntry(list: string, entry: string, scope: Scope): Promise<boolean>;
  entryPhoto(list: string, entry: string, n: number, scope: Scope): Promise<Uint8Array | null>;
  entryMatches(list: string, entry: string, scope: Scope, page?: { limit?: number; cursor?: string }): Promise<Page<StoredAlarm> | null>;

  // ---- the live path (pipeline): synchronous, in memory ----
  /** Face entries of lists of `department` whose threshold the embedding reaches, best first; expired entries never. */
  matchFace(department: string, embedding: Float32Array, at: number): FaceHit[];
  /** Best similarity of the embedding to the face entries of the given lists (allow-lists), or null when they hold none. */
  bestOf(lists: readonly string[], embedding: Float32Array, at: number): { entry: string; list: string; similarity: number; threshold: number } | null;
  matchPlate(department: string, plate: string, at: number): PlateHit[];
  /** Whether any live face entry exists for the department (the pipeline embeds live faces only then, or for rules). */
  hasFaceEntries(department: string): boolean;

  // ---- the alarm log ----
  recordAlarm(alarm: AlarmV1, images: { snapshot: Uint8Array | null; face: Uint8Array | null }): Promise<void>;
  alarms(scope: Scope, q?: AlarmQuery): Promise<Page<StoredAlarm>>;
  alarm(id: string, scope: Scope): Promise<StoredAlarm | null>;
  alarmImage(id: string, which: 'snapshot' | 'face', scope: Scope): Promise<Uint8Array | null>;
  setAlarmState(id: string, state: 'acknowledged' | 'dismissed', by: string, note: string | null, scope: Scope): Promise<StoredAlarm | null>;

  // ---- erasure (optional: a service without it cannot take part in one) ----
  /** Face entries in scope that one of their photos matches at the entry's threshold, expired ones included. */
  faceEntriesMatching?(embedding: Float32Array, scope: Scope): FaceHit[];
  /** Deletes the alarms in scope raised by (or, frequency, counting) one of the tracks, or matching one of the entries; their ids. */
  eraseAlarmsOf?(trackIds: readonly string[], scope: Scope, dryRun: boolean, entryIds?: readonly string[]): Promise<string[]>;

  close(): Promise<void>;
}
