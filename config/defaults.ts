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
  },
  inference: {
    backend: 'wasm',
    workers: 1,
    model: 'centernet',
    minScore: 0.3,
    iouThreshold: 0.5,
    maxBatch: 4,
    maxDelayMs: 40,
    // Dawn's Vulkan backend; adapter null: the first hardware adapter, else (allowSoftware) lavapipe for CI.
    webgpu: { backend: 'vulkan', adapter: null, flags: [], allowSoftware: true },
  },
  // For centernet on surveillance footage, whose person scores sit around 0.35-0.75 (the MOT tools keep the
  // tracker's own defaults, tuned on Faster R-CNN detections that score higher).
  tracking: {
    highScore: 0.4,
    lowScore: 0.2,
    newTrackScore: 0.45,
    minHits: 2,
    maxLostFrames: 12,
  },
  index: { batchSize: 256, flushMs: 500, trackDays: 30, faceDays: 7 },
  nats: { url: null, user: 'core', pass: 'core-demo-pass' },
  api: { host: '127.0.0.1', port: 8080 },
} as const;

export const BACKENDS = ['wasm', 'tfjs-node', 'tfjs-node-gpu', 'webgpu'] as const;
/** Dawn backend types accepted by the webgpu package's `backend=` flag (Vulkan is the one used on Linux). */
export const WEBGPU_DAWN_BACKENDS = ['vulkan', 'opengl', 'opengles', 'null'] as const;
