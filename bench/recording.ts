/**
 * Recording against the bare tools, in one run on the same simulated streams (N cameras looping vtest.avi):
 *   1. cvcore: the recording service records every camera (its ffmpeg children + this process's own CPU, which is
 *      the service: segment list polling, probing, indexing);
 *   2. bare: one `ffmpeg -c copy -f segment` per camera with the same muxer settings -> cpu_ratio_vs_ffmpeg_copy;
 *   3. the decoder alone (ingest's decoderArgs) and one ffmpeg with two outputs (the decoder's and the segment
 *      muxer's): with (1) or (2) that says whether a second RTSP connection or a second output costs less;
 *   4. clips through the API: time to first byte of GET /api/v1/cameras/:id/clip for 30 s clips (cut fresh, then
 *      cached), and the segment index (recordings() over the whole run).
 *   5. sealing at rest: each recorded segment sealed and opened again in this process (CPU per camera-hour).
 * `cvcore bench recording [--cameras 4] [--seconds 60] [--clips 30] [--json]`
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/log.js';
import { requireFfmpeg, spawnTracked, stopChild } from '../common/proc.js';
import { parseConfig } from '../config/index.js';
import { CameraPool, SimulatedCameraPool, decoderArgs } from '../ingest/index.js';
import { openRecordings, segmentWhere, type RecordingServiceExt } from '../recording/index.js';
import { openSealedFile, sealFile, unsealFile } from '../common/sealed-file.js';
import { openIndex } from '../search-index/index.js';
import { startApi } from '../api/index.js';
import { processCpuSeconds } from './procstat.js';
import { latencyStats, round, type LatencyStats } from './report.js';
import { benchDataKey } from './data-key.js';
import { openDataKeyring } from '../common/data-key.js';

export interface RecordingBench {
  readonly cameras: number;
  readonly seconds: number;
  readonly segment_seconds: number;
  /** CPU seconds per camera-second (share of one core per camera). */
  readonly cpu_per_camera: { readonly cvcore: number | null; readonly cvcore_ffmpeg: number | null; readonly cvcore_node: number | null; readonly ffmpeg_copy: number | null; readonly decoder: number | null; readonly decoder_two_outputs: number | null };
  readonly cpu_ratio_vs_ffmpeg_copy: number | null;
  /** decoder + a second connection (bare copy) vs one ffmpeg with both outputs, CPU per camera. */
  readonly second_connection_vs_two_outputs: { readonly second_connection: number | null; readonly two_outputs: number | null; readonly ratio: number | null };
  readonly bytes_per_camera_hour: number;
  readonly segments: number;
  readonly clock_skew_max_ms: number;
  readonly clock_skew_samples: number;
  readonly clip_first_byte_ms: LatencyStats;
  readonly clip_cached_first_byte_ms: LatencyStats;
  readonly clip_seconds: number;
  readonly index_query_ms: LatencyStats;
  /**
   * What sealing closed segments at rest costs (common/sealed-file.ts, AES-256-GCM in 64 KiB chunks), measured
   * on this run's segments in this process: CPU seconds per camera-hour to seal (done once, when a segment closes)
   * and to open (a clip or playback reads it), throughput, and sealing's CPU against the bare ffmpeg copy's.
   */
  readonly sealing: {
    readonly segments: number;
    readonly mb: number;
    readonly seal_cpu_s_per_camera_hour: number | null;
    readonly open_cpu_s_per_camera_hour: number | null;
    readonly seal_mb_per_s: number | null;
    readonly seal_vs_ffmpeg_copy: number | null;
    readonly size_overhead: number | null;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nodeCpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

/** CPU of a changing set of pids over a window: the last value seen of each, sampled every second. */
class PidCpu {
  readonly #last = new Map<number, number>();
  readonly #first = new Map<number, number>();
  sample(pids: readonly number[]): void {
    for (const pid of pids) {
      const c = processCpuSeconds(pid);
      if (c === null) continue;
      if (!this.#first.has(pid)) this.#first.set(pid, c);
      this.#last.set(pid, c);
    }
  }
  /** Seconds used since each pid was first seen (a pid first seen at 0 s of its life counts whole). */
  total(): number {
    let n = 0;
    for (const [pid, c] of this.#last) n += c - (this.#first.get(pid) ?? 0);
    return n;
  }
}

async function window(seconds: number, pids: () => number[]): Promise<number> {
  const cpu = new PidCpu();
  cpu.sample(pids());
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await sleep(1000);
    cpu.sample(pids());
  }
  return cpu.total();
}

/** Starts one ffmpeg per url, waits `warm` s (RTSP set-up, probe), then measures `seconds`; stops them. */
async function bare(ffmpeg: string, argsFor: (url: string, i: number) => string[], urls: readonly string[], seconds: number): Promise<number> {
  const procs: ChildProcess[] = urls.map((u, i) => {
    const p = spawnTracked(ffmpeg, argsFor(u, i), { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout?.resume();
    p.stderr?.resume();
    return p;
  });
  try {
    await sleep(6_000);
    return await window(seconds, () => procs.map((p) => p.pid ?? -1).filter((x) => x > 0 && procs.some((q) => q.pid === x && q.exitCode === null)));
  } finally {
    await Promise.all(procs.map((p) => stopChild(p, 2_000)));
  }
}

export async function runRecordingBench(o: { cameras: number; seconds: number; clips: number; segmentSeconds: number }): Promise<RecordingBench> {
  const ffmpeg = await requireFfmpeg();
  const log = createLogger({ level: 'error', sink: () => undefined });
  const dir = join(tmpdir(), `cvcore-bench-rec-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ids = Array.from({ length: o.cameras }, (_, i) => `rec-${i + 1}`);
  const sim = new SimulatedCameraPool();
  await sim.start({ cameras: ids.map((id) => ({ id, source: 'vtest' as const })) });
  const urls = ids.map((id) => sim.url(id));
  let rec: RecordingServiceExt | null = null;
  try {
    const ring = (await openDataKeyring(dir, undefined)).ring;
    // 1. cvcore.
    rec = await openRecordings({ dir: join(dir, 'recordings'), settings: { segmentSeconds: o.segmentSeconds, totalQuotaBytes: 0, minFreeBytes: 0, maxClipMs: 600_000, clipCacheMs: 600_000, retentionIntervalMs: 3_600_000 }, log, dataKey: ring });
    const t0 = Date.now();
    for (const id of ids) {
      await rec.setCamera({ id, url: sim.url(id), transport: 'udp', department: 'bench', recording: { mode: 'continuous', preRollMs: 0, postRollMs: 0, classes: [], retentionDays: 30, quotaBytes: 0 } });
    }
    await sleep(6_000);
    const node0 = nodeCpu();
    const r = rec;
    const cvFfmpeg = await window(o.seconds, () => r.pids());
    const cvNode = nodeCpu() - node0;
    const skew = rec.clockSkew();
    for (const id of ids) await rec.removeCamera(id);
    const t1 = Date.now();
    let bytes = 0;
    let segments = 0;
    const queries: number[] = [];
    for (const id of ids) {
      const q0 = performance.now();
      const a = await rec.recordings(id, t0, t1);
      queries.push(performance.now() - q0);
      bytes += a.segments.reduce((n, s) => n + s.bytes, 0);
      segments += a.segments.length;
    }
    const recordedMs = (await Promise.all(ids.map((id) => rec!.recordings(id, t0, t1)))).reduce((n, a) => n + a.segments.reduce((m, s) => m + s.end - s.start, 0), 0);

    // 1b. Sealing: each recorded segment opened to a clear copy, then sealed again and opened again, timed.
    const sealDir = join(dir, 'seal');
    mkdirSync(sealDir, { recursive: true });
    let sealCpu = 0;
    let sealWall = 0;
    let openCpu = 0;
    let plainBytes = 0;
    let sealedBytes = 0;
    let sealedMs = 0;
    let sealedSegs = 0;
    for (const id of ids) {
      for (const sg of (await rec.recordings(id, t0, t1)).segments) {
        const src = join(dir, 'recordings', id, sg.file);
        const clear = join(sealDir, 'clear.ts');
        await unsealFile(ring, src, clear, segmentWhere(id, sg.file));
        const c0 = nodeCpu();
        const w0 = performance.now();
        const r = await sealFile(ring, clear, join(sealDir, 'sealed.ts'), segmentWhere(id, sg.file));
        sealWall += performance.now() - w0;
        sealCpu += nodeCpu() - c0;
        const c1 = nodeCpu();
        for await (const _ of (await openSealedFile(ring, join(sealDir, 'sealed.ts'), segmentWhere(id, sg.file))).read()) { /* drained */ }
        openCpu += nodeCpu() - c1;
        plainBytes += r.plainBytes;
        sealedBytes += r.bytes;
        sealedMs += sg.end - sg.start;
        sealedSegs++;
      }
    }
    const perCamHour = (cpu: number): number | null => (sealedMs > 0 ? round(cpu / (sealedMs / 1000) * 3600, 2) : null);

    // 2. bare ffmpeg -c copy into segments, the same muxer settings.
    const bareDir = join(dir, 'bare');
    mkdirSync(bareDir, { recursive: true });
    const copyArgs = (url: string, i: number): string[] => ['-hide_banner', '-nostdin', '-loglevel', 'error', '-rtsp_transport', 'udp', '-i', url, '-map', '0:v:0', '-c', 'copy',
      '-f', 'segment', '-segment_time', String(o.segmentSeconds), '-segment_format', 'mpegts', '-reset_timestamps', '0', join(bareDir, `${i}-%06d.ts`)];
    const copyCpu = await bare(ffmpeg, copyArgs, urls, o.seconds);

    // 3. decoder alone, and decoder + segment output in one process.
    const half = Math.max(10, Math.round(o.seconds / 2));
    const dec = (url: string): { input: string[]; output: string[] } => decoderArgs({ url, fps: 5, width: 640, height: 480, transport: 'udp', realtime: false });
    const decoderCpu = await bare(ffmpeg, (url) => { const d = dec(url); return [...d.input, '-loglevel', 'error', '-i', url, ...d.output, 'pipe:1']; }, urls, half);
    const twoDir = join(dir, 'two');
    mkdirSync(twoDir, { recursive: true });
    const twoCpu = await bare(ffmpeg, (url, i) => {
      const d = dec(url);
      return [...d.input, '-loglevel', 'error', '-i', url, '-map', '0:v:0', ...d.output, 'pipe:1',
        '-map', '0:v:0', '-c', 'copy', '-f', 'segment', '-segment_time', String(o.segmentSeconds), '-segment_format', 'mpegts', join(twoDir, `${i}-%06d.ts`)];
    }, urls, half);

    // 4. clips through the API (30 s each, fresh cuts at different offsets, then the same again from the cache).
    const clipS = 30;
    const idxDir = join(dir, 'index');
    const index = await openIndex({ dataKey: benchDataKey(),  dir: idxDir, batchSize: 64, flushMs: 5, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
    const cfg = parseConfig({ api: { port: 0, tokens: [{ id: 'bench', token: 'bench-token-123', role: 'admin', departments: ['*'] }], rateLimit: { perMinute: 1_000_000, burst: 100_000 } } });
    const cameras = new CameraPool(cfg.ingest);
    for (const id of ids) cameras.add({ id, url: sim.url(id), department: 'bench', enabled: false });
    const api = await startApi({
      host: '127.0.0.1', port: 0, index, cameras, history: { alertHistory: () => [], snapshot: () => null, zoneCounts: () => [] }, events: null, stats: null, alerts: null, faces: null,
      access: cfg.api, log, recordings: rec,
    });
    const fresh: number[] = [];
    const cached: number[] = [];
    try {
      const spanMs = Math.max(1, t1 - t0 - clipS * 1000 - 8_000);
      const firstByte = async (url: string): Promise<number> => {
        const s = performance.now();
        const res = await fetch(url, { headers: { authorization: 'Bearer bench-token-123' } });
        const reader = res.body!.getReader();
        await reader.read();
        const ms = performance.now() - s;
        await reader.cancel();
        if (res.status !== 200) throw new Error(`clip answered ${res.status}`);
        return ms;
      };
      for (let i = 0; i < o.clips; i++) {
        const id = ids[i % ids.length]!;
        const from = t0 + 6_000 + Math.round((i * 7_919) % spanMs);
        const url = `${api.url}/api/v1/cameras/${id}/clip?from=${from}&to=${from + clipS * 1000}`;
        fresh.push(await firstByte(url));
        cached.push(await firstByte(url));
      }
    } finally {
      await api.close();
      cameras.stop();
      await index.close();
    }
    const perCam = (cpu: number, s: number): number | null => round(cpu / (s * o.cameras), 4);
    const cvcore = cvFfmpeg + cvNode;
    const secondConnection = decoderCpu + copyCpu * (half / o.seconds);
    return {
      cameras: o.cameras, seconds: o.seconds, segment_seconds: o.segmentSeconds,
      cpu_per_camera: {
        cvcore: perCam(cvcore, o.seconds), cvcore_ffmpeg: perCam(cvFfmpeg, o.seconds), cvcore_node: perCam(cvNode, o.seconds),
        ffmpeg_copy: perCam(copyCpu, o.seconds), decoder: perCam(decoderCpu, half), decoder_two_outputs: perCam(twoCpu, half),
      },
      cpu_ratio_vs_ffmpeg_copy: copyCpu > 0 ? round(cvcore / copyCpu, 2) : null,
      second_connection_vs_two_outputs: {
        second_connection: perCam(secondConnection, half), two_outputs: perCam(twoCpu, half),
        ratio: twoCpu > 0 ? round(secondConnection / twoCpu, 2) : null,
      },
      bytes_per_camera_hour: Math.round(bytes / Math.max(1, recordedMs) * 3_600_000),
      segments,
      clock_skew_max_ms: round(skew.maxMs, 1) ?? 0, clock_skew_samples: skew.samples,
      clip_first_byte_ms: latencyStats(fresh), clip_cached_first_byte_ms: latencyStats(cached), clip_seconds: clipS,
      index_query_ms: latencyStats(queries),
      sealing: {
        segments: sealedSegs, mb: round(plainBytes / 1e6, 1) ?? 0,
        seal_cpu_s_per_camera_hour: perCamHour(sealCpu), open_cpu_s_per_camera_hour: perCamHour(openCpu),
        seal_mb_per_s: sealWall > 0 ? round(plainBytes / 1e6 / (sealWall / 1000), 0) : null,
        // ffmpeg's copy CPU per camera-second over the same footage length, against sealing's.
        seal_vs_ffmpeg_copy: copyCpu > 0 && sealedMs > 0 ? round((sealCpu / (sealedMs / 1000)) / (copyCpu / (o.seconds * o.cameras)), 3) : null,
        size_overhead: plainBytes > 0 ? round(sealedBytes / plainBytes - 1, 5) : null,
      },
    };
  } finally {
    await rec?.close();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchRecording(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true,
    options: { cameras: { type: 'string', default: '4' }, seconds: { type: 'string', default: '60' }, clips: { type: 'string', default: '30' }, 'segment-seconds': { type: 'string', default: '10' }, json: { type: 'boolean', default: false } },
  });
  const num = (v: string, name: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const r = await runRecordingBench({ cameras: num(values.cameras, 'cameras', 1), seconds: num(values.seconds, 'seconds', 10), clips: num(values.clips, 'clips', 1), segmentSeconds: num(values['segment-seconds'], 'segment-seconds', 2) });
  if (values.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else {
    const c = r.cpu_per_camera;
    process.stdout.write([
      `recording: ${r.cameras} cameras x ${r.seconds} s, ${r.segment_seconds} s segments`,
      `  CPU per camera (share of a core): cvcore ${c.cvcore} (ffmpeg ${c.cvcore_ffmpeg} + node ${c.cvcore_node}), bare ffmpeg copy ${c.ffmpeg_copy}; ratio ${r.cpu_ratio_vs_ffmpeg_copy}`,
      `  decoder alone ${c.decoder}, decoder with a segment output ${c.decoder_two_outputs}; second connection ${r.second_connection_vs_two_outputs.second_connection} vs two outputs ${r.second_connection_vs_two_outputs.two_outputs}`,
      `  ${r.bytes_per_camera_hour} bytes per camera-hour, ${r.segments} segments, wall-clock mapping within ${r.clock_skew_max_ms} ms over ${r.clock_skew_samples} segments`,
      `  clip (${r.clip_seconds} s) first byte p50 ${r.clip_first_byte_ms.p50_ms} ms p99 ${r.clip_first_byte_ms.p99_ms} ms; cached p50 ${r.clip_cached_first_byte_ms.p50_ms} ms; index query p50 ${r.index_query_ms.p50_ms} ms`,
      `  sealing at rest (${r.sealing.segments} segments, ${r.sealing.mb} MB): ${r.sealing.seal_cpu_s_per_camera_hour} CPU s per camera-hour to seal, ${r.sealing.open_cpu_s_per_camera_hour} to open; ${r.sealing.seal_mb_per_s} MB/s; ${r.sealing.seal_vs_ffmpeg_copy} of the ffmpeg copy's CPU; +${r.sealing.size_overhead} size`,
    ].join('\n') + '\n');
  }
  return 0;
}

