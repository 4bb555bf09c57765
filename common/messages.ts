/**
 * The typed messages the stages exchange. A stage imports these and another stage's public index.ts, never
 * another stage's internals. Times are milliseconds since the Unix epoch; boxes are in the source frame's pixels.
 */

/** One decoded frame. `data` is RGB24, row-major, usually a view on a SharedArrayBuffer so workers read it without a copy. */
export interface Frame {
  readonly cameraId: string;
  /** Per-camera sequence number; keeps counting across reconnects. */
  readonly seq: number;
  /** Presentation time in seconds from the decoder (resets when the stream restarts). */
  readonly pts: number;
  /** Wall-clock time the frame left the decoder. */
  readonly capturedAt: number;
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Axis-aligned box, top-left origin, in pixels of the frame it was found in. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export const OBJECT_CLASSES = ['person', 'bicycle', 'car', 'motorcycle', 'bus', 'truck'] as const;
export type ObjectClass = (typeof OBJECT_CLASSES)[number];
export const VEHICLE_CLASSES: readonly ObjectClass[] = ['bicycle', 'car', 'motorcycle', 'bus', 'truck'];

export interface Detection {
  readonly box: Box;
  readonly score: number;
  readonly cls: ObjectClass;
}

/** What inference returns for one frame. */
export interface DetectionResult {
  readonly cameraId: string;
  readonly seq: number;
  readonly capturedAt: number;
  readonly width: number;
  readonly height: number;
  readonly detections: readonly Detection[];
  /** Wall time spent in the model for the batch this frame was part of, divided by the batch size. */
  readonly inferenceMs: number;
  readonly batchSize: number;
  /** People among the raw detections at or above the person score floor (a per-frame crowd count before tracking). */
  readonly personCount?: number;
}

export const TRACK_STATES = { tentative: 'tentative', confirmed: 'confirmed', lost: 'lost', removed: 'removed' } as const;
export type TrackState = (typeof TRACK_STATES)[keyof typeof TRACK_STATES];

/** The tracker's view of one track after a frame. */
export interface TrackUpdate {
  readonly cameraId: string;
  readonly trackId: number;
  readonly cls: ObjectClass;
  readonly box: Box;
  /** Pixels per second, from the Kalman state. */
  readonly velocity: { readonly vx: number; readonly vy: number };
  readonly score: number;
  /** Frames since the track was born. */
  readonly age: number;
  readonly state: TrackState;
  readonly at: number;
  /** Wall time (ms) of the last detection the track took: `at` while it is seen, earlier while it is lost. */
  readonly lastSeen: number;
  /** True when this frame's detection is the track's best shot so far (the pipeline crops a thumbnail then). */
  readonly bestShot: boolean;
}

export interface BestShot {
  readonly seq: number;
  readonly at: number;
  readonly box: Box;
  readonly score: number;
  /** Quality used to choose the shot (detector score weighted by size); higher is better. */
  readonly quality: number;
}

/** Emitted once when a track is removed (or the camera stops); the unit that the search index stores. */
/**
 * One box of a track's trajectory: `t` is wall-clock ms (the capturedAt of the frame the box was measured in), the
 * box is in the analysis frame's pixels (the same space as TrackRecord.box).
 */
export interface TrajectoryPoint {
  readonly t: number;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface TrackEnd {
  readonly cameraId: string;
  readonly trackId: number;
  readonly cls: ObjectClass;
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** Frames in which a detection was associated to the track. */
  readonly hits: number;
  readonly bestShot: BestShot;
  /** Measured boxes about every 0.5 s, first and last included, at most 600 (tracking/trajectory.ts). */
  readonly trajectory: readonly TrajectoryPoint[];
}

export interface ZoneCount {
  readonly cameraId: string;
  readonly zoneId: string;
  readonly count: number;
  /** People per square metre, where the zone's ground area is configured. */
  readonly density: number | null;
  readonly at: number;
}

export const ALERT_PHASES = { raised: 'raised', updated: 'updated', cleared: 'cleared' } as const;
export type AlertPhase = (typeof ALERT_PHASES)[keyof typeof ALERT_PHASES];
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
/**
 * Why a crowd incident was cleared (crowd alert schema v2, `clearReason`): `zone-empty` the count fell below the
 * rule (the normal end), `camera-removed` / `camera-disabled` its camera was removed or disabled, `zone-removed`
 * its zone is gone from the camera's config, `rule-changed` the zone is there without its crowd rule.
 */
export const CLEAR_REASONS = ['zone-empty', 'camera-removed', 'camera-disabled', 'zone-removed', 'rule-changed'] as const;
export type ClearReason = (typeof CLEAR_REASONS)[number];

/** What the crowd rule emits; the alerts stage turns it into an alert (schema v1) for NATS. */
export interface CrowdAlertEvent {
  /** Stable per incident: the raise, its updates and its clear share it. */
  readonly incidentId: string;
  readonly phase: AlertPhase;
  readonly cameraId: string;
  readonly zoneId: string;
  readonly count: number;
  readonly threshold: number;
  readonly density: number | null;
  readonly severity: Severity;
  /** The sustain window the rule used, ms. */
  readonly windowMs: number;
  /** When the incident began (first sample of the sustained run). */
  readonly startedAt: number;
  /** When this phase was decided. */
  readonly at: number;
  /** Counts over the window that justified the decision (evidence). */
  readonly evidence: readonly number[];
  /** Frame sequence number of the snapshot, for a `snapshotRef`. */
  readonly snapshotSeq: number | null;
  /** A clear's reason (schema v2); a clear without one is the rule's own (`zone-empty`). Ignored on a raise or update. */
  readonly clearReason?: ClearReason;
}

/** One record per track, as the search index stores it. */
export interface TrackRecord {
  /** `<cameraId>:<trackId>:<firstSeen>`, unique across restarts. */
  readonly id: string;
  readonly cameraId: string;
  readonly department: string;
  readonly district: string;
  readonly cls: ObjectClass;
  readonly start: number;
  readonly end: number;
  readonly hits: number;
  readonly score: number;
  readonly box: Box;
  /**
   * Attributes as strings and numbers. Vehicles: colour, vehicleType, and when a plate was read plate (canonical,
   * common/plates.ts), plateColour, plateConfidence (0..1), plateRows (1 or 2), and plateRaw (the OCR's text when
   * it fits no mainland format; plate is then absent). People: gender, age, ageBand, faceQuality (from a face),
   * upperColour and lowerColour (clothing, the vehicle colour names) with upperColourConfidence and
   * lowerColourConfidence (0..1).
   */
  readonly attributes: Readonly<Record<string, string | number>>;
  readonly thumbnail: Uint8Array | null;
  readonly embedding: Float32Array | null;
  /** A small JPEG of the plate the reading came from (vehicles whose plate was found), else null or absent. */
  readonly plateCrop?: Uint8Array | null;
  /**
   * The track's measured boxes about every 0.5 s of wall clock (first and last kept, at most 600), in the pixels
   * of the analysis frame (`frame`). Absent or empty: none kept (records written before trajectories).
   */
  readonly trajectory?: readonly TrajectoryPoint[];
  /** The analysis frame's size, the space of `box` and `trajectory`; absent on records written before. */
  readonly frame?: { readonly width: number; readonly height: number };
}

/**
 * The plate reader's health (GET /api/v1/health `plates`): `ready` once every inference thread has loaded the OCR
 * models, `disabled` when config inference.plates is false, `unavailable` when they cannot load (the pipeline
 * runs on and vehicle records are written without plates): the ModelError / InferenceError code and why.
 */
export type PlatesHealth =
  | { readonly state: 'ready' }
  | { readonly state: 'disabled' }
  | { readonly state: 'unavailable'; readonly code: string; readonly reason: string; readonly since: number };

/** Camera health states (the ingest stage's; ingest/index.ts re-exports these). */
export const CAMERA_STATES = {
  connecting: 'connecting',
  live: 'live',
  stalled: 'stalled',
  backoff: 'backoff',
  failed: 'failed',
  stopped: 'stopped',
} as const;
export type CameraState = (typeof CAMERA_STATES)[keyof typeof CAMERA_STATES];

export interface CameraHealth {
  readonly cameraId: string;
  readonly state: CameraState;
  readonly since: number;
  /** Stable code of the last problem (INGEST_*), null while healthy. */
  readonly code: string | null;
  /** ffmpeg's own words for the last problem, credentials masked. */
  readonly reason: string | null;
  readonly framesDecoded: number;
  readonly framesDropped: number;
  /** Frames the motion gate kept from the detector (they still age the tracks). */
  readonly framesSkipped: number;
  /** Truncated frames discarded when a decoder's output ended mid-frame (INGEST_CORRUPT_FRAME). */
  readonly partialFrames: number;
  readonly queueDepth: number;
  readonly restarts: number;
  readonly lastFrameAt: number | null;
  /** Frames per second over the last few seconds. */
  readonly fps: number;
}

/** The status events the ingest stage emits (ingest/index.ts re-exports this). */
export type IngestEvent =
  | { readonly type: 'health'; readonly cameraId: string; readonly state: CameraState; readonly previous: CameraState; readonly code: string | null; readonly reason: string | null; readonly at: number }
  | { readonly type: 'dropped'; readonly cameraId: string; readonly total: number; readonly at: number }
  | { readonly type: 'partial_frame'; readonly cameraId: string; readonly code: 'INGEST_CORRUPT_FRAME'; readonly bytes: number; readonly total: number; readonly at: number };

/**
 * Crowd alert, schema v1: what subscribers receive on citybrain.alerts.crowd.<district>.<camera>.<zone>.
 * Defined (a TypeBox schema, the type derived from it) with the other alarm kinds in common/alarm-schemas.ts and
 * re-exported here, so the API can name it without importing the alerts stage.
 */
import type { CrowdAlertV1 } from './alarm-schemas.js';
export type { CrowdAlertV1 };

/**
 * What the running pipeline emits (runtime's Pipeline.on; runtime/index.ts re-exports this). Here rather than in
 * runtime/ so the API, which runtime starts, can name it without importing runtime.
 */
export type PipelineEvent =
  | { readonly type: 'alert'; readonly alert: CrowdAlertV1 }
  /** A watch-list, frequency or stranger alarm, once it is in the outbox. */
  | { readonly type: 'alarm'; readonly alarm: import('./alarm-schemas.js').AlarmV1 }
  | { readonly type: 'zone_count'; readonly count: ZoneCount }
  | { readonly type: 'record'; readonly record: TrackRecord }
  /** A camera went over (or back under) what the node can handle for it. */
  | { readonly type: 'load'; readonly cameraId: string; readonly overloaded: boolean; readonly handledFps: number; readonly targetFps: number; readonly at: number }
  /**
   * A frame's detections came back from inference. Carries the timings the benchmarks need (capture to
   * result, batch size) so they measure the pipeline from outside instead of reaching into the batcher.
   */
  | {
    readonly type: 'analysed'; readonly cameraId: string; readonly seq: number; readonly capturedAt: number;
    readonly doneAt: number; readonly batchSize: number; readonly inferenceMs: number; readonly detections: number;
  }
  | IngestEvent;

/**
 * What the live alarm rules (watchlist/) decide, before the alerts stage numbers it and puts it on the wire
 * (AlarmV1 in alarm-schemas.ts): the alarm without seq, messageId, emittedAt, publishedAt, node, district,
 * location and snapshotRef, which the sink fills from its context.
 */
export type AlarmEvent =
  | Omit<import('./alarm-schemas.js').WatchlistAlarmV1, 'schemaVersion' | 'messageId' | 'seq' | 'emittedAt' | 'publishedAt' | 'node' | 'district' | 'location' | 'snapshotRef'>
  | Omit<import('./alarm-schemas.js').FrequencyAlarmV1, 'schemaVersion' | 'messageId' | 'seq' | 'emittedAt' | 'publishedAt' | 'node' | 'district' | 'location' | 'snapshotRef'>
  | Omit<import('./alarm-schemas.js').StrangerAlarmV1, 'schemaVersion' | 'messageId' | 'seq' | 'emittedAt' | 'publishedAt' | 'node' | 'district' | 'location' | 'snapshotRef'>;
