/** Camera health states and the status events the ingest stage emits. */
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

export type IngestEvent =
  | { readonly type: 'health'; readonly cameraId: string; readonly state: CameraState; readonly previous: CameraState; readonly code: string | null; readonly reason: string | null; readonly at: number }
  | { readonly type: 'dropped'; readonly cameraId: string; readonly total: number; readonly at: number }
  | { readonly type: 'partial_frame'; readonly cameraId: string; readonly code: 'INGEST_CORRUPT_FRAME'; readonly bytes: number; readonly total: number; readonly at: number };

/** Maps ffmpeg's last stderr line to a stable code. */
export function classifyFfmpegError(reason: string | null): string {
  const r = (reason ?? '').toLowerCase();
  if (/401|unauthorized|authorization failed/.test(r)) return 'INGEST_AUTH_FAILED';
  if (/decoder .*not found|could not find codec|unsupported codec|codec not currently supported|no decoder|invalid data found/.test(r)) return 'INGEST_UNSUPPORTED_CODEC';
  if (/connection refused|no route|timed out|timeout|name or service|resolve|network is unreachable|404|not found|no such file|does not exist|server returned/.test(r)) return 'INGEST_STREAM_UNREACHABLE';
  return 'INGEST_STREAM_ENDED';
}
