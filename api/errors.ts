import { CvcoreError } from '../common/errors.js';

/** HTTP status for each stable error code prefix or code; anything else is a 500. */
const STATUS: Record<string, number> = {
  INDEX_BAD_QUERY: 400,
  API_BAD_REQUEST: 400,
  API_UNAUTHORIZED: 401,
  API_FORBIDDEN: 403,
  INDEX_NOT_FOUND: 404,
  API_NOT_FOUND: 404,
  INGEST_UNKNOWN_CAMERA: 404,
  INGEST_DUPLICATE_CAMERA: 409,
  INGEST_VIEWER_LIMIT: 503,
  API_PAYLOAD_TOO_LARGE: 413,
  API_UNSUPPORTED_MEDIA: 415,
  INFERENCE_BAD_IMAGE: 415,
  API_NO_FACE: 422,
  API_RATE_LIMITED: 429,
  API_FACE_UNAVAILABLE: 503,
  ALERT_NATS_UNREACHABLE: 503,
  CLUSTER_UNKNOWN_NODE: 404,
  // A camera body whose zone or crowd rule does not validate is the client's mistake, as on the config path.
  TRACKING_BAD_ZONE: 400,
  TRACKING_BAD_RULE: 400,
  CLUSTER_NATS_UNREACHABLE: 503,
  CLUSTER_SHARD_UNAVAILABLE: 503,
  WATCHLIST_NO_FACE: 422,
  WATCHLIST_MANY_FACES: 422,
  WATCHLIST_BAD_ENTRY: 400,
  WATCHLIST_BAD_PLATE: 400,
  WATCHLIST_KIND_MISMATCH: 400,
  WATCHLIST_ALARM_FINAL: 409,
  API_WATCHLIST_UNAVAILABLE: 503,
  API_RECORDING_UNAVAILABLE: 503,
  API_RANGE_NOT_SATISFIABLE: 416,
  RECORDING_BAD_RANGE: 400,
  RECORDING_RANGE_TOO_LONG: 400,
  RECORDING_NOT_RECORDED: 404,
  RECORDING_UNKNOWN_CAMERA: 404,
  RECORDING_HOLD_NOT_FOUND: 404,
  RECORDING_BAD_HOLD: 400,
  RECORDING_DISK_FULL: 507,
  EVIDENCE_BAD_REQUEST: 400,
  EVIDENCE_NOT_FOUND: 404,
  EVIDENCE_EMPTY: 404,
  API_EXPORTS_UNAVAILABLE: 503,
  AUDIT_KEY: 400,
  AUDIT_BAD_FILE: 400,
  API_AUDIT_UNAVAILABLE: 503,
  DATA_KEY_MISSING: 500,
  DATA_KEY_BAD_FILE: 500,
  DATA_KEY_WRONG: 500,
  DATA_KEY_UNKNOWN_ID: 500,
  DATA_KEY_NOT_SEALED: 500,
  DATA_KEY_EXISTS: 409,
  DATA_KEY_IN_USE: 409,
};

export function httpStatusFor(err: unknown): number {
  if (err instanceof CvcoreError) {
    const s = (err as { statusCode?: number }).statusCode;
    if (typeof s === 'number') return s;
    if (STATUS[err.code]) return STATUS[err.code]!;
    if (err.code.startsWith('CONFIG_')) return 400;
  }
  const s = (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' && s >= 400 && s < 600 ? s : 500;
}
