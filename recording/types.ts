/**
 * The recording stage's messages and its service contract, fixed before the stage was built so the API, the
 * evidence export and the pipeline could be written against it in parallel. Times are wall-clock ms (UTC epoch).
 */

/** Per camera (config `cameras[].recording`, defaults from the top-level `recording`). */
export type RecordingMode = 'off' | 'continuous' | 'events';

export interface CameraRecordingConfig {
  readonly mode: RecordingMode;
  /** events mode: kept before the first moment of interest, ms. */
  readonly preRollMs: number;
  /** events mode: kept after the last moment of interest, ms. */
  readonly postRollMs: number;
  /** events mode: the track classes whose tracks are moments of interest (alarms always are). */
  readonly classes: readonly string[];
  /** Segments older than this are removed (oldest first), unless held. */
  readonly retentionDays: number;
  /** Bytes this camera's segments may take; the oldest go first when over. 0: no per-camera quota. */
  readonly quotaBytes: number;
}

/** One closed segment in the index. */
export interface Segment {
  readonly cameraId: string;
  /** Wall-clock time of the segment's first frame. */
  readonly start: number;
  /** Wall-clock time just after its last frame. */
  readonly end: number;
  /** File name relative to the camera's recording folder. */
  readonly file: string;
  readonly bytes: number;
  /** Stream time (seconds, the recorder's own timestamps) of the first frame: stream time -> wall clock is start + (pts - ptsStart) * 1000. */
  readonly ptsStart: number;
  /** Held by a legal hold (kept beyond retention and quota). */
  readonly held?: boolean;
}

/** A span with no recording: the camera was off, disconnected, not recording (events mode, off), or the disk was full. */
export interface Gap {
  readonly from: number;
  readonly to: number;
  readonly reason: 'not-recorded' | 'disconnected' | 'disk-full' | 'off' | 'removed';
}

export interface RecordingsAnswer {
  readonly cameraId: string;
  readonly from: number;
  readonly to: number;
  readonly segments: readonly Segment[];
  readonly gaps: readonly Gap[];
}

/** A clip cut from the segments at keyframes: one MP4 file, stream copy. */
export interface Clip {
  readonly cameraId: string;
  /** The range asked for. */
  readonly from: number;
  readonly to: number;
  /** The range the file really covers (keyframe-aligned, so start <= from when recorded). */
  readonly start: number;
  readonly end: number;
  /** Absolute path of the cached clip, sealed at rest (common/sealed-file.ts): read it with `read`, never directly. */
  readonly path: string;
  /** Size of the MP4 (the clear bytes `read` gives). */
  readonly bytes: number;
  /** Gaps inside [from, to] the clip skips over. */
  readonly gaps: readonly Gap[];
  /**
   * How video time maps to wall clock: each contiguous recorded span of the clip starts `offsetMs` into the
   * video and covers wall-clock [start, end). One span when the clip has no gap; a player maps through these.
   */
  readonly spans: readonly { readonly offsetMs: number; readonly start: number; readonly end: number }[];
  /** SHA-256 of the MP4, hex (exports put it in their manifest). */
  readonly sha256: string;
  /** The MP4's bytes [start, end] (inclusive, an HTTP range; all when absent), opened from the sealed cache. */
  read(range?: { readonly start: number; readonly end: number }): import('node:stream').Readable;
}

export type RecordingState = 'off' | 'starting' | 'recording' | 'reconnecting' | 'disk-full' | 'failed';

export interface RecordingHealth {
  readonly cameraId: string;
  readonly mode: RecordingMode;
  readonly state: RecordingState;
  /** Typed code when state is disk-full or failed (RECORDING_DISK_FULL, RECORDING_FFMPEG_FAILED). */
  readonly code: string | null;
  readonly reason: string | null;
  readonly segments: number;
  readonly bytes: number;
  readonly oldest: number | null;
  readonly newest: number | null;
}

/** A legal hold: keeps the segments of its cameras in [from, to] beyond retention and quota until released. */
export interface Hold {
  readonly id: string;
  readonly cameraIds: readonly string[];
  readonly from: number;
  readonly to: number;
  /** The tracks the hold was placed for (empty for a plain time range). */
  readonly trackIds: readonly string[];
  readonly reason: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly releasedBy: string | null;
  readonly releasedAt: number | null;
}

export interface HoldInput {
  readonly cameraIds: readonly string[];
  readonly from: number;
  readonly to: number;
  readonly trackIds?: readonly string[];
  readonly reason: string;
  readonly by: string;
}

/** What the recorder needs of a camera. */
export interface RecordedCamera {
  readonly id: string;
  readonly url: string;
  readonly transport: 'tcp' | 'udp';
  readonly department: string;
  readonly recording: CameraRecordingConfig;
}

/** The recording stage as the rest of the core sees it (`openRecordings` in recording/index.ts gives one). */
export interface RecordingService {
  /** Starts (or restarts with a changed config) recording a camera; mode `off` stops it. */
  setCamera(camera: RecordedCamera): Promise<void>;
  /** Stops recording a camera that was removed (its segments stay until retention). */
  removeCamera(cameraId: string): Promise<void>;
  /**
   * events mode: a moment of interest on a camera over [from, to] (a track of a chosen class while it lives, an
   * alarm); the segments covering [from - preRoll, to + postRoll] are kept. Ignored in continuous and off modes.
   */
  mark(cameraId: string, from: number, to: number, why: string): void;
  /** Segments and gaps overlapping [from, to]. RECORDING_BAD_RANGE when from >= to. */
  recordings(cameraId: string, from: number, to: number): Promise<RecordingsAnswer>;
  /**
   * One MP4 for [from, to] (stream copy, cut at keyframes). Errors: RECORDING_BAD_RANGE (from >= to),
   * RECORDING_RANGE_TOO_LONG (over `maxClipMs`), RECORDING_NOT_RECORDED (nothing recorded in the range; its
   * detail carries the gaps), RECORDING_UNKNOWN_CAMERA.
   */
  clip(cameraId: string, from: number, to: number): Promise<Clip>;
  addHold(input: HoldInput): Promise<Hold>;
  releaseHold(id: string, by: string): Promise<Hold>;
  holds(opts?: { readonly active?: boolean }): Promise<Hold[]>;
  health(cameraId: string): RecordingHealth | null;
  healthAll(): RecordingHealth[];
  /** Runs retention (days, per-camera quota, total quota) once now; it also runs on a timer. */
  enforceRetention(now?: number): Promise<{ removed: number; bytes: number }>;
  /**
   * After a rotation of a running core's data key: the verifier, then every segment's and cached clip's header
   * re-sealed under the current key (the video is not rewritten). Resolves with whether anything was to do.
   */
  resealToCurrent(): Promise<boolean>;
  close(): Promise<void>;
}
