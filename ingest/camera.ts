/**
 * Runs one camera: an ffmpeg decoder, restarted with exponential backoff and jitter when it exits, and killed
 * and restarted when no frame arrives within the stall timeout. A bad camera only ever changes its own state.
 */
import type { CameraConfig, CvcoreConfig } from '../config/index.js';
import { maskUrl } from '../common/log.js';
import type { Frame } from '../common/messages.js';
import { FfmpegDecoder, type DecoderOptions } from './decoder.js';
import { FrameQueue } from './frame-queue.js';
import { MotionGate, type GatedFrame } from './motion.js';
import { CAMERA_STATES, classifyFfmpegError, type CameraHealth, type CameraState, type IngestEvent } from './health.js';

export type IngestSettings = CvcoreConfig['ingest'];

/** The decoder options for a camera: its own hwaccel over the ingest-wide one, key frames only at very low rates. */
export function decoderOptionsFor(c: CameraConfig, settings: Pick<IngestSettings, 'hwaccel' | 'keyframesOnlyBelowFps'>, firstSeq: number): DecoderOptions {
  const hw = c.hwaccel ?? settings.hwaccel;
  return {
    cameraId: c.id, url: c.url, fps: c.fps, width: c.width, height: c.height, transport: c.transport,
    firstSeq, realtime: !/^[a-z]+:\/\//i.test(c.url),
    hwaccel: hw === 'cuda' ? 'cuda' : null,
    // Below about one frame every two seconds, decoding every inter frame only to throw most away costs more
    // than it gives: key frames (typically one per 1-4 s on IP cameras) are enough.
    keyframesOnly: c.keyframesOnly || c.fps <= settings.keyframesOnlyBelowFps,
  };
}

export class CameraRunner {
  readonly queue: FrameQueue;
  #cfg: CameraConfig;
  #settings: IngestSettings;
  #emit: (e: IngestEvent) => void;
  #decoder: FfmpegDecoder | null = null;
  #state: CameraState = CAMERA_STATES.stopped;
  #since = Date.now();
  #code: string | null = null;
  #reason: string | null = null;
  #nextSeq = 0;
  #framesDecoded = 0;
  #restarts = 0;
  #attempts = 0;
  #lastFrameAt: number | null = null;
  #recent: number[] = [];
  #retryTimer: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #runStartedAt = 0;
  #onFrame: ((f: Frame) => void) | null = null;
  #gate: MotionGate | null;
  #partialFrames = 0;

  constructor(cfg: CameraConfig, settings: IngestSettings, emit: (e: IngestEvent) => void) {
    this.#cfg = cfg;
    this.#settings = settings;
    this.#emit = emit;
    this.queue = new FrameQueue(settings.queueSize);
    this.#gate = cfg.motion.enabled ? new MotionGate(cfg.motion, cfg.width, cfg.height) : null;
  }

  get config(): CameraConfig { return this.#cfg; }
  get state(): CameraState { return this.#state; }

  /** Optional tap on every decoded frame (before the queue), e.g. for the motion gate or live view. */
  onFrame(fn: ((f: Frame) => void) | null): void { this.#onFrame = fn; }

  start(): void {
    if (this.#state !== CAMERA_STATES.stopped && this.#state !== CAMERA_STATES.failed) return;
    this.#attempts = 0;
    this.#connect();
    this.#watchdog = setInterval(() => this.#checkStall(), Math.min(1000, this.#settings.stallTimeoutMs / 2));
    this.#watchdog.unref();
  }

  stop(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#retryTimer = null;
    this.#watchdog = null;
    this.#setState(CAMERA_STATES.stopped, null, null);
    const d = this.#decoder;
    this.#decoder = null;
    d?.stop();
    this.queue.clear();
  }

  health(): CameraHealth {
    const now = Date.now();
    this.#recent = this.#recent.filter((t) => now - t < 5000);
    return {
      cameraId: this.#cfg.id,
      state: this.#state,
      since: this.#since,
      code: this.#code,
      reason: this.#reason,
      framesDecoded: this.#framesDecoded,
      framesDropped: this.queue.dropped,
      framesSkipped: this.#gate?.skipped ?? 0,
      partialFrames: this.#partialFrames,
      queueDepth: this.queue.size,
      restarts: this.#restarts,
      lastFrameAt: this.#lastFrameAt,
      fps: this.#recent.length / 5,
    };
  }

  #setState(state: CameraState, code: string | null, reason: string | null): void {
    const previous = this.#state;
    this.#code = code;
    this.#reason = reason === null ? null : maskUrl(reason);
    if (previous === state) return;
    this.#state = state;
    this.#since = Date.now();
    this.#emit({ type: 'health', cameraId: this.#cfg.id, state, previous, code: this.#code, reason: this.#reason, at: this.#since });
  }

  #connect(): void {
    const c = this.#cfg;
    this.#setState(CAMERA_STATES.connecting, this.#code, this.#reason);
    this.#runStartedAt = Date.now();
    const decoder = new FfmpegDecoder(decoderOptionsFor(c, this.#settings, this.#nextSeq));
    this.#decoder = decoder;
    decoder.start({
      frame: (frame) => {
        if (this.#decoder !== decoder) return;
        this.#nextSeq = frame.seq + 1;
        this.#framesDecoded++;
        this.#lastFrameAt = frame.capturedAt;
        this.#recent.push(frame.capturedAt);
        if (this.#recent.length > 600) this.#recent.splice(0, 300);
        if (this.#state !== CAMERA_STATES.live) {
          this.#attempts = 0;
          this.#setState(CAMERA_STATES.live, null, null);
        }
        this.#onFrame?.(frame);
        // The gate runs here, before the queue, so a dropped frame still taught the background model.
        const out: Frame = this.#gate ? this.#gated(frame, this.#gate) : frame;
        const before = this.queue.dropped;
        this.queue.push(out);
        if (this.queue.dropped !== before) this.#emit({ type: 'dropped', cameraId: c.id, total: this.queue.dropped, at: frame.capturedAt });
      },
      partial: (bytes) => {
        if (this.#decoder !== decoder) return;
        this.#partialFrames++;
        this.#emit({ type: 'partial_frame', cameraId: c.id, code: 'INGEST_CORRUPT_FRAME', bytes, total: this.#partialFrames, at: Date.now() });
      },
      exit: (reason) => {
        if (this.#decoder !== decoder) return;
        this.#decoder = null;
        if (this.#state === CAMERA_STATES.stopped) return;
        // A decoder the watchdog killed keeps the watchdog's diagnosis (stalled while live, unreachable while connecting).
        if (this.#state === CAMERA_STATES.stalled) {
          this.#scheduleRetry(this.#code ?? 'INGEST_STALLED', this.#reason ?? 'no frame within the stall timeout');
          return;
        }
        const code = classifyFfmpegError(reason);
        this.#scheduleRetry(code, reason ?? 'stream ended');
      },
    });
  }

  #gated(frame: Frame, gate: MotionGate): GatedFrame {
    return { ...frame, motion: gate.check(frame) };
  }

  #scheduleRetry(code: string, reason: string): void {
    this.#attempts++;
    const max = this.#settings.maxRetries;
    if (max > 0 && this.#attempts > max) {
      this.#setState(CAMERA_STATES.failed, code, reason);
      if (this.#watchdog) clearInterval(this.#watchdog);
      this.#watchdog = null;
      return;
    }
    const base = Math.min(this.#settings.backoffMaxMs, this.#settings.backoffInitialMs * 2 ** (this.#attempts - 1));
    // Full jitter in [base/2, base]: cameras that fail together do not reconnect in lockstep.
    const delay = base / 2 + Math.random() * (base / 2);
    this.#setState(CAMERA_STATES.backoff, code, reason);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (this.#state !== CAMERA_STATES.backoff) return;
      this.#restarts++;
      this.#connect();
    }, delay);
    this.#retryTimer.unref();
  }

  #checkStall(): void {
    const now = Date.now();
    const limit = this.#settings.stallTimeoutMs;
    const live = this.#state === CAMERA_STATES.live && this.#lastFrameAt !== null && now - this.#lastFrameAt > limit;
    const stuck = this.#state === CAMERA_STATES.connecting && now - this.#runStartedAt > limit;
    if (!live && !stuck) return;
    if (live) this.#setState(CAMERA_STATES.stalled, 'INGEST_STALLED', `no frame for ${limit} ms`);
    else this.#setState(CAMERA_STATES.stalled, 'INGEST_STREAM_UNREACHABLE', `no frame within ${limit} ms of connecting`);
    this.#decoder?.stop();
  }
}
