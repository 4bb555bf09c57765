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
import { DEFAULTS, parseConfig } from '../config/index.js';
import { FrameAssembler, classifyFfmpegError, decoderArgs } from '../ingest/index.js';
import { InferenceEngine, type BackendName, type FrameInput } from '../inference/index.js';
import { createTracker, type MotRow } from '../tracking/index.js';
import { trackerOptions } from './pipeline.js';

export interface AnalyzeOptions {
  readonly input: string;
  readonly classes: readonly ObjectClass[];
  /** Stop after this many frames (default: the whole video). */
  readonly maxFrames?: number;
  readonly workers?: number;
  readonly backend?: BackendName;
  readonly transport?: 'tcp' | 'udp';
  /**
   * Analyse at this rate, as a live camera would (frames chosen the way ffmpeg's fps filter chooses them), with
   * the live pipeline's detector settings and cadence; absent: every frame of the video.
   */
  readonly fps?: number;
  /** Called after each decoded frame with its 1-based index and the video's frame count (null when unknown). */
  readonly onFrame?: (frame: number, total: number | null) => void;
}

export interface AnalyzeResult {
  readonly rows: MotRow[];
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Frames that went to the detector. */
  readonly analysed: number;
}

/** Frames sent to the engine per task. */
export const ANALYZE_BATCH = 4;

interface Probe { width: number; height: number; fps: number; frames: number | null }

async function probe(input: string, transport: 'tcp' | 'udp'): Promise<Probe> {
  const args = [...(input.startsWith('rtsp://') ? ['-rtsp_transport', transport] : []), '-v', 'error', '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height,r_frame_rate,nb_frames', '-of', 'json', input];
  const out = await new Promise<string>((resolve, reject) => {
    execFile('ffprobe', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new IngestError(classifyFfmpegError(stderr.trim() || err.message), `cannot open ${input}: ${stderr.trim() || err.message}`, { cause: err, detail: { input } }));
      else resolve(stdout);
    });
  });
  const stream = (JSON.parse(out) as { streams?: { width?: number; height?: number; r_frame_rate?: string; nb_frames?: string }[] }).streams?.[0];
  if (!stream?.width || !stream.height) throw new IngestError('INGEST_UNSUPPORTED_CODEC', `${input} has no video stream ffmpeg can read`, { detail: { input } });
  const [num, den] = (stream.r_frame_rate ?? '25/1').split('/').map(Number);
  const fps = num && den ? num / den : 25;
  const frames = Number(stream.nb_frames);
  return { width: stream.width, height: stream.height, fps, frames: Number.isInteger(frames) && frames > 0 ? frames : null };
}

/**
 * Whether 1-based frame `n` of a video at `videoFps` is one a camera analysing at `fps` sees: the first frame of
 * each 1 / fps slot, as ffmpeg's fps filter picks them. At or above the video's rate every frame is.
 */
export function liveFrame(n: number, videoFps: number, fps: number | undefined): boolean {
  if (fps === undefined || fps >= videoFps) return true;
  return n === 1 || Math.floor(((n - 1) * fps) / videoFps) > Math.floor(((n - 2) * fps) / videoFps);
}

export async function analyzeVideo(o: AnalyzeOptions): Promise<AnalyzeResult> {
  const ffmpeg = await requireFfmpeg();
  const transport = o.transport ?? 'tcp';
  const { width, height, fps, frames: total } = await probe(o.input, transport);
  if (o.fps !== undefined && !(o.fps > 0)) throw new RangeError('options.fps must be a positive number');
  const cfg = parseConfig({ inference: { ...(o.workers ? { workers: o.workers } : {}), ...(o.backend ? { backend: o.backend } : {}) } });
  const inf = cfg.inference;
  // At a live rate, the live camera's cadence too: the detector runs on every detectEvery-th analysed frame.
  const detectEvery = o.fps !== undefined ? DEFAULTS.camera.detectEvery : 1;
  const engine = await InferenceEngine.start({
    backend: inf.backend, model: inf.model, ...(inf.inputSize !== null ? { inputSize: inf.inputSize } : {}), workers: inf.workers, minScore: Math.min(inf.minScore, cfg.tracking.lowScore),
    iouThreshold: inf.iouThreshold, classes: inf.classes, classMinScore: inf.classMinScore,
    ...(inf.backend === 'webgpu' ? { maxBatch: inf.maxBatch, webgpu: inf.webgpu } : {}),
  });
  const tracker = createTracker('analyze', trackerOptions(cfg));
  const rows: MotRow[] = [];
  const frameMs = 1000 / fps;
  let frame = 0;
  let analysed = 0;
  let live = 0;
  // The measured boxes of confirmed tracks, with a new track's first boxes back-filled: the same rows as
  // `cvcore track` writes for MOT detections.
  const classOf = new Map<number, ObjectClass>();
  const emitRows = (step: ReturnType<typeof tracker.update>): void => {
    for (const u of step.updates) classOf.set(u.trackId, u.cls);
    for (const r of tracker.reported()) {
      if (!o.classes.includes(classOf.get(r.id) ?? 'person')) continue;
      rows.push({ frame: r.seq, id: r.id, x: r.box.x, y: r.box.y, w: r.box.w, h: r.box.h, conf: r.score });
    }
    for (const u of step.updates) if (u.state === 'removed') classOf.delete(u.trackId);
  };

  // Every frame, in order, at the video's own size: no fps filter, and no frame duplicated or dropped.
  const { input, output } = decoderArgs({ url: o.input, fps: null, width, height, transport });
  const args = [...input, '-i', o.input, ...output, '-fps_mode', 'passthrough', ...(o.maxFrames ? ['-frames:v', String(o.maxFrames)] : []), 'pipe:1'];
  const proc = spawnTracked(ffmpeg, args);
  let lastErr = '';
  proc.stderr?.on('data', (d: Buffer) => { lastErr = d.toString().trim().split('\n').pop() ?? lastErr; });
  const assembler = new FrameAssembler(width * height * 3);
  let pending: FrameInput[] = [];
  let pendingIndex: number[] = [];
  // Batches in flight, oldest first, with the frames the tracker only predicts on (cadence) in between: their
  // results are tracked strictly in the video's order.
  const inflight: { frames: number[]; skipped: number[][]; run: Promise<{ detections: import('../common/messages.js').Detection[][] }> }[] = [];
  let skipped: number[] = [];
  let skippedPerFrame: number[][] = [];
  const settleOldest = async (): Promise<void> => {
    const b = inflight.shift()!;
    const out = await b.run;
    out.detections.forEach((dets, i) => {
      for (const s of b.skipped[i] ?? []) emitRows(tracker.skip(s, s * frameMs));
      const index = b.frames[i]!;
      emitRows(tracker.update(index, index * frameMs, dets));
    });
  };
  const dispatch = (): void => {
    if (pending.length === 0) return;
    inflight.push({ frames: pendingIndex, skipped: skippedPerFrame, run: engine.run(pending) });
    pending = [];
    pendingIndex = [];
    skippedPerFrame = [];
  };
  try {
    for await (const chunk of proc.stdout!) {
      const frames: Uint8Array[] = [];
      assembler.push(chunk as Buffer, (data) => frames.push(data));
      for (const data of frames) {
        frame++;
        o.onFrame?.(frame, total);
        if (!liveFrame(frame, fps, o.fps)) continue;
        // Frames between detections at the cadence: the tracker predicts on them, in order.
        if (live++ % detectEvery !== 0) { skipped.push(frame); continue; }
        analysed++;
        pending.push({ data, width, height });
        pendingIndex.push(frame);
        skippedPerFrame.push(skipped);
        skipped = [];
        if (pending.length === ANALYZE_BATCH) {
          dispatch();
          // Keep every worker busy and no more: the decoder waits while the oldest batch finishes.
          if (inflight.length > engine.threads) await settleOldest();
        }
      }
    }
    dispatch();
    while (inflight.length) await settleOldest();
    for (const s of skipped) emitRows(tracker.skip(s, s * frameMs));
    const code = proc.exitCode ?? await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    if (code !== 0 && frame === 0) throw new IngestError(classifyFfmpegError(lastErr), `ffmpeg could not decode ${o.input}: ${lastErr}`, { detail: { input: o.input } });
    // Tracks still open at the end are reported as they were; nothing more to emit.
    tracker.finish(frame * frameMs);
    rows.sort((a, b) => a.frame - b.frame || a.id - b.id);
    return { rows, frames: frame, width, height, fps, analysed };
  } finally {
    await stopChild(proc, 500);
    await engine.stop();
  }
}
