/** Camera health states and the status events the ingest stage emits: defined in common/messages.ts (the API and
 * the runtime name them without importing each other), re-exported here under the same names. */
export { CAMERA_STATES, type CameraState, type CameraHealth, type IngestEvent } from '../common/messages.js';

/** Maps ffmpeg's last stderr line to a stable code. */
export function classifyFfmpegError(reason: string | null): string {
  const r = (reason ?? '').toLowerCase();
  if (/401|unauthorized|authorization failed/.test(r)) return 'INGEST_AUTH_FAILED';
  if (/decoder .*not found|could not find codec|unsupported codec|codec not currently supported|no decoder|invalid data found/.test(r)) return 'INGEST_UNSUPPORTED_CODEC';
  if (/connection refused|no route|timed out|timeout|name or service|resolve|network is unreachable|404|not found|no such file|does not exist|server returned/.test(r)) return 'INGEST_STREAM_UNREACHABLE';
  return 'INGEST_STREAM_ENDED';
}
