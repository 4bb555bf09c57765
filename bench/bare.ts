/**
 * The bare references the pipeline is measured against, in the same run: ffmpeg alone (the same arguments as
 * ingest, from `decoderArgs`, stdout read and thrown away) and the detector alone (`DetectorRunner` in this
 * thread: no worker pool, no batcher, no queues). Ratios against these say what the pipeline's plumbing costs.
 */
import type { ChildProcess } from 'node:child_process';
import { decoderArgs } from '../ingest/index.js';
import { DetectorRunner, type BackendName, type FrameInput } from '../inference/index.js';
import { spawnTracked, stopChild } from '../common/proc.js';
import { OBJECT_CLASSES } from '../common/messages.js';
import { DEFAULTS } from '../config/defaults.js';
import { processCpuSeconds } from './procstat.js';
import { round } from './report.js';

export interface BareDecode {
  readonly source: 'rtsp' | 'file';
  readonly streams: number;
  readonly seconds: number;
  readonly frames: number;
  /** Analysis-size frames out of ffmpeg per second, all streams together. */
  readonly fps: number | null;
  readonly cpu_s: number | null;
  readonly cpu_ms_per_frame: number | null;
}

export interface BareModel {
  readonly backend: BackendName;
  readonly frames: number;
  readonly seconds: number;
  /** Frames per second through the detector on one thread. */
  readonly fps: number | null;
  readonly ms_per_frame: number | null;
  /** Process CPU per frame: on a busy machine wall time is not the model's cost, CPU time is closer to it. */
  readonly cpu_ms_per_frame: number | null;
  readonly tensors_start: number;
  readonly tensors_end: number;
}

/** Seconds of output ignored before counting. */
const SKIP_S = 1;

export interface DecodeTarget { readonly url: string; readonly fps: number; readonly width: number; readonly height: number; readonly transport: 'tcp' | 'udp' }

/**
 * Runs one bare ffmpeg per target for `seconds` (from one second after its first byte), counting whole frames on
 * stdout. `keep` frames of the first target are returned as well, for the bare model loop. `onSpawn` lets the
 * caller tell these processes apart from the pipeline's decoders.
 */
export async function bareDecode(targets: readonly DecodeTarget[], seconds: number, keep = 0, onSpawn?: (p: ChildProcess) => void): Promise<{ result: BareDecode; kept: FrameInput[] }> {
  const kept: FrameInput[] = [];
  const source = targets[0]?.url.startsWith('rtsp://') ? 'rtsp' : 'file';
  const runs = targets.map((t, idx) => new Promise<{ frames: number; ms: number; cpu: number | null }>((resolve) => {
    const { input, output } = decoderArgs({ url: t.url, fps: t.fps, width: t.width, height: t.height, transport: t.transport, realtime: false });
    // A file is looped so a fast decoder never runs out of input before the time is up.
    const loop = t.url.includes('://') ? [] : ['-stream_loop', '-1'];
    const p = spawnTracked('ffmpeg', [...input, '-loglevel', 'error', ...loop, '-i', t.url, ...output, 'pipe:1']);
    onSpawn?.(p);
    const frameBytes = t.width * t.height * 3;
    let bytes = 0;
    // Counting starts SKIP_S after the first byte: a live stream's first second is a burst of buffered frames.
    let startBytes = -1;
    let startAt = 0;
    let cur: Uint8Array | null = idx === 0 && keep > 0 ? new Uint8Array(frameBytes) : null;
    let filled = 0;
    let cpu: number | null = null;
    let ended = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (): void => {
      if (ended) return;
      ended = true;
      for (const tm of timers) clearTimeout(tm);
      const end = processCpuSeconds(p.pid);
      const ms = startAt ? performance.now() - startAt : 0;
      const used = end !== null && cpu !== null ? end - cpu : null;
      void stopChild(p, 200).then(() => resolve({ frames: startBytes >= 0 ? Math.floor((bytes - startBytes) / frameBytes) : 0, ms, cpu: used }));
    };
    p.stdout?.on('data', (chunk: Buffer) => {
      if (bytes === 0) {
        timers.push(setTimeout(() => { startBytes = bytes; startAt = performance.now(); cpu = processCpuSeconds(p.pid); }, SKIP_S * 1000));
        timers.push(setTimeout(finish, (SKIP_S + seconds) * 1000));
      }
      bytes += chunk.length;
      // Keep the first frames whole for the model loop; a plain copy, this is not the measured path.
      let off = 0;
      while (cur && off < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - off);
        cur.set(chunk.subarray(off, off + n), filled);
        filled += n; off += n;
        if (filled === frameBytes) {
          kept.push({ data: cur, width: t.width, height: t.height });
          filled = 0;
          cur = kept.length < keep ? new Uint8Array(frameBytes) : null;
        }
      }
    });
    p.stderr?.on('data', () => { /* drained */ });
    p.once('exit', () => { if (!ended) { ended = true; for (const tm of timers) clearTimeout(tm); resolve({ frames: 0, ms: 0, cpu: null }); } });
  }));
  const done = await Promise.all(runs);
  const frames = done.reduce((n, r) => n + r.frames, 0);
  const ms = Math.max(...done.map((r) => r.ms));
  const cpu = done.every((r) => r.cpu !== null) ? done.reduce((n, r) => n + (r.cpu ?? 0), 0) : null;
  return {
    result: {
      source, streams: targets.length, seconds: round(ms / 1000, 2) ?? 0, frames,
      fps: ms > 0 ? round((frames / ms) * 1000) : null,
      cpu_s: round(cpu, 2), cpu_ms_per_frame: cpu !== null && frames > 0 ? round((cpu * 1000) / frames, 2) : null,
    },
    kept,
  };
}

/** The detector alone on one thread over `frames`, round and round, for `seconds` after one warm-up frame. */
export async function bareModel(backend: BackendName, frames: readonly FrameInput[], seconds: number, model = DEFAULTS.inference.model): Promise<BareModel> {
  if (frames.length === 0) throw new RangeError('bareModel needs at least one frame');
  const runner = await DetectorRunner.create(backend, model, { minScore: DEFAULTS.inference.minScore, iouThreshold: DEFAULTS.inference.iouThreshold, classes: OBJECT_CLASSES });
  try {
    await runner.detect(frames[0]!);
    const tensorsStart = runner.numTensors;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let n = 0;
    while (performance.now() - t0 < seconds * 1000) {
      await runner.detect(frames[n % frames.length]!);
      n++;
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    return {
      backend, frames: n, seconds: round(ms / 1000, 2) ?? 0, fps: round((n / ms) * 1000, 2), ms_per_frame: round(ms / n),
      cpu_ms_per_frame: round((cpu.user + cpu.system) / 1000 / n), tensors_start: tensorsStart, tensors_end: runner.numTensors,
    };
  } finally {
    runner.dispose();
  }
}
