/**
 * Configuration: one strict schema. Unknown keys are rejected with their path, every field has a default
 * (or is required), bounds and a description; cross-field rules name the path; the result is deep-frozen.
 * Takes: a JSON file or an object. Gives: a frozen `CvcoreConfig`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../common/errors.js';
import { OBJECT_CLASSES, SEVERITIES, type ObjectClass, type Severity } from '../common/messages.js';
import { API_ROLES, BACKENDS, DEFAULTS, WEBGPU_DAWN_BACKENDS } from './defaults.js';
import { describe, validate, type Spec } from './schema.js';
import { validateCrowdRule, validateLine, validateZone } from '../tracking/index.js';
import { DURATION_PATTERN, parseDuration, type Duration } from './duration.js';
import { CAMERA_URL_SCHEMES, DEFAULT_URL_POLICY, checkCameraUrl, type CameraUrlPolicy, type CameraUrlScheme } from '../common/camera-url.js';
import { loadManifest } from '../models/index.js';

export { DEFAULTS, BACKENDS, API_ROLES, WEBGPU_DAWN_BACKENDS } from './defaults.js';
export { parseDuration, DURATION_PATTERN, type Duration } from './duration.js';
export { CAMERA_URL_SCHEMES, DEFAULT_URL_POLICY, checkCameraUrl, protocolWhitelist, urlScheme, type CameraUrlPolicy, type CameraUrlScheme } from '../common/camera-url.js';

export interface CrowdRuleConfig {
  readonly threshold: number;
  readonly clearThreshold: number;
  readonly sustainMs: number;
  readonly clearMs: number;
  readonly cooldownMs: number;
  readonly updateStep: number;
  readonly useDensity: boolean;
  readonly severities: readonly { readonly severity: Severity; readonly minCount: number }[];
}
export interface ZoneConfig {
  readonly id: string;
  readonly name: string;
  readonly polygon: readonly (readonly [number, number])[];
  readonly areaM2: number | null;
  readonly crowd: CrowdRuleConfig | null;
  /** A restricted zone: people whose face is on none of the allow-lists (or who show none) raise a stranger alarm. */
  readonly restricted: RestrictedZoneConfig | null;
}
export interface RestrictedZoneConfig {
  /** Face watch-list ids of the camera's department whose entries may be in the zone. */
  readonly allowLists: readonly string[];
  /** Similarity at or above which a face is on an allow-list; null: each entry's own threshold. */
  readonly threshold: number | null;
  /** A person in the zone this long with no face read raises a no_face stranger alarm; null: never. */
  readonly noFace: { readonly afterMs: number } | null;
}
/** The frequency alarm: the same face in at least minCount distinct tracks within window on the rule's cameras. */
export interface FrequencyRuleConfig {
  readonly id: string;
  /** Camera ids, or ['*'] for every camera. */
  readonly cameras: readonly string[];
  readonly minCount: number;
  /** Durations: '30s', '10m', '2h', '7d' or whole milliseconds (config/duration.ts). */
  readonly window: Duration;
  readonly minGap: Duration;
  readonly threshold: number;
  /** Quiet time for a face similar to an alarmed one; null: the window. */
  readonly cooldown: Duration | null;
}
export interface AlarmsConfig {
  readonly faceRetryMs: number;
  readonly faceMinQuality: number;
  readonly faceMaxPerTrack: number;
  readonly cooldownMs: number;
  /** The frequency rules' default similarity threshold. */
  readonly faceThreshold: number;
  readonly frequency: readonly FrequencyRuleConfig[];
}
export interface LineConfig { readonly id: string; readonly a: readonly [number, number]; readonly b: readonly [number, number] }
export interface CameraConfig {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly department: string;
  readonly district: string;
  readonly location: { readonly lat: number; readonly lon: number } | null;
  readonly fps: number;
  readonly width: number;
  readonly height: number;
  readonly transport: 'tcp' | 'udp';
  /** null: the ingest-wide setting. */
  readonly hwaccel: HwAccel | null;
  readonly keyframesOnly: boolean;
  /** Detect on every k-th analysed frame; the tracker predicts on the others. */
  readonly detectEvery: number;
  readonly motion: MotionConfig;
  readonly enabled: boolean;
  readonly zones: readonly ZoneConfig[];
  readonly lines: readonly LineConfig[];
  /** Overrides of the top-level `recording` settings for this camera (null: those settings as they are). */
  readonly recording: CameraRecordingOverrides | null;
}
export type RecordingModeConfig = 'off' | 'continuous' | 'events';
export interface CameraRecordingOverrides {
  readonly mode?: RecordingModeConfig;
  readonly preRollMs?: number;
  readonly postRollMs?: number;
  readonly classes?: readonly string[];
  readonly retentionDays?: number;
  readonly quotaBytes?: number;
}
/** Recording (recording/): the defaults of every camera, and the settings of the recorder as a whole. */
export interface RecordingConfig {
  readonly mode: RecordingModeConfig;
  readonly segmentSeconds: number;
  readonly preRollMs: number;
  readonly postRollMs: number;
  readonly classes: readonly string[];
  readonly retentionDays: number;
  readonly quotaBytes: number;
  readonly totalQuotaBytes: number;
  readonly minFreeBytes: number;
  readonly maxClipMs: number;
  readonly clipCacheMs: number;
  readonly retentionIntervalMs: number;
}

/** A camera's recording settings: its own overrides over the top-level `recording` ones. */
export function cameraRecording(rec: RecordingConfig, cam: Pick<CameraConfig, 'recording'>): { mode: RecordingModeConfig; preRollMs: number; postRollMs: number; classes: readonly string[]; retentionDays: number; quotaBytes: number } {
  const o = cam.recording ?? {};
  return {
    mode: o.mode ?? rec.mode, preRollMs: o.preRollMs ?? rec.preRollMs, postRollMs: o.postRollMs ?? rec.postRollMs,
    classes: o.classes ?? rec.classes, retentionDays: o.retentionDays ?? rec.retentionDays, quotaBytes: o.quotaBytes ?? rec.quotaBytes,
  };
}
export const HWACCELS = ['none', 'cuda'] as const;
export type HwAccel = (typeof HWACCELS)[number];
export interface MotionConfig {
  readonly enabled: boolean;
  readonly threshold: number;
  readonly minArea: number;
  readonly alpha: number;
  readonly forceEvery: number;
  /** Detect on the moving part of the frame only (the onnx backend runs it at a smaller input). */
  readonly detectRegions: boolean;
  readonly regionMaxArea: number;
  readonly regionMargin: number;
  readonly masks: readonly (readonly (readonly [number, number])[])[];
}
export type ApiRole = (typeof API_ROLES)[number];
/** One API token: the secret (or its SHA-256), its role and the departments whose cameras it may see. */
export interface ApiTokenConfig {
  readonly id: string;
  readonly token?: string;
  readonly tokenSha256?: string;
  readonly role: ApiRole;
  /** Department ids, or ['*'] for every department. */
  readonly departments: readonly string[];
  /** The face grant: faces, face search, live and recorded video (default true); false: person thumbnails with the head blurred, no face routes. */
  readonly faces?: boolean;
}
export interface ApiConfig {
  readonly host: string;
  readonly port: number;
  readonly tokens: readonly ApiTokenConfig[];
  readonly rateLimit: { readonly perMinute: number; readonly burst: number };
  readonly maxUploadBytes: number;
  /** HTTPS: PEM files of the certificate (chain) and its key; null: plain HTTP (loopback only unless allowPlainHttp). */
  readonly tls: { readonly cert: string; readonly key: string } | null;
  readonly allowPlainHttp: boolean;
  /** Console sign-in through the city's OpenID Connect provider; null: tokens only. */
  readonly oidc: OidcConfig | null;
}
export interface OidcGroupMapping {
  /** A value of the groups claim. */
  readonly group: string;
  readonly role: ApiRole;
  readonly departments: readonly string[];
  readonly faces: boolean;
}
export interface OidcConfig {
  /** The provider's issuer URL (https, or http on a loopback host); its discovery document is read at the first login. */
  readonly issuer: string;
  readonly clientId: string;
  /** null: a public client (PKCE only); env CVCORE_OIDC_CLIENT_SECRET overrides. */
  readonly clientSecret: string | null;
  /** This API's callback as the provider knows it: https://<host>/api/v1/auth/oidc/callback. */
  readonly redirectUrl: string;
  readonly scopes: readonly string[];
  /** Claim naming the person (the audit's who); falls back to email, then sub. */
  readonly personClaim: string;
  /** Claim listing the person's groups. */
  readonly groupsClaim: string;
  /** Groups that may sign in, first match wins: each gives a role, departments and the face grant. */
  readonly groups: readonly OidcGroupMapping[];
  /** How long a console session (the token issued at sign-in) lasts, ms. */
  readonly sessionMs: number;
  /** The provider's name on the sign-in button. */
  readonly label: string;
}
export interface WebgpuConfig {
  readonly backend: (typeof WEBGPU_DAWN_BACKENDS)[number];
  readonly adapter: string | null;
  readonly flags: readonly string[];
  readonly allowSoftware: boolean;
  /** Structure people's best shots and live faces on the GPU too (face models and MoveNet on webgpu, in batches). */
  readonly structure: boolean;
}
export interface CvcoreConfig {
  readonly node: string;
  readonly dataDir: string;
  readonly cameras: readonly CameraConfig[];
  readonly ingest: { readonly queueSize: number; readonly stallTimeoutMs: number; readonly backoffInitialMs: number; readonly backoffMaxMs: number; readonly maxRetries: number;
    readonly hwaccel: HwAccel; readonly keyframesOnlyBelowFps: number;
    readonly liveMaxViewers: number; readonly liveIdleMs: number; readonly liveBitrateKbps: number;
    readonly urlSchemes: readonly CameraUrlScheme[]; readonly allowLocalFiles: boolean };
  readonly inference: {
    readonly backend: (typeof BACKENDS)[number];
    readonly workers: number;
    readonly model: string;
    /** The detector's square input size; null: the model's own. */
    readonly inputSize: number | null;
    readonly minScore: number;
    readonly iouThreshold: number;
    readonly classes: readonly ObjectClass[];
    readonly maxBatch: number;
    readonly maxDelayMs: number;
    readonly classMinScore: Readonly<Record<ObjectClass, number>>;
    /** Read licence plates of vehicle tracks (cars, buses, trucks, motorcycles). */
    readonly plates: boolean;
    readonly webgpu: WebgpuConfig;
  };
  readonly tracking: { readonly highScore: number; readonly lowScore: number; readonly newTrackScore: number; readonly minHits: number; readonly maxLostMs: number; readonly zoneHoldMs: number };
  readonly index: { readonly batchSize: number; readonly flushMs: number; readonly trackDays: number; readonly faceDays: number };
  /** Evidence exports (evidence/): retention and the limits of one request. */
  readonly exports: { readonly retentionDays: number; readonly maxTracks: number; readonly maxCameras: number; readonly maxRangeMs: number };
  /** The audit trail's signed checkpoints (search-index/audit.ts). */
  readonly audit: { readonly checkpointEvery: number; readonly checkpointIntervalMs: number };
  /** The data key that seals biometric data at rest (common/data-key.ts); env CVCORE_DATA_KEY_FILE overrides. */
  readonly dataKey: { readonly file: string | null };
  readonly alarms: AlarmsConfig;
  readonly recording: RecordingConfig;
  readonly nats: {
    readonly url: string | null; readonly user: string; readonly pass: string;
    /** A creds file (JWT + nkey seed) that replaces user/pass; env NATS_CREDS overrides. */
    readonly credsFile: string | null;
    /** TLS to the deployment's NATS: the CA file, and a client certificate where the servers ask for one; env NATS_CA overrides. */
    readonly tls: { readonly ca: string; readonly cert: string | null; readonly key: string | null } | null;
    /** The schema versions each crowd decision is published in (v1 and v2 by default; ['v2'] once every subscriber reads v2). */
    readonly crowdSchemas: readonly ('v1' | 'v2')[];
  };
  readonly api: ApiConfig;
  /** null: one node does everything alone (no cluster). */
  readonly cluster: ClusterConfig | null;
}
export const CLUSTER_ROLES = ['analytics', 'index', 'api'] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];
/** Cluster mode (cluster/): this node's roles and its share of the shared camera pool and index. */
export interface ClusterConfig {
  readonly roles: readonly ClusterRole[];
  /** Shards S of the record streams and the index; fixed when the cluster is created. */
  readonly shards: number;
  /** The shards this index node holds; empty: all of them. */
  readonly indexShards: readonly number[];
  /** JetStream replicas of the cluster's streams and buckets (at most the number of NATS servers). */
  readonly replicas: number;
  /** Cameras this analytics node takes at most. */
  readonly capacity: number;
  readonly leaseTtlMs: number;
  readonly renewMs: number;
  readonly searchTimeoutMs: number;
  /** The URL other nodes reach this node's API on (null: http://<api.host>:<api.port>). */
  readonly advertiseUrl: string | null;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const RECORDING_MODES = ['off', 'continuous', 'events'] as const;
const point: Spec = { kind: 'array', description: '[x, y] in analysis-frame pixels', items: { kind: 'number', description: 'coordinate', min: 0 }, minItems: 2, maxItems: 2 };
const d = DEFAULTS;

const crowdRule: Spec = {
  kind: 'object', description: 'crowd-gathering rule for the zone (null: none)', nullable: true, default: null,
  fields: {
    threshold: { kind: 'number', description: 'raise when the count (or density) stays at or above this', min: 1, max: 10_000, default: d.crowdRule.threshold },
    clearThreshold: { kind: 'number', description: 'clear when below this for clearMs (hysteresis; must be below threshold)', min: 0, max: 10_000, default: d.crowdRule.clearThreshold },
    sustainMs: { kind: 'number', integer: true, description: 'how long the count must hold before raising', min: 0, max: 3_600_000, default: d.crowdRule.sustainMs },
    clearMs: { kind: 'number', integer: true, description: 'how long below clearThreshold before clearing', min: 0, max: 3_600_000, default: d.crowdRule.clearMs },
    cooldownMs: { kind: 'number', integer: true, description: 'quiet time after a clear before a new incident may be raised', min: 0, max: 86_400_000, default: d.crowdRule.cooldownMs },
    updateStep: { kind: 'number', description: 'publish an update when the count grows by this much', min: 1, max: 10_000, default: d.crowdRule.updateStep },
    useDensity: { kind: 'boolean', description: 'compare people per m2 instead of the count (needs areaM2)', default: false },
    severities: {
      kind: 'array', description: 'severity by count, ascending minCount', default: [],
      items: { kind: 'object', description: 'one level', fields: {
        severity: { kind: 'string', description: 'level', enum: SEVERITIES },
        minCount: { kind: 'number', description: 'count (or density) from which this level applies', min: 0 },
      } },
    },
  },
};

const camera: Spec = {
  kind: 'object', description: 'one camera of the pool',
  fields: {
    id: { kind: 'string', description: 'stable id (letters, digits, _ and -)', pattern: ID },
    name: { kind: 'string', description: 'human-readable name', default: '' },
    url: { kind: 'string', description: 'the camera\'s stream: a URL of a scheme in ingest.urlSchemes (rtsp:// or rtsps:// by default), or a local file where ingest.allowLocalFiles; credentials are masked in logs and the API', minLength: 1 },
    department: { kind: 'string', description: 'owner department (access scope)', pattern: ID, default: d.camera.department },
    district: { kind: 'string', description: 'district (used in NATS subjects)', pattern: ID, default: d.camera.district },
    location: { kind: 'object', description: 'camera position', nullable: true, default: null, fields: {
      lat: { kind: 'number', description: 'latitude', min: -90, max: 90 },
      lon: { kind: 'number', description: 'longitude', min: -180, max: 180 },
    } },
    fps: { kind: 'number', description: 'analysis frames per second (ffmpeg fps filter)', min: 0.1, max: 60, default: d.camera.fps },
    width: { kind: 'number', integer: true, description: 'analysis width in pixels (ffmpeg scale)', min: 64, max: 3840, default: d.camera.width },
    height: { kind: 'number', integer: true, description: 'analysis height in pixels', min: 64, max: 2160, default: d.camera.height },
    transport: { kind: 'string', description: 'RTSP transport', enum: ['tcp', 'udp'], default: d.camera.transport },
    hwaccel: { kind: 'string', description: 'hardware decode for this camera (null: ingest.hwaccel)', enum: HWACCELS, nullable: true, default: d.camera.hwaccel },
    keyframesOnly: { kind: 'boolean', description: 'decode key frames only (ffmpeg -skip_frame nokey); on by itself below ingest.keyframesOnlyBelowFps', default: d.camera.keyframesOnly },
    detectEvery: { kind: 'number', integer: true, description: 'detect on every k-th analysed frame; the tracker predicts on the frames between (1: every frame)', min: 1, max: 100, default: d.camera.detectEvery },
    motion: { kind: 'object', description: 'motion gate: frames without motion skip detection (tracks still age)', default: 'fill', fields: {
      enabled: { kind: 'boolean', description: 'gate detection on motion (false: every frame is analysed)', default: d.motion.enabled },
      threshold: { kind: 'number', integer: true, description: 'grey-level difference from the background that counts as motion', min: 1, max: 255, default: d.motion.threshold },
      minArea: { kind: 'number', description: 'smallest motion region, as a fraction of the frame area', min: 0, max: 1, default: d.motion.minArea },
      alpha: { kind: 'number', description: 'background learning rate per frame (running average)', min: 0.001, max: 1, default: d.motion.alpha },
      forceEvery: { kind: 'number', integer: true, description: 'analyse at least every K-th frame so still objects are re-detected (0: never forced)', min: 0, max: 10_000, default: d.motion.forceEvery },
      detectRegions: { kind: 'boolean', description: 'detect on the moving part of the frame only (the onnx backend runs the crop at a smaller input; forced frames and large motion get the whole frame)', default: d.motion.detectRegions },
      regionMaxArea: { kind: 'number', description: 'motion covering more than this share of the frame is detected on the whole frame', min: 0.01, max: 1, default: d.motion.regionMaxArea },
      regionMargin: { kind: 'number', description: 'the motion box grows by this share of its size on each side before cropping', min: 0, max: 2, default: d.motion.regionMargin },
      masks: { kind: 'array', description: 'polygons (analysis-frame pixels) where motion is ignored', default: [], maxItems: 64, items: { kind: 'array', description: 'polygon', items: point, minItems: 3, maxItems: 64 } },
    } },
    enabled: { kind: 'boolean', description: 'decode this camera', default: true },
    zones: { kind: 'array', description: 'watched polygons', default: [], items: { kind: 'object', description: 'zone', fields: {
      id: { kind: 'string', description: 'zone id, unique per camera', pattern: ID },
      name: { kind: 'string', description: 'name', default: '' },
      polygon: { kind: 'array', description: 'polygon in analysis-frame pixels', items: point, minItems: 3, maxItems: 64 },
      areaM2: { kind: 'number', description: 'ground area in square metres (for density)', min: 0.01, nullable: true, default: d.zone.areaM2 },
      crowd: crowdRule,
      restricted: { kind: 'object', description: 'restricted zone (null: not restricted): a person whose face is on none of allowLists raises a stranger alarm (unknown_face); one who stays noFace.afterMs without a readable face, another (no_face)', nullable: true, default: null, fields: {
        allowLists: { kind: 'array', description: 'face watch-list ids (of the camera\'s department) whose entries may be in the zone', default: [], maxItems: 64, items: { kind: 'string', description: 'watch-list id', minLength: 1 } },
        threshold: { kind: 'number', description: 'similarity at or above which a face is on an allow-list (null: each entry\'s own threshold)', min: 0, max: 1, nullable: true, default: d.restricted.threshold },
        noFace: { kind: 'object', description: 'the no_face stranger alarm (null: off)', nullable: true, default: 'fill', fields: {
          afterMs: { kind: 'number', integer: true, description: 'a person in the zone this long with no face read raises it', min: 1_000, max: 86_400_000, default: d.restricted.noFaceAfterMs },
        } },
      } },
    } } },
    lines: { kind: 'array', description: 'counting lines', default: [], items: { kind: 'object', description: 'line', fields: {
      id: { kind: 'string', description: 'line id, unique per camera', pattern: ID },
      a: point, b: point,
    } } },
    recording: { kind: 'object', description: 'this camera\'s recording: each field absent takes the top-level recording setting (null: all of them)', nullable: true, default: null, fields: {
      mode: { kind: 'string', description: 'off, continuous, or events (only around tracks of classes and alarms)', enum: RECORDING_MODES, optional: true },
      preRollMs: { kind: 'number', integer: true, description: 'events mode: kept before a moment of interest, ms', min: 0, max: 300_000, optional: true },
      postRollMs: { kind: 'number', integer: true, description: 'events mode: kept after a moment of interest, ms', min: 0, max: 300_000, optional: true },
      classes: { kind: 'array', description: 'events mode: classes whose tracks are recorded', maxItems: 16, optional: true, items: { kind: 'string', description: 'object class', enum: OBJECT_CLASSES } },
      retentionDays: { kind: 'number', description: 'segments older than this are removed (unless held)', min: 0.0001, max: 3650, optional: true },
      quotaBytes: { kind: 'number', integer: true, description: 'bytes this camera\'s segments may take, oldest removed first (0: no per-camera quota)', min: 0, optional: true },
    } },
  },
};

export const CONFIG_SCHEMA: Spec = {
  kind: 'object', description: 'cvcore configuration',
  fields: {
    node: { kind: 'string', description: 'name of this node (in alerts)', pattern: ID, default: d.node },
    dataDir: { kind: 'string', description: 'storage directory (RocksDB index, outbox, NATS store for the embedded server)', default: d.dataDir },
    cameras: { kind: 'array', description: 'the camera pool', default: [], maxItems: 10_000, items: camera },
    alarms: { kind: 'object', description: 'live alarms: watch-list, frequency and stranger (watchlist/live.ts)', default: 'fill', fields: {
      faceRetryMs: { kind: 'number', integer: true, description: 'a live person track\'s face is read again after this long until one of faceMinQuality is found; the delay doubles after each read without one, up to 8 times this', min: 100, max: 60_000, default: d.alarms.faceRetryMs },
      faceMinQuality: { kind: 'number', description: 'face quality (0..1) a live face must reach to end the retries', min: 0, max: 1, default: d.alarms.faceMinQuality },
      faceMaxPerTrack: { kind: 'number', integer: true, description: 'faces embedded per track at most (the first good one, then clearly better views)', min: 1, max: 100, default: d.alarms.faceMaxPerTrack },
      cooldownMs: { kind: 'number', integer: true, description: 'after a watch-list alarm, the same entry on the same camera stays quiet this long (a tracker id switch does not alarm twice)', min: 0, max: 86_400_000, default: d.alarms.cooldownMs },
      faceThreshold: { kind: 'number', description: 'frequency rules\' default similarity threshold', min: 0, max: 1, default: d.alarms.faceThreshold },
      frequency: { kind: 'array', description: 'frequency rules: the same face in at least minCount distinct tracks within window', default: [], maxItems: 100, items: { kind: 'object', description: 'frequency rule', fields: {
        id: { kind: 'string', description: 'rule id (in the alarm)', pattern: ID },
        cameras: { kind: 'array', description: "camera ids, or ['*'] for every camera", default: ['*'], minItems: 1, maxItems: 10_000, items: { kind: 'string', description: 'camera id', minLength: 1 } },
        minCount: { kind: 'number', integer: true, description: 'distinct appearances (tracks) that raise the alarm', min: 2, max: 1_000 },
        window: { kind: 'string', description: "look-back window: '30s', '10m', '2h', '7d' or whole ms; at most index.faceDays", pattern: DURATION_PATTERN },
        minGap: { kind: 'string', description: 'appearances closer than this count once', pattern: DURATION_PATTERN, default: '30s' },
        threshold: { kind: 'number', description: 'similarity at or above which two faces are the same person (absent: alarms.faceThreshold)', min: 0, max: 1, optional: true },
        cooldown: { kind: 'string', description: 'no new alarm of this rule for a face similar to an alarmed one for this long (null: the window)', pattern: DURATION_PATTERN, nullable: true, default: null },
      } } },
    } },
    recording: { kind: 'object', description: 'recording of the cameras\' own streams (stream copy, MPEG-TS segments, recording/): defaults of every camera and limits of the recorder', default: 'fill', fields: {
      mode: { kind: 'string', description: 'off, continuous, or events (only around tracks of classes and alarms, with pre- and post-roll)', enum: RECORDING_MODES, default: d.recording.mode },
      segmentSeconds: { kind: 'number', integer: true, description: 'segment length, s (segments start at a keyframe, so they run to the next one after this)', min: 2, max: 600, default: d.recording.segmentSeconds },
      preRollMs: { kind: 'number', integer: true, description: 'events mode: kept before a moment of interest, ms', min: 0, max: 300_000, default: d.recording.preRollMs },
      postRollMs: { kind: 'number', integer: true, description: 'events mode: kept after a moment of interest, ms', min: 0, max: 300_000, default: d.recording.postRollMs },
      classes: { kind: 'array', description: 'events mode: classes whose tracks are recorded (alarms always are)', maxItems: 16, default: d.recording.classes, items: { kind: 'string', description: 'object class', enum: OBJECT_CLASSES } },
      retentionDays: { kind: 'number', description: 'segments older than this are removed, oldest first (unless held)', min: 0.0001, max: 3650, default: d.recording.retentionDays },
      quotaBytes: { kind: 'number', integer: true, description: 'bytes each camera\'s segments may take, oldest removed first (0: no per-camera quota)', min: 0, default: d.recording.quotaBytes },
      totalQuotaBytes: { kind: 'number', integer: true, description: 'bytes all cameras\' segments may take together, oldest removed first (0: none)', min: 0, default: d.recording.totalQuotaBytes },
      minFreeBytes: { kind: 'number', integer: true, description: 'below this many free bytes on the recording disk, retention runs and recording stops (state disk-full) until there is room', min: 0, default: d.recording.minFreeBytes },
      maxClipMs: { kind: 'number', integer: true, description: 'longest clip, ms (RECORDING_RANGE_TOO_LONG above)', min: 1_000, max: 86_400_000, default: d.recording.maxClipMs },
      clipCacheMs: { kind: 'number', integer: true, description: 'a cut clip stays cached this long after its last use, ms', min: 1_000, max: 86_400_000, default: d.recording.clipCacheMs },
      retentionIntervalMs: { kind: 'number', integer: true, description: 'how often retention runs, ms', min: 1_000, max: 86_400_000, default: d.recording.retentionIntervalMs },
    } },
    ingest: { kind: 'object', description: 'decoding', default: 'fill', fields: {
      queueSize: { kind: 'number', integer: true, description: 'frames buffered per camera before the oldest is dropped', min: 1, max: 256, default: d.ingest.queueSize },
      stallTimeoutMs: { kind: 'number', integer: true, description: 'no frame for this long -> restart the decoder', min: 500, max: 600_000, default: d.ingest.stallTimeoutMs },
      backoffInitialMs: { kind: 'number', integer: true, description: 'first reconnect delay', min: 10, max: 600_000, default: d.ingest.backoffInitialMs },
      backoffMaxMs: { kind: 'number', integer: true, description: 'reconnect delay cap', min: 10, max: 3_600_000, default: d.ingest.backoffMaxMs },
      maxRetries: { kind: 'number', integer: true, description: 'give up (state failed) after this many failed connects in a row; 0 = never', min: 0, max: 1_000_000, default: d.ingest.maxRetries },
      hwaccel: { kind: 'string', description: 'hardware decode for every camera (cuda: ffmpeg -hwaccel cuda; needs an NVIDIA GPU and a CUDA-enabled ffmpeg)', enum: HWACCELS, default: d.ingest.hwaccel },
      liveMaxViewers: { kind: 'number', integer: true, description: 'live-view (WebSocket MPEG-1) viewers per camera; one more is refused with INGEST_VIEWER_LIMIT', min: 1, max: 100, default: d.ingest.liveMaxViewers },
      liveIdleMs: { kind: 'number', integer: true, description: 'a live-view relay stops this long after its last viewer left', min: 0, max: 3_600_000, default: d.ingest.liveIdleMs },
      liveBitrateKbps: { kind: 'number', integer: true, description: 'live-view MPEG-1 bit rate, kbit/s', min: 100, max: 20_000, default: d.ingest.liveBitrateKbps },
      keyframesOnlyBelowFps: { kind: 'number', description: 'cameras analysed at or below this rate decode key frames only (0: only where keyframesOnly is set)', min: 0, max: 60, default: d.ingest.keyframesOnlyBelowFps },
      urlSchemes: { kind: 'array', description: 'camera URL schemes this core opens (ffmpeg runs with a protocol whitelist per scheme)', minItems: 1, items: { kind: 'string', description: 'a scheme', enum: CAMERA_URL_SCHEMES }, default: d.ingest.urlSchemes },
      allowLocalFiles: { kind: 'boolean', description: 'config-file cameras may read local files (benchmarks, tests); the API never accepts them', default: d.ingest.allowLocalFiles },
    } },
    inference: { kind: 'object', description: 'models and backends', default: 'fill', fields: {
      backend: { kind: 'string', description: 'tfjs backend', enum: BACKENDS, default: d.inference.backend },
      workers: { kind: 'number', integer: true, description: 'worker threads (one backend each)', min: 1, max: 64, default: d.inference.workers },
      model: { kind: 'string', description: 'detector model from models/manifest.json (task object-detection)', default: d.inference.model },
      inputSize: { kind: 'number', integer: true, description: 'detector input size in pixels (square), one of the model\'s inputSizes in the manifest; null: the model\'s own', min: 64, max: 2048, nullable: true, default: d.inference.inputSize },
      minScore: { kind: 'number', description: 'lowest detection score kept (the tracker uses low scores too)', min: 0, max: 1, default: d.inference.minScore },
      iouThreshold: { kind: 'number', description: 'NMS IoU threshold', min: 0.05, max: 1, default: d.inference.iouThreshold },
      classes: { kind: 'array', description: 'classes kept', default: OBJECT_CLASSES, minItems: 1, items: { kind: 'string', description: 'class', enum: OBJECT_CLASSES } },
      maxBatch: { kind: 'number', integer: true, description: 'frames per batch across cameras', min: 1, max: 64, default: d.inference.maxBatch },
      maxDelayMs: { kind: 'number', integer: true, description: 'push a partial batch once its oldest frame waited this long', min: 0, max: 10_000, default: d.inference.maxDelayMs },
      classMinScore: { kind: 'object', description: 'per-class lowest detection score kept (overrides minScore for that class)', default: 'fill', fields: Object.fromEntries(
        OBJECT_CLASSES.map((c) => [c, { kind: 'number', description: `lowest ${c} score kept`, min: 0, max: 1, default: d.inference.classMinScore[c] }]),
      ) },
      plates: { kind: 'boolean', description: 'read licence plates of car, bus, truck and motorcycle tracks (PP-OCRv4 on up to 4 crops per track, voted); a missing OCR model leaves records without plates and health plates.state "unavailable"', default: d.inference.plates },
      webgpu: { kind: 'object', description: 'the webgpu backend (Dawn); used only when backend is webgpu', default: 'fill', fields: {
        backend: { kind: 'string', description: 'Dawn backend type (its backend= flag)', enum: WEBGPU_DAWN_BACKENDS, default: d.inference.webgpu.backend },
        adapter: { kind: 'string', description: 'adapter name (Dawn\'s adapter= flag, matched against the adapter description); null: the first hardware adapter', nullable: true, minLength: 1, default: d.inference.webgpu.adapter },
        flags: { kind: 'array', description: 'extra Dawn flags as key=value (e.g. enable-dawn-features=...)', default: d.inference.webgpu.flags, maxItems: 32, items: { kind: 'string', description: 'key=value', pattern: /^[a-z][a-z0-9-]*=.*$/ } },
        allowSoftware: { kind: 'boolean', description: 'accept a software (fallback) adapter such as lavapipe when no hardware one exists (CI)', default: d.inference.webgpu.allowSoftware },
        structure: { kind: 'boolean', description: 'structure people (face models, pose) on the GPU thread in batches; false: on the CPU threads on wasm', default: d.inference.webgpu.structure },
      } },
    } },
    tracking: { kind: 'object', description: 'tracker', default: 'fill', fields: {
      highScore: { kind: 'number', description: 'detections at or above go to the first association stage', min: 0, max: 1, default: d.tracking.highScore },
      lowScore: { kind: 'number', description: 'detections below are ignored', min: 0, max: 1, default: d.tracking.lowScore },
      newTrackScore: { kind: 'number', description: 'an unmatched detection starts a track only from this score', min: 0, max: 1, default: d.tracking.newTrackScore },
      minHits: { kind: 'number', integer: true, description: 'matched frames before a track is confirmed', min: 1, max: 100, default: d.tracking.minHits },
      zoneHoldMs: { kind: 'number', integer: true, description: 'a person the tracker lost a moment ago still counts in zones for this long, at the predicted position', min: 0, max: 60_000, default: d.tracking.zoneHoldMs },
      maxLostMs: { kind: 'number', integer: true, description: 'ms a lost track is kept before removal (time, so it holds at any analysis rate)', min: 0, max: 600_000, default: d.tracking.maxLostMs },
    } },
    index: { kind: 'object', description: 'search index', default: 'fill', fields: {
      batchSize: { kind: 'number', integer: true, description: 'records per write batch', min: 1, max: 100_000, default: d.index.batchSize },
      flushMs: { kind: 'number', integer: true, description: 'write a partial batch after this long', min: 1, max: 60_000, default: d.index.flushMs },
      trackDays: { kind: 'number', description: 'retention of track records', min: 0.001, max: 3650, default: d.index.trackDays },
      faceDays: { kind: 'number', description: 'retention of records with a face embedding', min: 0.001, max: 3650, default: d.index.faceDays },
    } },
    exports: { kind: 'object', description: 'evidence exports (signed zips of clips and records, evidence/)', default: 'fill', fields: {
      retentionDays: { kind: 'number', integer: true, description: 'an export zip is removed this many days after it was made, unless under a legal hold', min: 1, max: 3650, default: d.exports.retentionDays },
      maxTracks: { kind: 'number', integer: true, description: 'tracks one export request may name', min: 1, max: 1000, default: d.exports.maxTracks },
      maxCameras: { kind: 'number', integer: true, description: 'cameras one export request may name', min: 1, max: 100, default: d.exports.maxCameras },
      maxRangeMs: { kind: 'number', integer: true, description: 'longest time range of a camera export, and longest clip of a track', min: 1_000, max: 86_400_000, default: d.exports.maxRangeMs },
    } },
    audit: { kind: 'object', description: 'the tamper-evident audit trail: each entry hashes the one before; checkpoints of the head are signed with the node key', default: 'fill', fields: {
      checkpointEvery: { kind: 'number', integer: true, description: 'a signed checkpoint every this many entries', min: 1, max: 1_000_000, default: d.audit.checkpointEvery },
      checkpointIntervalMs: { kind: 'number', integer: true, description: 'a signed checkpoint this often when there were new entries, ms (0: only every N entries and at a clean stop)', min: 0, max: 86_400_000, default: d.audit.checkpointIntervalMs },
    } },
    dataKey: { kind: 'object', description: 'the data key that seals biometric data at rest (AES-256-GCM; `cvcore keys init` makes one)', default: 'fill', fields: {
      file: { kind: 'string', description: 'the data key file (env CVCORE_DATA_KEY_FILE overrides; null: <dataDir>/keys/data-key.json, made on first start: it protects copies of the data folder, not the machine)', nullable: true, default: d.dataKey.file },
    } },
    nats: { kind: 'object', description: 'NATS connection (url null: start the embedded nats-server from nats.conf)', default: 'fill', fields: {
      url: { kind: 'string', description: 'nats://host:port of the deployment (env NATS_URL overrides)', nullable: true, default: d.nats.url },
      user: { kind: 'string', description: 'user (env NATS_USER overrides)', default: d.nats.user },
      pass: { kind: 'string', description: 'password (env NATS_PASS overrides)', default: d.nats.pass },
      credsFile: { kind: 'string', description: 'a NATS creds file (JWT + nkey seed) that replaces user/pass (env NATS_CREDS overrides)', nullable: true, default: null },
      tls: { kind: 'object', description: 'TLS to the deployment\'s NATS (tls:// URLs; env NATS_CA, NATS_CERT, NATS_KEY override)', nullable: true, default: null, fields: {
        ca: { kind: 'string', description: 'PEM file of the CA that signed the servers\' certificates', minLength: 1 },
        cert: { kind: 'string', description: 'client certificate PEM, where the servers verify clients', nullable: true, default: null },
        key: { kind: 'string', description: 'the client certificate\'s key PEM', nullable: true, default: null },
      } },
      crowdSchemas: { kind: 'array', description: 'schema versions each crowd decision is published in: v1 (citybrain.alerts.crowd.*) and v2 with the clear reason (citybrain.v2.alerts.crowd.*); [\'v2\'] once every subscriber reads v2 halves the cost of a decision', default: d.nats.crowdSchemas, minItems: 1, maxItems: 2,
        items: { kind: 'string', description: 'v1 or v2', enum: ['v1', 'v2'] } },
    } },
    api: { kind: 'object', description: 'HTTP API', default: 'fill', fields: {
      host: { kind: 'string', description: 'listen address', default: d.api.host },
      port: { kind: 'number', integer: true, description: 'listen port (0: any free port)', min: 0, max: 65535, default: d.api.port },
      tokens: { kind: 'array', description: 'API tokens (Authorization: Bearer <token>); none: every guarded route answers 401', default: d.api.tokens, maxItems: 10_000, items: {
        kind: 'object', description: 'one token; give exactly one of token and tokenSha256', fields: {
          id: { kind: 'string', description: 'who holds the token (written to the audit log; never the secret)', pattern: ID },
          token: { kind: 'string', description: 'the secret itself (at least 8 characters)', minLength: 8, optional: true },
          tokenSha256: { kind: 'string', description: 'hex SHA-256 of the secret, so the config need not hold it', pattern: /^[0-9a-f]{64}$/, optional: true },
          role: { kind: 'string', description: 'investigator: search; operator: cameras and health; admin: everything, audit log included', enum: API_ROLES },
          departments: { kind: 'array', description: "departments whose cameras the token sees, or ['*'] for all", minItems: 1, maxItems: 1000,
            items: { kind: 'string', description: 'department id or *', pattern: /^(\*|[A-Za-z0-9_-]{1,64})$/ } },
          faces: { kind: 'boolean', description: 'the face grant: face search, face crops and photos, live and recorded video, unblurred person thumbnails (default true); a desk that needs no faces (traffic) gets false', optional: true },
        },
      } },
      rateLimit: { kind: 'object', description: 'token bucket per API token (per client address before a token is known)', default: 'fill', fields: {
        perMinute: { kind: 'number', integer: true, description: 'sustained requests per minute', min: 1, max: 1_000_000, default: d.api.rateLimit.perMinute },
        burst: { kind: 'number', integer: true, description: 'requests allowed at once above the sustained rate (bucket size)', min: 1, max: 100_000, default: d.api.rateLimit.burst },
      } },
      maxUploadBytes: { kind: 'number', integer: true, description: 'largest face-search image upload, bytes', min: 1024, max: 64 * 1024 * 1024, default: d.api.maxUploadBytes },
      tls: { kind: 'object', description: 'serve HTTPS (null: plain HTTP, which a non-loopback host refuses unless allowPlainHttp)', nullable: true, default: null, fields: {
        cert: { kind: 'string', description: 'PEM file of the server certificate (and its chain)', minLength: 1 },
        key: { kind: 'string', description: 'PEM file of the certificate\'s private key', minLength: 1 },
      } },
      allowPlainHttp: { kind: 'boolean', description: 'serve plain HTTP on a non-loopback host (tokens and personal data then cross the network in clear)', default: d.api.allowPlainHttp },
      oidc: { kind: 'object', description: 'console sign-in through an OpenID Connect provider (authorization code with PKCE); each sign-in issues the person a token of sessionMs (null: tokens only)', nullable: true, default: null, fields: {
        issuer: { kind: 'string', description: 'the provider\'s issuer URL (https, or http on a loopback host)', pattern: /^https?:\/\/[^\s]+$/ },
        clientId: { kind: 'string', description: 'this API\'s client id at the provider', pattern: /^[^\s]{1,256}$/ },
        clientSecret: { kind: 'string', description: 'its client secret (env CVCORE_OIDC_CLIENT_SECRET overrides; null: a public client, PKCE only)', nullable: true, default: null },
        redirectUrl: { kind: 'string', description: 'the callback as registered at the provider: https://<this API>/api/v1/auth/oidc/callback', pattern: /^https?:\/\/[^\s]+\/api\/v1\/auth\/oidc\/callback$/ },
        scopes: { kind: 'array', description: 'scopes asked for (openid is added when missing)', default: ['openid', 'profile', 'email'], minItems: 1, maxItems: 20,
          items: { kind: 'string', description: 'scope', pattern: /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/ } },
        personClaim: { kind: 'string', description: 'claim naming the person, for the audit trail (then email, then sub)', default: 'name', pattern: /^[^\u0000-\u001f]{1,64}$/ },
        groupsClaim: { kind: 'string', description: 'claim listing the person\'s groups', default: 'groups', pattern: /^[^\u0000-\u001f]{1,64}$/ },
        groups: { kind: 'array', description: 'the groups that may sign in, first match wins; a person in none is refused (API_OIDC_NO_GROUP)', minItems: 1, maxItems: 1000, items: {
          kind: 'object', description: 'one group', fields: {
            group: { kind: 'string', description: 'a value of the groups claim', pattern: /^[^\u0000-\u001f]{1,256}$/ },
            role: { kind: 'string', description: 'the role its members get', enum: API_ROLES },
            departments: { kind: 'array', description: "departments, or ['*']", minItems: 1, maxItems: 64, items: { kind: 'string', description: 'department id or *', pattern: /^(\*|[A-Za-z0-9_-]{1,64})$/ } },
            faces: { kind: 'boolean', description: 'the face grant (default true)', default: true },
          },
        } },
        sessionMs: { kind: 'number', integer: true, description: 'how long a console session (the token issued at sign-in) lasts, ms', min: 60_000, max: 7 * 86_400_000, default: 12 * 3_600_000 },
        label: { kind: 'string', description: 'the provider\'s name on the console\'s sign-in button', default: 'single sign-on', pattern: /^[^\u0000-\u001f]{1,64}$/ },
      } },
    } },
    cluster: { kind: 'object', description: 'cluster mode: share the camera pool and the index with other nodes over NATS JetStream (null: one node does everything)', nullable: true, default: null, fields: {
      roles: { kind: 'array', description: 'what this node does: analytics (ingest, inference, tracking, crowd rules), index (RocksDB shards and search), api (HTTP, console)', minItems: 1, maxItems: 3, default: d.cluster.roles,
        items: { kind: 'string', description: 'role', enum: CLUSTER_ROLES } },
      shards: { kind: 'number', integer: true, description: 'shards of the record streams and the index (fixed when the cluster is created)', min: 1, max: 256, default: d.cluster.shards },
      indexShards: { kind: 'array', description: 'the shards this index node holds (empty: all)', default: [], maxItems: 256,
        items: { kind: 'number', integer: true, description: 'shard', min: 0, max: 255 } },
      replicas: { kind: 'number', integer: true, description: 'JetStream replicas of the cluster\'s streams and key-value buckets (at most the NATS servers)', min: 1, max: 5, default: d.cluster.replicas },
      capacity: { kind: 'number', integer: true, description: 'cameras this analytics node takes at most (bench capacity measures it)', min: 0, max: 10_000, default: d.cluster.capacity },
      leaseTtlMs: { kind: 'number', integer: true, description: 'a camera lease not renewed for this long is taken over by another node', min: 1_000, max: 600_000, default: d.cluster.leaseTtlMs },
      renewMs: { kind: 'number', integer: true, description: 'how often leases and membership are renewed (well under leaseTtlMs)', min: 100, max: 60_000, default: d.cluster.renewMs },
      searchTimeoutMs: { kind: 'number', integer: true, description: 'how long a search waits for each shard before naming it missing', min: 100, max: 60_000, default: d.cluster.searchTimeoutMs },
      advertiseUrl: { kind: 'string', description: 'the URL other nodes reach this node\'s API on (null: http://api.host:api.port)', nullable: true, default: null },
    } },
  },
};

/**
 * Checks a camera entry on its own (cameras added at run time). Its URL must pass `urls` (default: rtsp:// and
 * rtsps:// only, no local files; the API passes the config's schemes, never files).
 */
export function parseCamera(input: unknown, path = 'camera', urls: CameraUrlPolicy = DEFAULT_URL_POLICY): CameraConfig {
  const cam = validate(camera, input, path) as CameraConfig;
  checkCamera(cam, path, urls);
  return cam;
}

/** The URL policy of a config (config-file cameras): its schemes, and files where the operator allowed them. */
export function urlPolicyOf(cfg: Pick<CvcoreConfig, 'ingest'>, files: boolean = cfg.ingest.allowLocalFiles): CameraUrlPolicy {
  return { schemes: cfg.ingest.urlSchemes, allowFiles: files };
}

function checkCamera(cam: CameraConfig, path: string, urls: CameraUrlPolicy): void {
  checkCameraUrl(cam.url, urls, `${path}.url`);
  const zoneIds = new Set<string>();
  cam.lines.forEach((l, i) => validateLine(l, `${path}.lines[${i}]`));
  cam.zones.forEach((z, i) => {
    const zp = `${path}.zones[${i}]`;
    if (zoneIds.has(z.id)) throw new ConfigError('CONFIG_INVALID_VALUE', `${zp}.id: duplicate zone id "${z.id}"`, { detail: { path: `${zp}.id` } });
    zoneIds.add(z.id);
    // Geometry (self-intersection) and rule ranges are the tracking stage's rules; they name the path too.
    validateZone({ id: z.id, polygon: z.polygon }, zp);
    if (z.crowd) {
      if (z.crowd.clearThreshold >= z.crowd.threshold) {
        throw new ConfigError('CONFIG_INVALID_VALUE', `${zp}.crowd.clearThreshold: must be below threshold (${z.crowd.threshold})`, { detail: { path: `${zp}.crowd.clearThreshold` } });
      }
      if (z.crowd.useDensity && z.areaM2 === null) {
        throw new ConfigError('CONFIG_INVALID_VALUE', `${zp}.crowd.useDensity: needs ${zp}.areaM2`, { detail: { path: `${zp}.crowd.useDensity` } });
      }
      validateCrowdRule(z.crowd, `${zp}.crowd`);
    }
  });
}

export function parseConfig(input: unknown): CvcoreConfig {
  const cfg = validate(CONFIG_SCHEMA, input, '') as CvcoreConfig;
  const ids = new Set<string>();
  cfg.cameras.forEach((cam, i) => {
    if (ids.has(cam.id)) throw new ConfigError('CONFIG_INVALID_VALUE', `cameras[${i}].id: duplicate camera id "${cam.id}"`, { detail: { path: `cameras[${i}].id` } });
    ids.add(cam.id);
    checkCamera(cam, `cameras[${i}]`, urlPolicyOf(cfg));
  });
  if (cfg.tracking.lowScore > cfg.tracking.highScore) {
    throw new ConfigError('CONFIG_INVALID_VALUE', 'tracking.lowScore: must not exceed tracking.highScore', { detail: { path: 'tracking.lowScore' } });
  }
  checkDetector(cfg.inference.model, cfg.inference.inputSize);
  if (cfg.ingest.backoffInitialMs > cfg.ingest.backoffMaxMs) {
    throw new ConfigError('CONFIG_INVALID_VALUE', 'ingest.backoffInitialMs: must not exceed ingest.backoffMaxMs', { detail: { path: 'ingest.backoffInitialMs' } });
  }
  checkApiTokens(cfg.api);
  checkCluster(cfg.cluster);
  checkAlarms(cfg);
  return fillRuleThresholds(cfg);
}

/** Frequency rules: unique ids, cameras that exist, windows the face retention can answer (index.faceDays). */
function checkAlarms(cfg: CvcoreConfig): void {
  const ids = new Set<string>();
  const faceMs = cfg.index.faceDays * 86_400_000;
  cfg.alarms.frequency.forEach((r, i) => {
    const p = `alarms.frequency[${i}]`;
    const fail = (field: string, why: string): never => {
      throw new ConfigError('CONFIG_INVALID_VALUE', `${p}.${field}: ${why}`, { detail: { path: `${p}.${field}` } });
    };
    if (ids.has(r.id)) fail('id', `duplicate rule id "${r.id}"`);
    ids.add(r.id);
    const window = parseDuration(r.window, `${p}.window`);
    if (window <= 0) fail('window', 'must be longer than 0');
    // Earlier appearances are found in the face index, which forgets faces after index.faceDays.
    if (window > faceMs) fail('window', `${r.window} is longer than the face retention (index.faceDays: ${cfg.index.faceDays} days)`);
    if (parseDuration(r.minGap, `${p}.minGap`) >= window) fail('minGap', `must be shorter than window (${r.window})`);
    if (r.cooldown !== null) parseDuration(r.cooldown, `${p}.cooldown`);
    if (r.cameras.includes('*') && r.cameras.length > 1) fail('cameras', "'*' must stand alone");
    // Cameras are added at run time too, so an id not in the file is allowed; a duplicate is a mistake.
    if (new Set(r.cameras).size !== r.cameras.length) fail('cameras', 'names a camera twice');
  });
}

/** Frequency rules without a threshold take alarms.faceThreshold (the config stays frozen: a new object). */
function fillRuleThresholds(cfg: CvcoreConfig): CvcoreConfig {
  if (cfg.alarms.frequency.every((r) => r.threshold !== undefined)) return cfg;
  const frequency = Object.freeze(cfg.alarms.frequency.map((r) => Object.freeze({ ...r, threshold: r.threshold ?? cfg.alarms.faceThreshold })));
  return Object.freeze({ ...cfg, alarms: Object.freeze({ ...cfg.alarms, frequency }) });
}

/** The detector must be a manifest entry that detects objects, at a size its graph can run at. */
function checkDetector(model: string, inputSize: number | null): void {
  const models = loadManifest().models;
  const entry = models.find((m) => m.name === model);
  const detectors = models.filter((m) => m.task === 'object-detection').map((m) => m.name);
  if (!entry || entry.task !== 'object-detection') {
    throw new ConfigError('CONFIG_INVALID_VALUE', `inference.model: "${model}" is not a detector in models/manifest.json (detectors: ${detectors.join(', ')})`, { detail: { path: 'inference.model' } });
  }
  const sizes = entry.inputSizes ?? [entry.inputShape[1] ?? 0];
  if (inputSize !== null && !sizes.includes(inputSize)) {
    throw new ConfigError('CONFIG_INVALID_VALUE', `inference.inputSize: ${model} runs at ${sizes.join(', ')}, not ${inputSize}`, { detail: { path: 'inference.inputSize' } });
  }
}

function checkCluster(c: ClusterConfig | null): void {
  if (!c) return;
  const fail = (field: string, why: string): never => {
    throw new ConfigError('CONFIG_INVALID_VALUE', `cluster.${field}: ${why}`, { detail: { path: `cluster.${field}` } });
  };
  if (new Set(c.roles).size !== c.roles.length) fail('roles', 'names a role twice');
  c.indexShards.forEach((s, i) => { if (s >= c.shards) fail(`indexShards[${i}]`, `shard ${s} does not exist (shards: ${c.shards})`); });
  if (c.renewMs * 3 > c.leaseTtlMs) fail('renewMs', `must be at most a third of leaseTtlMs (${c.leaseTtlMs}), so a lease survives two missed renewals`);
}

function checkApiTokens(api: ApiConfig): void {
  const ids = new Set<string>();
  const secrets = new Set<string>();
  api.tokens.forEach((t, i) => {
    const p = `api.tokens[${i}]`;
    const fail = (field: string, why: string): never => {
      throw new ConfigError('CONFIG_INVALID_VALUE', `${p}.${field}: ${why}`, { detail: { path: `${p}.${field}` } });
    };
    if (ids.has(t.id)) fail('id', `duplicate token id "${t.id}"`);
    ids.add(t.id);
    if ((t.token === undefined) === (t.tokenSha256 === undefined)) fail('token', 'give exactly one of token and tokenSha256');
    const key = t.tokenSha256 ?? createHash('sha256').update(t.token!, 'utf8').digest('hex');
    // Two holders with one secret could not be told apart in the audit log.
    if (secrets.has(key)) fail(t.token !== undefined ? 'token' : 'tokenSha256', 'the same secret is given to another token');
    secrets.add(key);
    if (t.departments.includes('*') && t.departments.length > 1) fail('departments', "'*' must stand alone");
  });
}

export async function loadConfig(file: string): Promise<CvcoreConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError('CONFIG_UNREADABLE', `cannot read config file ${file}`, { cause, detail: { path: file } });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError('CONFIG_UNREADABLE', `${file} is not valid JSON: ${(cause as Error).message}`, { cause, detail: { path: file } });
  }
  return parseConfig(json);
}

export const configSchemaDescription = (): unknown => describe(CONFIG_SCHEMA);
