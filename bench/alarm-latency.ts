/**
 * Alarm latency: the whole stack on the face camera (faces.mp4: the astronaut on camera 7 s of every 16, a
 * distinct track each time) with astronaut.png on a public-security face list, and a durable JetStream consumer
 * as the city brain. Per alarm: the consumer's receive time minus `firstSeenAt` (the first frame the track was
 * seen: the face is on camera and detectable from that frame on) and minus `matchedFrameAt` (the frame whose face
 * matched). `cvcore bench watchlist` runs it beside the matching figures.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WatchlistAlarmV1 } from '../common/alarm-schemas.js';
import { createLogger, type Logger } from '../common/log.js';
import { mediaPath } from '../common/paths.js';
import { parseConfig } from '../config/index.js';
import { DEMO_FACE_CAMERA, demoConfig, startDemoCameras, startStack, type Stack } from '../runtime/index.js';
import type { SimulatedCameraPool } from '../ingest/index.js';
import { followAlarms, type AlarmFollower } from './alarm-follow.js';

export interface AlarmLatencyOptions {
  /** Appearances (alarms) to measure; each takes one 16 s loop of the footage. Default 8. */
  readonly appearances?: number;
  /** Give up after this long without the next alarm (ms); default 90 s. */
  readonly stallMs?: number;
  readonly log?: Logger;
}

export interface AlarmLatencyResult {
  /** Receive time minus firstSeenAt, ms. */
  readonly alarm_latency_p50_ms: number;
  readonly alarm_latency_p99_ms: number;
  /** Receive time minus matchedFrameAt, ms (face read, match and delivery, without the wait for a good face). */
  readonly match_to_alarm_p50_ms: number;
  readonly match_to_alarm_p99_ms: number;
  /** Watch-list alarms received (one per appearance is expected). */
  readonly alarms: number;
  /** Distinct tracks they came from. */
  readonly tracks: number;
  /** Person tracks of the face camera that ended without an alarm (missed appearances). */
  readonly missed: number;
  readonly samples_ms: readonly number[];
  readonly camera: string;
  readonly fps: number;
}

/** Nearest-rank percentile of sorted values. */
function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function benchAlarmLatency(o: AlarmLatencyOptions = {}): Promise<AlarmLatencyResult> {
  const n = o.appearances ?? 8;
  const stallMs = o.stallMs ?? 90_000;
  const log = o.log ?? createLogger({ level: 'warn' });
  const dataDir = await mkdtemp(join(tmpdir(), 'cvcore-bench-alarm-'));
  let sim: SimulatedCameraPool | null = null;
  let stack: Stack | null = null;
  let follower: AlarmFollower | null = null;
  try {
    sim = await startDemoCameras(0, { faceCamera: true });
    const base = demoConfig(sim, { cameras: 0, dataDir, apiPort: 0, faceCamera: true });
    // The person comes back every 16 s: a per-entry cooldown under that gap, so every appearance alarms.
    const config = parseConfig({ ...JSON.parse(JSON.stringify(base)) as object, inference: { ...base.inference, classes: ['person'] }, alarms: { cooldownMs: 5_000 } });
    stack = await startStack({ config, log });
    const wl = stack.watchlists;
    const list = await wl.createList({ name: 'bench', department: DEMO_FACE_CAMERA.department, kind: 'face' }, 'bench');
    await wl.addFaceEntry(list.id, { label: 'astronaut', photos: [new Uint8Array(await readFile(mediaPath('astronaut.png')))] }, 'bench', 'all');
    const ended: string[] = [];
    stack.pipeline.on((e) => { if (e.type === 'record' && e.record.cameraId === DEMO_FACE_CAMERA.id && e.record.cls === 'person') ended.push(e.record.id); });
    follower = await followAlarms(stack.natsUrl, 'bench-alarm-latency');
    const f = follower;
    const watch = (): { alarm: WatchlistAlarmV1; receivedAt: number }[] =>
      f.received.filter((r) => r.alarm.kind === 'watchlist').map((r) => ({ alarm: r.alarm as WatchlistAlarmV1, receivedAt: r.receivedAt }));
    let last = Date.now();
    let count = 0;
    while (watch().length < n) {
      await new Promise((r) => setTimeout(r, 250));
      if (watch().length > count) { count = watch().length; last = Date.now(); }
      if (Date.now() - last > stallMs) break;
    }
    const got = watch().slice(0, n);
    const fromFirst = got.map((g) => g.receivedAt - g.alarm.firstSeenAt).sort((a, b) => a - b);
    const fromMatch = got.map((g) => g.receivedAt - g.alarm.matchedFrameAt).sort((a, b) => a - b);
    const alarmed = new Set(got.map((g) => g.alarm.track));
    return {
      alarm_latency_p50_ms: pct(fromFirst, 50), alarm_latency_p99_ms: pct(fromFirst, 99),
      match_to_alarm_p50_ms: pct(fromMatch, 50), match_to_alarm_p99_ms: pct(fromMatch, 99),
      alarms: got.length, tracks: alarmed.size, missed: ended.filter((id) => !alarmed.has(id)).length,
      samples_ms: got.map((g) => g.receivedAt - g.alarm.firstSeenAt), camera: DEMO_FACE_CAMERA.id, fps: config.cameras[0]!.fps,
    };
  } finally {
    await follower?.stop().catch(() => undefined);
    await stack?.stop();
    await sim?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
