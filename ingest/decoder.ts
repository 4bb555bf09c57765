/**
 * One ffmpeg decoder process per camera, driven through fluent-ffmpeg over Debian's ffmpeg. Scaling and frame
 * rate are done inside ffmpeg (`fps`, `scale` filters), so what reaches Node is already the analysis size and
 * rate. Each frame is assembled straight into its own SharedArrayBuffer, the only copy on its way to inference.
 */
import ffmpeg from 'fluent-ffmpeg';
import type { ChildProcess } from 'node:child_process';
import { trackChild } from '../common/proc.js';
import type { Frame } from '../common/messages.js';

export interface DecoderOptions {
  readonly cameraId: string;
  readonly url: string;
  readonly fps: number | null; // null: every frame (files analysed whole)
  readonly width: number;
  readonly height: number;
  readonly transport: 'tcp' | 'udp';
  /** Read a file at its native rate (simulating a live camera) rather than as fast as possible. */
  readonly realtime?: boolean;
  readonly hwaccel?: 'cuda' | null;
  readonly keyframesOnly?: boolean;
  /** Sequence number of the first frame (continues across reconnects). */
  readonly firstSeq: number;
  /** Socket/IO timeout for network inputs, µs (ffmpeg -timeout). */
  readonly ioTimeoutUs?: number;
}

export interface DecoderEvents {
  frame(frame: Frame): void;
  /** ffmpeg ended: `reason` is its last meaningful stderr line (or null on a clean end of input). */
  exit(reason: string | null, code: number | null): void;
}

/** The ffmpeg arguments for a camera, shared with the bare-ffmpeg benchmark so both decode the same way. */
export function decoderArgs(o: Pick<DecoderOptions, 'url' | 'fps' | 'width' | 'height' | 'transport' | 'realtime' | 'hwaccel' | 'keyframesOnly' | 'ioTimeoutUs'>): { input: string[]; output: string[] } {
  const input: string[] = ['-hide_banner', '-nostdin'];
  if (o.url.startsWith('rtsp://')) input.push('-rtsp_transport', o.transport, '-timeout', String(o.ioTimeoutUs ?? 5_000_000));
  if (o.hwaccel === 'cuda') input.push('-hwaccel', 'cuda');
  if (o.keyframesOnly) input.push('-skip_frame', 'nokey');
  if (o.realtime) input.push('-re');
  const filters: string[] = [];
  if (o.fps !== null) filters.push(`fps=${o.fps}`);
  filters.push(`scale=${o.width}:${o.height}`);
  const output = ['-an', '-sn', '-vf', filters.join(','), '-pix_fmt', 'rgb24', '-f', 'rawvideo'];
  if (o.keyframesOnly) output.push('-vsync', 'vfr');
  return { input, output };
}

const NOISE = /^(frame=|Input #|Output #|Stream mapping|Press \[q\]|  )/;

export class FfmpegDecoder {
  readonly options: DecoderOptions;
  #proc: ChildProcess | null = null;
  #killed = false;
  #seq: number;
  #lastError: string | null = null;
  #started: number = Date.now();

  constructor(options: DecoderOptions) {
    this.options = options;
    this.#seq = options.firstSeq;
  }

  get nextSeq(): number { return this.#seq; }

  start(events: DecoderEvents): void {
    const o = this.options;
    const frameBytes = o.width * o.height * 3;
    const { input, output } = decoderArgs(o);
    let buf = new Uint8Array(new SharedArrayBuffer(frameBytes));
    let filled = 0;
    let runFrames = 0;
    const interval = o.fps ? 1 / o.fps : 0;

    const cmd = ffmpeg(o.url).inputOptions(input).outputOptions(output);
    let exited = false;
    const finish = (reason: string | null, code: number | null): void => {
      if (exited) return;
      exited = true;
      events.exit(this.#killed ? null : reason, code);
    };
    cmd.on('start', () => {
      const proc = (cmd as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
      if (proc) { this.#proc = proc; trackChild(proc); }
    });
    cmd.on('stderr', (line: string) => {
      if (!NOISE.test(line) && line.trim()) this.#lastError = line.trim();
    });
    cmd.on('error', (err: Error) => finish(this.#lastError ?? err.message, null));
    cmd.on('end', () => finish(null, 0));
    this.#started = Date.now();
    const stream = cmd.pipe();
    stream.on('data', (chunk: Buffer) => {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - off);
        buf.set(chunk.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled === frameBytes) {
          const frame: Frame = {
            cameraId: o.cameraId,
            seq: this.#seq++,
            pts: runFrames * interval,
            capturedAt: Date.now(),
            width: o.width,
            height: o.height,
            data: buf,
          };
          runFrames++;
          buf = new Uint8Array(new SharedArrayBuffer(frameBytes));
          filled = 0;
          events.frame(frame);
        }
      }
    });
    stream.on('error', () => { /* reported through the command's error event */ });
  }

  get lastError(): string | null { return this.#lastError; }
  get uptimeMs(): number { return Date.now() - this.#started; }

  stop(): void {
    this.#killed = true;
    const p = this.#proc;
    if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}
