/**
 * Decode throughput of the ingest stage against bare ffmpeg, in the same run on the same inputs.
 * For each N: N simulated cameras (the real RTSP server, ffmpeg publishers looping vtest.avi) are decoded
 *   1. through the ingest stage: a CameraPool whose queues a consumer drains as fast as frames arrive;
 *   2. by N bare `ffmpeg` processes with exactly the decoder's arguments (decoderArgs), frames counted from
 *      stdout bytes.
 * Frames are counted over a window of S seconds that starts once every stream has delivered its first frame,
 * so RTSP set-up and ffmpeg's probe are left out. CPU time is the ffmpeg children's (from /proc/<pid>/stat)
 * plus, for ingest, this Node process's own (process.cpuUsage), over the same window.
 * `cvcore bench decode [--streams 1,4,8] [--seconds S] [--fps F] [--width W] [--height H] [--json]`
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { liveChildren } from '../common/proc.js';
import { parseCamera, parseConfig } from '../config/index.js';
import { CameraPool, SimulatedCameraPool, decoderArgs, decoderOptionsFor } from '../ingest/index.js';

export interface DecodeBenchRow {
  readonly streams: number;
  readonly seconds: number;
  readonly ingest_fps: number;
  readonly ffmpeg_fps: number;
  readonly ratio_vs_ffmpeg: number;
  readonly cpu_s_per_stream: { readonly ingest: number; readonly ffmpeg: number };
}

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 on Linux on every common architecture). */
const CLK_TCK = 100;

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
function procCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}
const nodeCpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ms: number, fn: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Opts { readonly seconds: number; readonly fps: number; readonly width: number; readonly height: number }

function camera(sim: SimulatedCameraPool, id: string, o: Opts) {
  return parseCamera({ id, url: sim.url(id), transport: 'udp', fps: o.fps, width: o.width, height: o.height, motion: { enabled: false } });
}

/** Ingest stage: frames counted by a consumer that drains every queue as soon as it is readable. */
async function measureIngest(sim: SimulatedCameraPool, ids: string[], o: Opts): Promise<{ frames: number; cpu: number }> {
  const settings = parseConfig({ ingest: { queueSize: 8, stallTimeoutMs: 20_000 } }).ingest;
  const pool = new CameraPool(settings);
  const before = new Set(liveChildren());
  let counting = false;
  let frames = 0;
  const first = new Set<string>();
  try {
    for (const id of ids) {
      pool.add(camera(sim, id, o));
      const q = pool.get(id).queue;
      q.onReadable(() => {
        for (let f = q.shift(); f; f = q.shift()) { first.add(f.cameraId); if (counting) frames++; }
      });
    }
    await waitFor('every ingest camera to deliver a frame', 60_000, () => first.size === ids.length);
    await sleep(1_000);
    const decoders = liveChildren().filter((p) => !before.has(p));
    const cpu0 = decoders.reduce((s, p) => s + procCpu(p), 0) + nodeCpu();
    counting = true;
    await sleep(o.seconds * 1000);
    counting = false;
    const cpu1 = decoders.reduce((s, p) => s + procCpu(p), 0) + nodeCpu();
    return { frames, cpu: cpu1 - cpu0 };
  } finally {
    pool.stop();
  }
}

/** Bare ffmpeg with the decoder's own arguments; frames = stdout bytes / frame size. */
async function measureFfmpeg(sim: SimulatedCameraPool, ids: string[], o: Opts): Promise<{ frames: number; cpu: number }> {
  const frameBytes = o.width * o.height * 3;
  const settings = parseConfig({}).ingest;
  const procs: ChildProcess[] = [];
  const bytes = new Map<string, number>();
  let counting = false;
  let counted = 0;
  try {
    for (const id of ids) {
      const opts = decoderOptionsFor(camera(sim, id, o), settings, 0);
      const { input, output } = decoderArgs(opts);
      const p = spawn('ffmpeg', [...input, '-i', opts.url, ...output, '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
      procs.push(p);
      p.stdout!.on('data', (chunk: Buffer) => {
        bytes.set(id, (bytes.get(id) ?? 0) + chunk.length);
        if (counting) counted += chunk.length;
      });
    }
    await waitFor('every ffmpeg to deliver a frame', 60_000, () => ids.every((id) => (bytes.get(id) ?? 0) >= frameBytes));
    await sleep(1_000);
    const cpu0 = procs.reduce((s, p) => s + procCpu(p.pid ?? -1), 0);
    counting = true;
    await sleep(o.seconds * 1000);
    counting = false;
    const cpu1 = procs.reduce((s, p) => s + procCpu(p.pid ?? -1), 0);
    return { frames: counted / frameBytes, cpu: cpu1 - cpu0 };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
}

export async function runDecodeBench(streams: readonly number[], o: Opts): Promise<DecodeBenchRow[]> {
  const rows: DecodeBenchRow[] = [];
  for (const n of streams) {
    const ids = Array.from({ length: n }, (_, i) => `bench-${i + 1}`);
    const sim = new SimulatedCameraPool();
    await sim.start({ cameras: ids.map((id) => ({ id, source: 'vtest' as const })) });
    try {
      const ing = await measureIngest(sim, ids, o);
      const ff = await measureFfmpeg(sim, ids, o);
      const r2 = (x: number): number => Math.round(x * 100) / 100;
      const ingestFps = ing.frames / o.seconds;
      const ffmpegFps = ff.frames / o.seconds;
      rows.push({
        streams: n, seconds: o.seconds,
        ingest_fps: r2(ingestFps), ffmpeg_fps: r2(ffmpegFps),
        ratio_vs_ffmpeg: ffmpegFps > 0 ? r2(ingestFps / ffmpegFps) : 0,
        cpu_s_per_stream: { ingest: Math.round((1000 * ing.cpu) / n) / 1000, ffmpeg: Math.round((1000 * ff.cpu) / n) / 1000 },
      });
    } finally {
      await sim.stop();
    }
  }
  return rows;
}

export async function benchDecode(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true,
    options: {
      streams: { type: 'string', default: '1,4,8' }, seconds: { type: 'string', default: '10' },
      fps: { type: 'string', default: '10' }, width: { type: 'string', default: '640' }, height: { type: 'string', default: '480' },
      json: { type: 'boolean', default: false },
    },
  });
  const streams = values.streams.split(',').map(Number);
  if (streams.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new RangeError('--streams must be integers from 1 to 64, comma-separated');
  const seconds = Number(values.seconds);
  if (!(seconds >= 1 && seconds <= 600)) throw new RangeError('--seconds must be from 1 to 600');
  const o: Opts = { seconds, fps: Number(values.fps), width: Number(values.width), height: Number(values.height) };
  const rows = await runDecodeBench(streams, o);
  if (values.json) {
    process.stdout.write(JSON.stringify({ source: 'vtest.avi over RTSP/UDP (SimulatedCameraPool)', fps: o.fps, size: `${o.width}x${o.height}`, results: rows }, null, 2) + '\n');
  } else {
    process.stdout.write(`decode: vtest.avi over RTSP/UDP, ${o.fps} fps, ${o.width}x${o.height}, ${seconds} s per measurement\n`);
    process.stdout.write('streams  ingest_fps  ffmpeg_fps  ratio  cpu_s/stream ingest  cpu_s/stream ffmpeg\n');
    for (const r of rows) {
      process.stdout.write(`${String(r.streams).padStart(7)}  ${r.ingest_fps.toFixed(2).padStart(10)}  ${r.ffmpeg_fps.toFixed(2).padStart(10)}  ${r.ratio_vs_ffmpeg.toFixed(2).padStart(5)}  ${r.cpu_s_per_stream.ingest.toFixed(3).padStart(19)}  ${r.cpu_s_per_stream.ffmpeg.toFixed(3).padStart(19)}\n`);
    }
  }
  return rows.every((r) => r.ratio_vs_ffmpeg >= 0.9) ? 0 : 1;
}

// Runnable on its own until `cvcore bench decode` is wired: node dist/bench/decode.js --streams 1 --seconds 5
if (import.meta.url === `file://${process.argv[1]}`) {
  benchDecode(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => { process.stderr.write(`${String((err as Error).stack ?? err)}\n`); process.exitCode = 1; });
}
