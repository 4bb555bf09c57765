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
}

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

/** Pushed over WebSocket /api/v1/live. */
export type LiveEvent =
  | { type: 'alert'; alert: CrowdAlert }
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
