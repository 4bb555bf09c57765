/**
 * One ffmpeg decoder process per camera, driven through fluent-ffmpeg over Debian's ffmpeg. Scaling and frame
 * rate are done inside ffmpeg (`fps`, `scale` filters), so what reaches Node is already the analysis size and
 * rate. Each frame is assembled straight into its own SharedArrayBuffer, the only copy on its way to inference.
 */
import ffmpeg from 'fluent-ffmpeg';
import type { ChildProcess } from 'node:child_process';
import { FFMPEG_OWN_GROUP, trackChild } from '../common/proc.js';
import { protocolWhitelist } from '../common/camera-url.js';
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
  /** The output ended `bytes` into a frame (a truncated stream); that frame was discarded. Called before `exit`. */
  partial?(bytes: number): void;
}

/**
 * Cuts ffmpeg's rawvideo byte stream into frames of exactly `frameBytes`, each assembled straight into its own
 * SharedArrayBuffer (the only copy on its way to inference). Rawvideo has no framing of its own, so the only
 * wrong-sized frame possible is the last one of a stream cut short: `end()` discards it and says how long it was.
 */
export class FrameAssembler {
  readonly frameBytes: number;
  #buf: Uint8Array;
  #filled = 0;

  constructor(frameBytes: number) {
    if (!Number.isInteger(frameBytes) || frameBytes < 1) throw new RangeError('frameBytes must be a positive integer');
    this.frameBytes = frameBytes;
    this.#buf = new Uint8Array(new SharedArrayBuffer(frameBytes));
  }

  /** Bytes of the frame being assembled. */
  get pending(): number { return this.#filled; }

  push(chunk: Uint8Array, emit: (data: Uint8Array) => void): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(this.frameBytes - this.#filled, chunk.length - off);
      this.#buf.set(chunk.subarray(off, off + n), this.#filled);
      this.#filled += n;
      off += n;
      if (this.#filled === this.frameBytes) {
        const full = this.#buf;
        this.#buf = new Uint8Array(new SharedArrayBuffer(this.frameBytes));
        this.#filled = 0;
        emit(full);
      }
    }
  }

  /** Ends the stream: returns the bytes of the discarded partial frame (0 when the stream ended on a frame boundary). */
  end(): number {
    const partial = this.#filled;
    this.#filled = 0;
    return partial;
  }
}

/** The ffmpeg arguments for a camera, shared with the bare-ffmpeg benchmark so both decode the same way. */
export function decoderArgs(o: Pick<DecoderOptions, 'url' | 'fps' | 'width' | 'height' | 'transport' | 'realtime' | 'hwaccel' | 'keyframesOnly' | 'ioTimeoutUs'>): { input: string[]; output: string[] } {
  // Only the protocols the camera's scheme needs: nothing the stream sends back can lead ffmpeg to file: or concat:.
  const input: string[] = ['-hide_banner', '-nostdin', '-protocol_whitelist', protocolWhitelist(o.url)];
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
  #partialFrames = 0;

  constructor(options: DecoderOptions) {
    this.options = options;
    this.#seq = options.firstSeq;
  }

  get nextSeq(): number { return this.#seq; }

  start(events: DecoderEvents): void {
    const o = this.options;
    const { input, output } = decoderArgs(o);
    const interval = o.fps ? 1 / o.fps : 0;
    let runFrames = 0;
    const assembler = new FrameAssembler(o.width * o.height * 3);

    // In a process group of its own (bin/ffmpeg-own-group): Ctrl-C reaches the core, which stops decoders in order.
    const cmd = ffmpeg(o.url).inputOptions(input).outputOptions(output).setFfmpegPath(FFMPEG_OWN_GROUP);
    let exited = false;
    const finish = (reason: string | null, code: number | null): void => {
      if (exited) return;
      exited = true;
      // A stream cut mid-frame leaves a partial frame behind: it is counted and reported, never emitted.
      const partial = assembler.end();
      if (partial > 0) {
        this.#partialFrames++;
        events.partial?.(partial);
      }
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
      assembler.push(chunk, (data) => {
        const frame: Frame = {
          cameraId: o.cameraId,
          seq: this.#seq++,
          pts: runFrames * interval,
          capturedAt: Date.now(),
          width: o.width,
          height: o.height,
          data,
        };
        runFrames++;
        events.frame(frame);
      });
    });
    stream.on('error', () => { /* reported through the command's error event */ });
  }

  /** Runs of this decoder that ended with a partial frame (0 or 1; a decoder runs once). */
  get partialFrames(): number { return this.#partialFrames; }

  get lastError(): string | null { return this.#lastError; }
  get uptimeMs(): number { return Date.now() - this.#started; }

  stop(): void {
    this.#killed = true;
    const p = this.#proc;
    if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}
