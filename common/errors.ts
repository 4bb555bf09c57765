/**
 * Errors carry a stable `code` (listed in the README; codes never change meaning) and an optional `cause`.
 * One class per stage so callers can `instanceof` by stage and switch on `code` within it.
 * Programmer mistakes (a wrong option type passed by code) stay TypeError/RangeError naming the option.
 */
export class CvcoreError extends Error {
  readonly code: string;
  /** Extra machine-readable context (a config path, a camera id, a file name). */
  readonly detail: Readonly<Record<string, unknown>>;
  constructor(code: string, message: string, options: { cause?: unknown; detail?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.detail = Object.freeze({ ...(options.detail ?? {}) });
  }
  toJSON(): { code: string; message: string; detail: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, detail: this.detail };
  }
}

export class ConfigError extends CvcoreError {}
export class IngestError extends CvcoreError {}
export class ModelError extends CvcoreError {}
export class InferenceError extends CvcoreError {}
export class TrackingError extends CvcoreError {}
export class IndexError extends CvcoreError {}
export class AlertError extends CvcoreError {}
export class ApiError extends CvcoreError {
  readonly statusCode: number;
  constructor(statusCode: number, code: string, message: string, options: { cause?: unknown; detail?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.statusCode = statusCode;
  }
}
export class SetupError extends CvcoreError {}
export class ClusterError extends CvcoreError {}
export class WatchlistError extends CvcoreError {}
export class RecordingError extends CvcoreError {}
export class EvidenceError extends CvcoreError {}
export class AuditError extends CvcoreError {}
export class DataKeyError extends CvcoreError {}
export class TokenError extends CvcoreError {}

/** Every stable code in one place, so the README table and the code cannot drift apart. */
export const ERROR_CODES = {
  CONFIG_UNKNOWN_KEY: 'a key the schema does not know; the path is named',
  CONFIG_INVALID_TYPE: 'a value of the wrong type',
  CONFIG_OUT_OF_RANGE: 'a number or length outside its bounds',
  CONFIG_INVALID_VALUE: 'a value the field does not accept (enum, pattern, cross-field rule)',
  CONFIG_MISSING_FIELD: 'a required field is absent',
  CONFIG_UNREADABLE: 'the config file cannot be read or is not JSON',
  CONFIG_PLAIN_HTTP_REFUSED: 'the API would serve plain HTTP on a non-loopback address: set api.tls, or api.allowPlainHttp to accept it',
  CONFIG_TLS_UNREADABLE: 'api.tls.cert or api.tls.key cannot be read, or is not a PEM certificate / unencrypted PEM key; the path is named',
  CONFIG_TLS_KEY_MISMATCH: 'api.tls.key is not the private key of api.tls.cert',
  CONFIG_TLS_EXPIRED: 'the certificate in api.tls.cert has expired',
  CONFIG_URL_REFUSED: 'a camera URL whose scheme this core does not open (local files through the API, file:, concat:, a scheme outside ingest.urlSchemes), or malformed; the field is named',
  SETUP_FFMPEG_MISSING: 'ffmpeg is not installed',
  SETUP_NATS_SERVER_MISSING: 'nats-server is not installed',
  SETUP_MEDIA_MISSING: 'sample media have not been extracted (run the set-up)',
  INGEST_STREAM_UNREACHABLE: 'the camera URL cannot be opened (host down, wrong path, refused)',
  INGEST_AUTH_FAILED: 'the camera refused the credentials',
  INGEST_UNSUPPORTED_CODEC: 'ffmpeg cannot decode the stream',
  INGEST_STREAM_ENDED: 'the stream ended or ffmpeg exited',
  INGEST_STALLED: 'no frame arrived within the stall timeout',
  INGEST_CORRUPT_FRAME: 'a frame of the wrong size reached the decoder output (a stream cut mid-frame); it is discarded and counted',
  INGEST_UNKNOWN_CAMERA: 'no camera with that id',
  INGEST_DUPLICATE_CAMERA: 'a camera with that id exists already',
  INGEST_VIEWER_LIMIT: 'the camera already has as many live viewers as allowed',
  INGEST_LIVE_VIEW_FAILED: 'the live-view relay (ffmpeg to MPEG-1) could not start or died',
  MODEL_FILE_MISSING: 'a model file named in the manifest is absent',
  MODEL_FILE_CORRUPT: 'a model file does not match its sha256 or does not parse',
  MODEL_UNKNOWN: 'no model of that name in the manifest',
  INFERENCE_BACKEND_UNAVAILABLE: 'the requested backend is not installed on this machine',
  INFERENCE_FAILED: 'a model run failed',
  INFERENCE_POOL_CLOSED: 'the worker pool has been stopped',
  INFERENCE_BUSY: 'a structuring task was dropped because its bounded queue was full (detection keeps the threads); the record is kept without attributes',
  INFERENCE_BAD_INPUT: 'a frame buffer that does not hold width x height RGB24, or a box outside the frame',
  INFERENCE_BAD_IMAGE: 'an image (face-search upload) that cannot be decoded',
  TRACKING_BAD_MOT_LINE: 'a MOTChallenge line that does not parse (field count, non-number, negative size); the 1-based line is named',
  TRACKING_BAD_ZONE: 'a zone or line whose geometry is invalid (fewer than three points, self-intersecting, degenerate); the path is named',
  TRACKING_BAD_RULE: 'a crowd rule whose thresholds are out of range or inconsistent; the path is named',
  INDEX_BAD_QUERY: 'a search query that does not validate',
  INDEX_NOT_FOUND: 'no such track (or outside the caller\'s scope)',
  INDEX_CLOSED: 'the index is closed',
  INDEX_IO: 'RocksDB failed to read or write',
  INDEX_BAD_RECORD: 'a record the index cannot store (id, camera, department, times, attributes or embedding size); the field is named',
  INDEX_FORMAT: 'the index folder was written with another key layout; move it aside and start a new one',
  ALERT_INVALID_EVENT: 'an alert event that does not match its schema (v1; crowd alerts also v2)',
  ALERT_NATS_AUTH: 'NATS refused the user or the subject',
  ALERT_NATS_UNREACHABLE: 'NATS cannot be reached',
  ALERT_OUTBOX_FULL: 'the durable outbox is at its bound',
  ALERT_OUTBOX_IO: 'RocksDB failed to open, read or write the alert outbox (another core may hold it)',
  ALERT_NATS_JETSTREAM: 'the server has no JetStream, or the alert stream cannot be created or updated',
  ALERT_CLOSED: 'the alert sink has been closed',
  ALERT_CREDS_EXISTS: '`cvcore nats creds init` found a creds, seed or config file in the out folder already: creds are never overwritten',
  ALERT_CREDS_BAD_NAME: 'a desk or operator name for `cvcore nats creds init` that is not 1-64 letters, digits, _ or -',
  API_UNAUTHORIZED: 'missing or wrong API token',
  API_FORBIDDEN: 'the token\'s role may not do this',
  API_FACE_GRANT_REQUIRED: 'the route shows faces (face search, face crops, watch-list photos, live or recorded video) and the token has no face grant',
  API_BAD_REQUEST: 'the request does not validate',
  API_NOT_FOUND: 'no such resource (or outside the caller\'s scope)',
  API_PAYLOAD_TOO_LARGE: 'the upload is over the size limit',
  API_UNSUPPORTED_MEDIA: 'the upload is not an image',
  API_NO_FACE: 'the uploaded image holds no face',
  API_RATE_LIMITED: 'too many requests for this token',
  // API, issue 6: face search and the audit trail.
  API_FACE_UNAVAILABLE: 'face search needs a face embedder and none is configured on this core',
  // The webgpu backend (inference/webgpu-backend.ts): each names what is missing on the machine.
  INFERENCE_WEBGPU_NO_VULKAN: 'the Vulkan loader libvulkan.so.1 cannot be found (ldconfig -p, LD_LIBRARY_PATH); install libvulkan1',
  INFERENCE_WEBGPU_NO_ADAPTER: 'Dawn found no usable GPU adapter (no Vulkan driver, a driver Dawn rejects, or only a software adapter when software is not allowed); the ICD files checked are named',
  INFERENCE_WEBGPU_MISSING_FEATURE: 'the chosen GPU adapter lacks a feature or limit the backend needs; the feature or limit is named',
  INFERENCE_WEBGPU_DEVICE_LOST: 'the GPU device was lost (driver reset) during a batch; that batch\'s frames are dropped and the engine creates a new device for the next',
  // Cluster mode (issue 16).
  CLUSTER_NATS_UNREACHABLE: 'the NATS cluster cannot be reached or has no JetStream leader',
  CLUSTER_NATS_PERMISSION: 'the node\'s NATS user lacks a permission its roles need; the subject is named',
  CLUSTER_DUPLICATE_NODE: 'another live node already uses this node id (it still renews its membership)',
  CLUSTER_SHARDS_CHANGED: 'the configured shard count differs from the one the cluster was created with (resharding is not supported yet)',
  CLUSTER_UNKNOWN_NODE: 'no node with that id in the cluster',
  CLUSTER_SHARD_UNAVAILABLE: 'no live index replica answered for a shard; the shards are named',
  CLUSTER_BAD_MESSAGE: 'a record, search request or search answer on NATS that does not decode; the record is terminated (never redelivered), the request answered with this code',
  CLUSTER_NOT_SUPPORTED: 'an index operation this node does not do (an api node stores no records: put)',
  // Watch-lists and the alarm log (issue 18).
  WATCHLIST_NO_FACE: 'a watch-list photo holds no face (at least 20 px); the photo is named',
  WATCHLIST_MANY_FACES: 'a watch-list photo holds more than one face; the photo, the count and the boxes are named',
  WATCHLIST_BAD_ENTRY: 'a list, entry or page field out of bounds (name or label length, note, threshold outside 0..1, expiry in the past, photo count, limit, cursor); the field is named',
  WATCHLIST_BAD_PLATE: 'a plate entry that is not a mainland plate; why is named',
  WATCHLIST_KIND_MISMATCH: 'a photo for a plate list, or a plate for a face list',
  WATCHLIST_ALARM_FINAL: 'a dismissed alarm cannot be acknowledged or dismissed again',
  WATCHLIST_IO: 'RocksDB failed to open, read or write the watch-list store (another core may hold it)',
  API_WATCHLIST_UNAVAILABLE: 'the watch-list and alarm routes need a watch-list store and none is configured on this core',
  API_RECORDING_UNAVAILABLE: 'the recording, clip and hold routes need a recording service and none is configured on this core',
  API_RANGE_NOT_SATISFIABLE: 'a Range header that asks for bytes outside the file (HTTP 416, with Content-Range: bytes */size)',
  RECORDING_BAD_RANGE: 'a recording or clip range with from >= to, or a time that is not a number; the field is named',
  RECORDING_RANGE_TOO_LONG: 'a clip longer than recording.maxClipMs; the limit is named',
  RECORDING_NOT_RECORDED: 'nothing was recorded in the range asked for; the detail carries the gaps',
  RECORDING_UNKNOWN_CAMERA: 'no recordings and no recording camera with that id',
  RECORDING_DISK_FULL: 'the recording disk is full: recording stops for the camera (a health state), analysis goes on',
  RECORDING_FFMPEG_FAILED: 'the recording ffmpeg could not start or keeps failing; its last stderr line is named',
  RECORDING_HOLD_NOT_FOUND: 'no legal hold with that id',
  RECORDING_BAD_HOLD: 'a legal hold without cameras, tracks or a reason, or with too many; the field is named',
  RECORDING_IO: 'RocksDB or the file system failed to read or write the recording index or a segment',
  EVIDENCE_BAD_REQUEST: 'an export request with no tracks and no time range, too many items, or a range over the limit; the field is named',
  EVIDENCE_NOT_FOUND: 'no export with that id',
  EVIDENCE_VERIFY_FAILED: 'an export does not verify: a file whose digest differs, a file missing or added, or a manifest whose signature fails (named)',
  EVIDENCE_BAD_FILE: 'the file to verify is not an export zip (unreadable, not a zip, no manifest)',
  EVIDENCE_KEY: 'the node signing key cannot be read or created (permissions, a malformed PEM)',
  EVIDENCE_EMPTY: 'an export that would hold nothing: none of its tracks or cameras has a record or a recording in the range (the missing clips and their gaps are named)',
  EVIDENCE_IO: 'the file system failed to write an export zip or the export index',
  API_EXPORTS_UNAVAILABLE: 'the export routes need an export store and none is configured on this core',
  // The tamper-evident audit trail (issue 20).
  AUDIT_KEY: 'the key to verify the audit trail with is missing, short or not an Ed25519 public key, does not match --fingerprint, or signed none of the trail\'s checkpoints',
  AUDIT_BAD_FILE: 'the file to verify is not an audit export (unreadable, no header line, another version)',
  DATA_KEY_MISSING: 'no data key file where `CVCORE_DATA_KEY_FILE` or `dataKey.file` points (make one with `cvcore keys init`)',
  DATA_KEY_BAD_FILE: 'the data key file cannot be read, is not a version-1 key file, or holds a key that is not 32 bytes of base64; what is wrong is named',
  DATA_KEY_WRONG: 'the data key does not open what this data folder holds (another key under the same id, or altered data); the core refuses and changes nothing',
  DATA_KEY_UNKNOWN_ID: 'a value is sealed under a key id the key file does not hold (a retired key, or another core\'s key file)',
  DATA_KEY_NOT_SEALED: 'a value that should be sealed has no data-key header',
  DATA_KEY_EXISTS: '`cvcore keys init` will not replace an existing key file',
  DATA_KEY_IN_USE: '`cvcore keys retire` of the current key, or of a key values are still sealed under',
  API_AUDIT_UNAVAILABLE: 'audit verify and export need a local audit trail with the node key, and this core has none',
  // Issued tokens (issue 20, `cvcore tokens`).
  API_TOKEN_EXPIRED: 'the token was issued with an expiry that has passed (HTTP 401; an open WebSocket of it is closed with 4401 and this code)',
  API_TOKEN_REVOKED: 'the token was revoked (HTTP 401; an open WebSocket of it is closed with 4401 and this code)',
  API_OIDC_UNAVAILABLE: 'console sign-in through OpenID Connect is not configured (api.oidc), or this api has no token store or data key to issue a session with',
  API_OIDC_STATE: 'the sign-in callback carries no state this browser started here within 10 minutes, or a state that does not match: start again from the console',
  API_OIDC_PROVIDER: 'the OpenID Connect provider could not be reached or refused: its discovery document, the code exchange, the ID token\'s checks, or its userinfo (HTTP 502)',
  API_OIDC_NO_GROUP: 'the person signed in at the provider is in none of the groups api.oidc.groups lets use the console (HTTP 403)',
  API_TOKENS_UNAVAILABLE: 'the token routes need a token store: a core keeps one in its data folder, a cluster\'s api nodes share KV bucket CVCORE_ISSUED_TOKENS; an API started without one answers this',
  TOKEN_BAD_REQUEST: 'a token request with a bad person, role, departments, faces or expiry; the field is named',
  TOKEN_NOT_FOUND: 'no issued token with that id (or outside the caller\'s departments)',
  TOKEN_IO: 'RocksDB failed to open, read or write the token store (a running core holds it: use --api)',
  // Erasure of one person's data (issue 20).
  API_ERASURE_BAD_REQUEST: 'an erasure request that does not validate: neither or both of trackIds and a photo, no reason or caseRef, a threshold outside 0..1, too many ids (the field is named)',
  API_ERASURE_CLUSTER: 'an erasure with redactAudit in cluster mode: the audit trail is the replicated stream CVCORE_AUDIT and is not rewritten',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;
