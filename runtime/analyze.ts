/**
 * Offline analysis of one video (a file, or an RTSP URL until it ends): decode every frame at the video's own
 * size -> detect -> track, and give person (or other class) tracks as MOTChallenge rows whose frame numbers are
 * the video's own 1-based frame index and whose boxes are in the video's pixels. Reading ffmpeg's stdout with
 * async iteration pauses the decoder while inference catches up, so memory stays bounded however long the video.
 */
import { execFile } from 'node:child_process';
import { IngestError } from '../common/errors.js';
import type { ObjectClass } from '../common/messages.js';
import { requireFfmpeg, spawnTracked, stopChild } from '../common/proc.js';
import { parseConfig } from '../config/index.js';
import { FrameAssembler, classifyFfmpegError, decoderArgs } from '../ingest/index.js';
import { InferenceEngine, type BackendName, type FrameInput } from '../inference/index.js';
import { createTracker, type MotRow } from '../tracking/index.js';

export interface AnalyzeOptions {
  readonly input: string;
  readonly classes: readonly ObjectClass[];
  /** Stop after this many frames (default: the whole video). */
  readonly maxFrames?: number;
  readonly workers?: number;
  readonly backend?: BackendName;
  readonly transport?: 'tcp' | 'udp';
  /** Called after each analysed frame with its 1-based index. */
  readonly onFrame?: (frame: number) => void;
}

export interface AnalyzeResult {
  readonly rows: MotRow[];
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
}

/** Frames sent to the engine per task. */
export const ANALYZE_BATCH = 4;

interface Probe { width: number; height: number; fps: number }

async function probe(input: string, transport: 'tcp' | 'udp'): Promise<Probe> {
  const args = [...(input.startsWith('rtsp://') ? ['-rtsp_transport', transport] : []), '-v', 'error', '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height,r_frame_rate', '-of', 'json', input];
  const out = await new Promise<string>((resolve, reject) => {
    execFile('ffprobe', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new IngestError(classifyFfmpegError(stderr.trim() || err.message), `cannot open ${input}: ${stderr.trim() || err.message}`, { cause: err, detail: { input } }));
      else resolve(stdout);
    });
  });
  const stream = (JSON.parse(out) as { streams?: { width?: number; height?: number; r_frame_rate?: string }[] }).streams?.[0];
  if (!stream?.width || !stream.height) throw new IngestError('INGEST_UNSUPPORTED_CODEC', `${input} has no video stream ffmpeg can read`, { detail: { input } });
  const [num, den] = (stream.r_frame_rate ?? '25/1').split('/').map(Number);
  const fps = num && den ? num / den : 25;
  return { width: stream.width, height: stream.height, fps };
}

export async function analyzeVideo(o: AnalyzeOptions): Promise<AnalyzeResult> {
  const ffmpeg = await requireFfmpeg();
  const transport = o.transport ?? 'tcp';
  const { width, height, fps } = await probe(o.input, transport);
  const cfg = parseConfig({ inference: { workers: o.workers ?? 2, ...(o.backend ? { backend: o.backend } : {}) } });
  const inf = cfg.inference;
  const engine = await InferenceEngine.start({
    backend: inf.backend, model: inf.model, workers: inf.workers, minScore: Math.min(inf.minScore, cfg.tracking.lowScore),
    iouThreshold: inf.iouThreshold, classes: inf.classes, classMinScore: inf.classMinScore,
  });
  const tracker = createTracker('analyze', cfg.tracking);
  const rows: MotRow[] = [];
  const frameMs = 1000 / fps;
  let frame = 0;
  const emitRows = (index: number, step: ReturnType<typeof tracker.update>): void => {
    for (const u of step.updates) {
      if (u.state !== 'confirmed' || !o.classes.includes(u.cls)) continue;
      rows.push({ frame: index, id: u.trackId, x: u.box.x, y: u.box.y, w: u.box.w, h: u.box.h, conf: u.score });
    }
  };

  // Every frame, in order, at the video's own size: no fps filter, and no frame duplicated or dropped.
  const { input, output } = decoderArgs({ url: o.input, fps: null, width, height, transport });
  const args = [...input, '-i', o.input, ...output, '-fps_mode', 'passthrough', ...(o.maxFrames ? ['-frames:v', String(o.maxFrames)] : []), 'pipe:1'];
  const proc = spawnTracked(ffmpeg, args);
  let lastErr = '';
  proc.stderr?.on('data', (d: Buffer) => { lastErr = d.toString().trim().split('\n').pop() ?? lastErr; });
  const assembler = new FrameAssembler(width * height * 3);
  let pending: FrameInput[] = [];
  // Batches in flight, oldest first; their results are tracked strictly in order.
  const inflight: { first: number; run: Promise<{ detections: import('../common/messages.js').Detection[][] }> }[] = [];
  const settleOldest = async (): Promise<void> => {
    const b = inflight.shift()!;
    const out = await b.run;
    out.detections.forEach((dets, i) => {
      const index = b.first + i;
      emitRows(index, tracker.update(index, index * frameMs, dets));
      o.onFrame?.(index);
    });
  };
  const dispatch = (): void => {
    if (pending.length === 0) return;
    const first = frame - pending.length + 1;
    inflight.push({ first, run: engine.run(pending) });
    pending = [];
  };
  try {
    for await (const chunk of proc.stdout!) {
      const frames: Uint8Array[] = [];
      assembler.push(chunk as Buffer, (data) => frames.push(data));
      for (const data of frames) {
        frame++;
        pending.push({ data, width, height });
        if (pending.length === ANALYZE_BATCH) {
          dispatch();
          // Keep every worker busy and no more: the decoder waits while the oldest batch finishes.
          if (inflight.length > engine.threads) await settleOldest();
        }
      }
    }
    dispatch();
    while (inflight.length) await settleOldest();
    const code = proc.exitCode ?? await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    if (code !== 0 && frame === 0) throw new IngestError(classifyFfmpegError(lastErr), `ffmpeg could not decode ${o.input}: ${lastErr}`, { detail: { input: o.input } });
    // Tracks still open at the end are reported as they were; nothing more to emit.
    tracker.finish(frame * frameMs);
    return { rows, frames: frame, width, height, fps };
  } finally {
    await stopChild(proc, 500);
    await engine.stop();
  }
}
