/** Shared helpers for the ingest integration tests: a real RTSP server with ffmpeg publishers, and polling. */
import { parseCamera, parseConfig, type CameraConfig } from '../../config/index.js';
import { CameraPool, SimulatedCameraPool, type IngestSettings, type SimCamera } from '../../ingest/index.js';
import { startApi, type ApiServer } from '../../api/index.js';
import { createLogger, type Logger } from '../../common/log.js';
import type { SearchIndex } from '../../search-index/index.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 100 ms until it returns something truthy; rejects naming `what` after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, fn: () => T | null | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Short backoff so a test sees reconnects within seconds. The stall timeout stays long enough for ffmpeg to
 * probe an RTSP/UDP stream on a loaded machine (its probe alone may take up to 5 s).
 */
export function testSettings(extra: Partial<IngestSettings> = {}): IngestSettings {
  return { ...parseConfig({ ingest: { stallTimeoutMs: 8_000, backoffInitialMs: 300, backoffMaxMs: 1_500, ...extra } }).ingest };
}

/** A camera reading the simulated pool (RTP over UDP, the only transport the sim server serves). */
export function simCamera(sim: SimulatedCameraPool, id: string, extra: Record<string, unknown> = {}): CameraConfig {
  return parseCamera({ id, url: sim.url(id), transport: 'udp', fps: 5, width: 320, height: 240, motion: { enabled: false }, ...extra });
}

/** Starts a simulated pool with these cameras and an empty CameraPool; `stop` undoes both. */
export async function startSim(cams: readonly SimCamera[], settings = testSettings()): Promise<{ sim: SimulatedCameraPool; pool: CameraPool; stop: () => Promise<void> }> {
  const sim = new SimulatedCameraPool();
  await sim.start({ cameras: cams });
  const pool = new CameraPool(settings);
  return { sim, pool, stop: async () => { pool.stop(); await sim.stop(); } };
}

/** An operator token for tests that drive the camera routes. */
export const TEST_OPERATOR_TOKEN = 'ingest-test-operator';

/**
 * The real HTTP API over a camera pool (no index, no models): enough for camera management, live view and
 * credential-masking tests. Requests need `Authorization: Bearer TEST_OPERATOR_TOKEN` (or `?token=`).
 */
export async function startCameraApi(pool: CameraPool, log: Logger = createLogger({ sink: () => undefined })): Promise<ApiServer> {
  const noHistory = { alertHistory: () => [], snapshot: () => null, zoneCounts: () => [] };
  return startApi({
    host: '127.0.0.1', port: 0, index: {} as SearchIndex, cameras: pool, history: noHistory, events: null, stats: null, alerts: null, faces: null,
    access: { tokens: [{ id: 'op', token: TEST_OPERATOR_TOKEN, role: 'operator', departments: ['*'] }], rateLimit: { perMinute: 60_000, burst: 10_000 }, maxUploadBytes: 1 << 20 },
    log,
  });
}
export const authHeaders = { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` } as const;
