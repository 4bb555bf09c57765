/** The shapes the console reads from the core's HTTP API (api/server.ts), kept to the fields it shows. */

export const ROLES = { investigator: 'investigator', operator: 'operator', admin: 'admin' } as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];

export interface Box { x: number; y: number; w: number; h: number }

export interface TrackSummary {
  id: string;
  cameraId: string;
  department: string;
  district: string;
  cls: string;
  start: number;
  end: number;
  hits: number;
  score: number;
  box: Box;
  attributes: Record<string, string | number>;
  hasThumbnail?: boolean;
  hasFace?: boolean;
  hasPlateCrop?: boolean;
  /** Plate searches: how the plate matched. */
  plateMatch?: 'exact' | 'confusion' | 'fuzzy';
  thumbnailUrl?: string;
  trackUrl?: string;
  plateUrl?: string;
  /** GET /api/v1/tracks/:id: a box every ~0.5 s (t wall-clock ms, box in analysis-frame pixels), oldest first. */
  trajectory?: TrajectoryPoint[];
  /** The analysis frame the trajectory's boxes are in. */
  frame?: { width: number; height: number };
  /** The track's clip (`/api/v1/cameras/<cam>/clip?from=..&to=..`), null when the camera does not record. */
  clipRef?: string | null;
}

export interface TrajectoryPoint { t: number; x: number; y: number; w: number; h: number }

export interface SearchPage { records: TrackSummary[]; nextCursor: string | null }

export interface CameraHealth {
  state: string;
  since?: number;
  code?: string | null;
  reason?: string | null;
  fps?: number;
  framesDecoded?: number;
  framesDropped?: number;
  lastFrameAt?: number | null;
}

export interface Camera {
  id: string;
  name?: string;
  department: string;
  district: string;
  location: { lat: number; lon: number } | null;
  zones?: { id: string; name?: string }[];
  health: CameraHealth;
}

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface CrowdAlert {
  id: string;
  phase: 'raised' | 'updated' | 'cleared';
  district: string;
  camera: string;
  zone: string;
  count: number;
  threshold: number;
  severity: Severity;
  startedAt: number;
  at: number;
  snapshotRef: string | null;
  /** The alert's clip (a few seconds before and after), null or absent when not recorded. */
  clipRef?: string | null;
}

export interface ZoneCount { cameraId: string; zoneId: string; count: number; density: number | null; at: number }

export interface FaceMatch { record: TrackSummary; similarity: number }
/** POST /api/v1/faces/search: the face found in the photo and the ranked matches. */
export interface FaceSearchResult { face: { box: Box; score?: number } | null; width?: number; height?: number; matches: FaceMatch[] }

export interface AuditEntry {
  at: number;
  tokenId: string;
  role: string;
  department: string;
  action: string;
  query: unknown;
  results: string[] | number;
}
export interface AuditPage { entries: AuditEntry[]; nextCursor: string | null }

// ---- Watch-lists and alarms (watchlist/types.ts, common/alarm-schemas.ts, the API's views of them) ----

export const LIST_KINDS = ['face', 'plate'] as const;
export type ListKind = (typeof LIST_KINDS)[number];

export interface WatchList {
  id: string;
  name: string;
  department: string;
  kind: ListKind;
  note: string;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
  /** Live entries (expired ones included). */
  entries: number;
}

interface WatchEntryBase {
  id: string;
  list: string;
  department: string;
  label: string;
  note: string;
  /** ms since the epoch; null: never. An expired entry stops matching and stays listed. */
  expiresAt: number | null;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
  matches: number;
  lastMatchAt: number | null;
  /** API path of the entry's history of matches (GET -> AlarmsPage). */
  matchesUrl: string;
}
export interface FaceEntry extends WatchEntryBase {
  kind: 'face';
  threshold: number;
  photos: { box: Box; quality: number }[];
  /** API paths of the kept photos (JPEG), in the order of `photos`. */
  photoUrls?: string[];
}
export interface PlateEntry extends WatchEntryBase {
  kind: 'plate';
  plate: string;
  match: 'exact' | 'fuzzy';
}
export type WatchEntry = FaceEntry | PlateEntry;
export interface EntriesPage { entries: WatchEntry[]; nextCursor: string | null }

export const ALARM_KINDS = ['watchlist', 'frequency', 'stranger'] as const;
export type AlarmKind = (typeof ALARM_KINDS)[number];
export const ALARM_STATES = ['open', 'acknowledged', 'dismissed'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

interface AlarmHeader {
  schemaVersion: 1;
  id: string;
  /** Optional here only so that an older or partial live message still renders. */
  district?: string;
  camera: string;
  department: string;
  location: { lat: number; lon: number } | null;
  track: string;
  at: number;
  snapshotRef?: string | null;
  clipRef?: string | null;
  node?: string;
}
export interface WatchlistAlarm extends AlarmHeader {
  kind: 'watchlist';
  list: string;
  entry: string;
  entryKind: 'face' | 'plate';
  similarity: number | null;
  threshold: number | null;
  plate: string | null;
  plateEdits: number | null;
  firstSeenAt: number;
  matchedFrameAt: number;
}
export interface FrequencyAlarm extends AlarmHeader {
  kind: 'frequency';
  rule: string;
  count: number;
  minCount: number;
  windowMs: number;
  minGapMs: number;
  threshold: number;
  appearances: { camera: string; track: string; at: number; similarity: number }[];
}
export interface StrangerAlarm extends AlarmHeader {
  kind: 'stranger';
  zone: string;
  reason: 'unknown_face' | 'no_face';
  similarity: number | null;
  threshold: number | null;
  allowLists: string[];
  dwellMs: number;
}
export type Alarm = WatchlistAlarm | FrequencyAlarm | StrangerAlarm;

/** The API's AlarmView: watchlist/types.ts StoredAlarm plus the image paths the caller may open. */
export interface AlarmView {
  alarm: Alarm;
  state: AlarmState;
  handledBy: string | null;
  handledAt: number | null;
  handledNote: string | null;
  hasSnapshot: boolean;
  hasFace: boolean;
  /** Watch-list alarms: the entry's label when it matched. */
  entryLabel?: string | null;
  snapshotUrl?: string;
  faceUrl?: string;
  entryPhotoUrl?: string;
  /** The alarm's clip; the API may put it here or on the alarm itself. */
  clipRef?: string | null;
}
export interface AlarmsPage { alarms: AlarmView[]; nextCursor: string | null }

/** Pushed over WebSocket /api/v1/live. An alarm comes as the wire alarm (common/alarm-schemas.ts), without state or image paths. */
export type LiveEvent =
  | { type: 'alert'; alert: CrowdAlert }
  | { type: 'alarm'; alarm: AlarmView | Alarm }
  | { type: 'zone_count'; count: ZoneCount }
  | { type: 'health'; cameraId: string; state: string; [k: string]: unknown };

/** GET /api/v1/cluster (cluster mode only; cluster/types.ts ClusterStatus), kept to the fields the dashboard shows. */
export interface ClusterNode { id: string; roles: string[]; alive: boolean; draining: boolean; capacity: number; cameras: string[]; shards: number[] }
export interface ClusterConsumer { node: string; stream: string; shard: number; consumer: string; pending: number; ackPending: number }
export interface ClusterStatus {
  at: number;
  shards: number;
  replicas: number;
  nodes: ClusterNode[];
  unassigned: string[];
  consumers: ClusterConsumer[];
  shardsWithoutReplica: number[];
}

// ---- Recording (recording/types.ts): segments, gaps and a clip's time map ----

export const GAP_REASONS = ['not-recorded', 'disconnected', 'disk-full', 'off', 'removed'] as const;
export type GapReason = (typeof GAP_REASONS)[number];
export interface Segment { start: number; end: number; bytes: number; held?: boolean }
export interface Gap { from: number; to: number; reason: GapReason }
/** GET /api/v1/cameras/:id/recordings?from&to */
export interface RecordingsAnswer { cameraId: string; from: number; to: number; segments: Segment[]; gaps: Gap[] }
/** Each contiguous recorded span of a clip starts `offsetMs` into the video and covers wall-clock [start, end). */
export interface ClipSpan { offsetMs: number; start: number; end: number }
/** HEAD <clipRef>: what the clip file covers (x-clip-start, x-clip-end, x-clip-spans). */
export interface ClipInfo { start: number; end: number; spans: ClipSpan[] }
