import { availableParallelism } from 'node:os';

/** Every default in one place, named. The schema (config/index.ts) refers to these, and so do the docs. */
export const DEFAULTS = {
  node: 'cvcore-1',
  dataDir: '.cache/data',
  camera: {
    fps: 5,
    width: 640,
    height: 480,
    transport: 'tcp',
    department: 'public-security',
    district: 'default',
    hwaccel: null,
    keyframesOnly: false,
    // Detect on every analysed frame (1); above 1 the tracker predicts on the frames between detections, which
    // buys cameras at some accuracy (README "Choosing the detector").
    detectEvery: 1,
  },
  // Motion gate (ingest/motion.ts): grey differences against a running-average background on a 160-pixel-wide
  // copy of the analysis frame. A threshold of 25 grey levels ignores sensor noise and compression flicker on
  // the sample footage; 0.1% of the frame is a walking person far from the camera at 640x480.
  motion: {
    enabled: true,
    threshold: 25,
    minArea: 0.001,
    alpha: 0.05,
    forceEvery: 5,
    // Detection on the moving part of the frame only (onnx backend): off by default; where motion covers more
    // than regionMaxArea of the frame the whole frame is detected. regionMargin grows the motion box on each side
    // (a fraction of its size) so a walker's whole body is in the crop.
    detectRegions: false,
    regionMaxArea: 0.5,
    regionMargin: 0.25,
  },
  zone: { areaM2: null },
  crowdRule: {
    threshold: 8,
    clearThreshold: 5,
    sustainMs: 3_000,
    clearMs: 5_000,
    cooldownMs: 30_000,
    updateStep: 3,
  },
  ingest: {
    queueSize: 4,
    stallTimeoutMs: 10_000,
    backoffInitialMs: 500,
    backoffMaxMs: 30_000,
    maxRetries: 0,
    hwaccel: 'none',
    keyframesOnlyBelowFps: 0.5,
    // Live view: an MPEG-1 encode per watched camera; a handful of viewers per camera is what an
    // investigation room needs, and 10 s of grace keeps a page reload from restarting ffmpeg.
    liveMaxViewers: 4,
    liveIdleMs: 10_000,
    liveBitrateKbps: 800,
    // Cameras speak RTSP; anything else is the deployment's explicit choice (config/camera-url.ts).
    urlSchemes: ['rtsp', 'rtsps'],
    allowLocalFiles: false,
  },
  inference: {
    // onnxruntime's CPU kernels run centernet at a quarter of tfjs-wasm's CPU (README "Choosing the detector").
    backend: 'onnx' as (typeof BACKENDS)[number],
    // One inference thread per core: detection is the node's main cost, and a thread per core is what the
    // capacity benchmark measures as "the default configuration".
    workers: Math.max(1, Math.min(64, availableParallelism())),
    model: 'centernet',
    // null: the model's own input size (512 for centernet). Smaller sizes cost less and find fewer people
    // (README "Choosing the detector").
    inputSize: null as number | null,
    minScore: 0.3,
    iouThreshold: 0.5,
    maxBatch: 4,
    maxDelayMs: 40,
    // Per-class floors over minScore. Person stays at the tracker's low stage (ByteTrack re-associates weak
    // person boxes); bus and truck sit higher because centernet confuses them with each other and with cars
    // at low scores on street footage.
    // Licence plates of vehicle tracks (inference/plate.ts), read from a few crops per track at track end.
    plates: true,
    classMinScore: { person: 0.2, bicycle: 0.3, car: 0.3, motorcycle: 0.3, bus: 0.35, truck: 0.35 },
    // Dawn's Vulkan backend; adapter null: the first hardware adapter, else (allowSoftware) lavapipe for CI.
    // structure: people's best shots and live faces are structured on the GPU thread too.
    webgpu: { backend: 'vulkan', adapter: null, flags: [], allowSoftware: true, structure: true },
  },
  // For centernet on surveillance footage, whose person scores sit around 0.35-0.75 (the MOT tools keep the
  // tracker's own defaults, tuned on Faster R-CNN detections that score higher).
  tracking: {
    highScore: 0.4,
    lowScore: 0.2,
    newTrackScore: 0.45,
    minHits: 2,
    maxLostMs: 2_400,
    // A person the tracker lost a moment ago still counts in a zone for this long (tracking/zones.ts).
    zoneHoldMs: 2_000,
  },
  index: { batchSize: 256, flushMs: 500, trackDays: 30, faceDays: 7 },
  // Evidence exports (evidence/): kept as long as the records they copy; a camera range of 10 minutes on 8
  // cameras is about what one investigator downloads at a time (clips are stream copies, ~1 MB per camera-minute).
  exports: { retentionDays: 30, maxTracks: 50, maxCameras: 8, maxRangeMs: 600_000 },
  // The audit trail's signed checkpoints (search-index/audit.ts): every N entries, and on a timer when it moved.
  audit: { checkpointEvery: 1000, checkpointIntervalMs: 600_000 },
  dataKey: { file: null },
  // Live alarms (watchlist/live.ts, runtime/pipeline.ts): a live person's face is read once a second until one of
  // quality 0.5 is found (the astronaut's frontal face scores about 0.8, a turned or blurred one under 0.4), then
  // only for a clearly better view, at most 4 times per track. One alarm per entry per camera a minute.
  alarms: { faceRetryMs: 1_000, faceMinQuality: 0.5, faceMaxPerTrack: 4, cooldownMs: 60_000, faceThreshold: 0.6, frequency: [] },
  restricted: { threshold: null, noFaceAfterMs: 30_000 },
  // Recording (recording/): 10 s MPEG-TS segments, kept 30 days; events mode keeps 10 s before and 10 s after
  // each track of the chosen classes and each alarm. Recording stops for a camera (disk-full) when the disk has
  // under 1 GiB free; a clip is at most 10 minutes and stays cached 10 minutes.
  recording: {
    mode: 'off' as 'off' | 'continuous' | 'events', segmentSeconds: 10, preRollMs: 10_000, postRollMs: 10_000,
    classes: ['person', 'car', 'bus', 'truck', 'motorcycle', 'bicycle'] as string[],
    retentionDays: 30, quotaBytes: 0, totalQuotaBytes: 0, minFreeBytes: 1024 ** 3,
    maxClipMs: 600_000, clipCacheMs: 600_000, retentionIntervalMs: 60_000,
  },
  nats: { url: null, user: 'core', pass: 'core-demo-pass', credsFile: null, tls: null, crowdSchemas: ['v1', 'v2'] as ('v1' | 'v2')[] },
  api: {
    host: '127.0.0.1',
    port: 8080,
    // No token by default: a core started from a config without tokens answers 401 on every guarded route
    // rather than handing personal data to anyone. The demo (runtime/demo.ts) sets its own demo tokens.
    tokens: [],
    rateLimit: { perMinute: 600, burst: 60 },
    maxUploadBytes: 5 * 1024 * 1024,
    // Tokens and personal data cross a network only over HTTPS: plain HTTP is for loopback unless allowed.
    tls: null,
    allowPlainHttp: false,
    // Console sign-in through the city's identity provider (OpenID Connect): off until configured.
    oidc: null,
  },
  // Cluster mode (cluster/). Four shards spread a small cluster's index over its index nodes; three replicas
  // survive one NATS server down. A lease lives 8 s and is renewed every 2 s: three renewals can be missed (an
  // event loop busy for 6 s) before another node takes the camera, and failover (lease expiry, then the new
  // owner's decoder and first detections) stays within 15 s.
  cluster: {
    roles: ['analytics', 'index', 'api'] as ('analytics' | 'index' | 'api')[],
    shards: 4,
    replicas: 3,
    capacity: 4,
    leaseTtlMs: 8_000,
    renewMs: 2_000,
    searchTimeoutMs: 3_000,
  },
} as const;

export const API_ROLES = ['investigator', 'operator', 'admin'] as const;

export const BACKENDS = ['wasm', 'onnx', 'tfjs-node', 'tfjs-node-gpu', 'webgpu'] as const;
/** Dawn backend types accepted by the webgpu package's `backend=` flag (Vulkan is the one used on Linux). */
export const WEBGPU_DAWN_BACKENDS = ['vulkan', 'opengl', 'opengles', 'null'] as const;
