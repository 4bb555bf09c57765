/**
 * The embedded default: a simulated camera pool (a real RTSP server, ffmpeg publishers looping vtest.avi)
 * and a config that watches the whole frame of each camera for a crowd, with a threshold that the pedestrians
 * of vtest.avi reach within seconds. With `plateCamera`, one more camera (cam-plates) loops plates.mp4, the
 * street footage with rendered mainland plates made at set-up (synth/), so vehicles and plates run end to end.
 * With `faceCamera`, cam-faces (public-security) loops faces.mp4: the astronaut on camera 7 s of every 16, for the
 * live watch-list alarms (put astronaut.png on a face list of public-security and each appearance alarms).
 */
import { DEFAULTS, parseConfig, type CvcoreConfig } from '../config/index.js';
import { SimulatedCameraPool, type SimCamera } from '../ingest/index.js';

export interface DemoOptions {
  readonly cameras: number;
  readonly dataDir: string;
  readonly apiPort: number;
  readonly fps?: number;
  readonly threshold?: number;
  /** Add the plate camera (cam-plates, plates.mp4); `cvcore demo` does unless --no-plate-camera. */
  readonly plateCamera?: boolean;
  /** Add the face camera (cam-faces, faces.mp4); `cvcore demo` does unless --no-face-camera. */
  readonly faceCamera?: boolean;
}

export const DEMO_CAMERA_PREFIX = 'cam-';
/** The demo's analysis size: vtest.avi is 768x576, scaled to keep its aspect. */
export const DEMO_SIZE = { width: 640, height: 480 } as const;
/** Analysis rate per camera: the default configuration's, which `bench capacity` measures. */
export const DEMO_FPS = DEFAULTS.camera.fps;
/** vtest.avi shows 3 to 10 people at a time, so 3 held for 2 s raises an incident within a minute or so. */
export const DEMO_THRESHOLD = 3;

/**
 * The demo's API tokens: one investigator per demo department, an operator and an admin. They are public
 * (printed by `cvcore demo` and listed in api/README.md), so they belong to the demo only: the default config
 * has no tokens at all.
 */
export const DEMO_TOKENS = [
  { id: 'demo-investigator-ps', token: 'demo-investigator-ps', role: 'investigator', departments: ['public-security'] },
  { id: 'demo-investigator-traffic', token: 'demo-investigator-traffic', role: 'investigator', departments: ['traffic'] },
  { id: 'demo-operator', token: 'demo-operator', role: 'operator', departments: ['*'] },
  { id: 'demo-admin', token: 'demo-admin', role: 'admin', departments: ['*'] },
] as const;

/** The plate camera: plates.mp4 at its own size (768x576), so a 110 px plate stays 110 px for the reader. */
export const DEMO_PLATE_CAMERA = { id: `${DEMO_CAMERA_PREFIX}plates`, width: 768, height: 576, department: 'traffic' } as const;

/** The face camera: faces.mp4 (synth/faces.ts), a person who comes and goes, in public-security's department. */
export const DEMO_FACE_CAMERA = { id: `${DEMO_CAMERA_PREFIX}faces`, width: 640, height: 480, department: 'public-security' } as const;

export async function startDemoCameras(n: number, o: { plateCamera?: boolean; faceCamera?: boolean } = {}): Promise<SimulatedCameraPool> {
  const sim = new SimulatedCameraPool();
  const cameras: SimCamera[] = Array.from({ length: n }, (_, i) => ({ id: `${DEMO_CAMERA_PREFIX}${i + 1}`, source: 'vtest' as const }));
  if (o.plateCamera) cameras.push({ id: DEMO_PLATE_CAMERA.id, source: 'plates' });
  if (o.faceCamera) cameras.push({ id: DEMO_FACE_CAMERA.id, source: 'faces' });
  await sim.start({ cameras });
  return sim;
}

export function demoConfig(sim: SimulatedCameraPool, o: DemoOptions): CvcoreConfig {
  const { width, height } = DEMO_SIZE;
  const threshold = o.threshold ?? DEMO_THRESHOLD;
  return parseConfig({
    node: 'cvcore-demo',
    dataDir: o.dataDir,
    cameras: Array.from({ length: o.cameras }, (_, i) => ({
      id: `${DEMO_CAMERA_PREFIX}${i + 1}`,
      name: `Simulated camera ${i + 1} (vtest.avi)`,
      url: sim.url(`${DEMO_CAMERA_PREFIX}${i + 1}`),
      // rtsp-streaming-server sends RTP over UDP only.
      transport: 'udp',
      department: i % 2 === 0 ? 'public-security' : 'traffic',
      district: 'shinan',
      location: { lat: 36.0671 + i * 0.001, lon: 120.3826 + i * 0.001 },
      fps: o.fps ?? DEMO_FPS,
      width, height,
      zones: [{
        id: 'plaza', name: 'whole view',
        polygon: [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]],
        crowd: {
          threshold, clearThreshold: Math.max(0, threshold - 2), sustainMs: 2_000, clearMs: 4_000, cooldownMs: 10_000, updateStep: 2,
          severities: [{ severity: 'low', minCount: threshold }, { severity: 'medium', minCount: threshold + 3 }, { severity: 'high', minCount: threshold + 6 }],
        },
      }],
    } as Record<string, unknown>)).concat(o.plateCamera ? [{
      id: DEMO_PLATE_CAMERA.id,
      name: 'Simulated plate camera (plates.mp4: street photo, vehicles with rendered mainland plates)',
      url: sim.url(DEMO_PLATE_CAMERA.id),
      transport: 'udp',
      department: DEMO_PLATE_CAMERA.department,
      district: 'shinan',
      location: { lat: 36.0671 + o.cameras * 0.001, lon: 120.3826 + o.cameras * 0.001 },
      fps: o.fps ?? DEMO_FPS,
      width: DEMO_PLATE_CAMERA.width, height: DEMO_PLATE_CAMERA.height,
      // A road: no crowd zone.
      zones: [],
    }] : []).concat(o.faceCamera ? [{
      id: DEMO_FACE_CAMERA.id,
      name: 'Simulated face camera (faces.mp4: the astronaut of astronaut.png comes and goes every 16 s)',
      url: sim.url(DEMO_FACE_CAMERA.id),
      transport: 'udp',
      department: DEMO_FACE_CAMERA.department,
      district: 'shinan',
      location: { lat: 36.0671 + (o.cameras + 1) * 0.001, lon: 120.3826 + (o.cameras + 1) * 0.001 },
      fps: o.fps ?? DEMO_FPS,
      width: DEMO_FACE_CAMERA.width, height: DEMO_FACE_CAMERA.height,
      zones: [],
    }] : []),
    api: { port: o.apiPort, tokens: DEMO_TOKENS },
    // Every demo camera is recorded (stream copy, about 0.5 GB an hour each), so the console has clips to play;
    // a small quota keeps the demo's disk use bounded (the oldest segments go first).
    recording: { ...DEMO_RECORDING },
  });
}

/** The demo's recording: continuous, 256 MiB per camera and 1 GiB in all (about half an hour of each camera). */
export const DEMO_RECORDING = { mode: 'continuous', quotaBytes: 256 * 1024 ** 2, totalQuotaBytes: 1024 ** 3, retentionDays: 1 } as const;
