/**
 * The cross-stream batcher, after DeepStream's stream muxer: frames from every camera's queue go out in one
 * batch when `maxBatch` frames are waiting or when the oldest has waited `maxDelayMs`. It keeps at most
 * `maxInFlight` batches in the engine; while those run, frames wait in the cameras' drop-oldest queues, which
 * is the backpressure toward ingest. Results are delivered in dispatch order, so each camera sees its frames
 * in sequence even when batches finish out of order.
 */
import type { Box, Detection, DetectionResult, Frame } from '../common/messages.js';
import type { FrameQueue } from '../ingest/index.js';
import type { InferenceEngine } from './engine.js';

export interface BatcherOptions {
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  readonly maxInFlight: number;
  /**
   * False for a frame that must not reach the model (the motion gate found nothing). Such a frame still goes
   * through the batch, in order, and is delivered with no detections, so the tracker ages its tracks in frame order.
   */
  readonly analyse?: (frame: Frame) => boolean;
  /** The part of a frame to detect in (motion regions), or null for the whole frame. */
  readonly crop?: (frame: Frame) => Box | null;
}
export interface BatcherStats { readonly batches: number; readonly frames: number; readonly skipped: number; readonly meanBatch: number; readonly inFlight: number; readonly errors: number }
export type Deliver = (frame: Frame, result: DetectionResult) => void | Promise<void>;

export class Batcher {
  #engine: InferenceEngine;
  #o: BatcherOptions;
  #deliver: Deliver;
  #onError: (err: unknown) => void;
  #sources = new Map<string, FrameQueue>();
  #order: string[] = [];
  #next = 0;
  #inFlight = 0;
  #timer: NodeJS.Timeout | null = null;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;
  #batches = 0;
  #frames = 0;
  #skipped = 0;
  #errors = 0;

  constructor(engine: InferenceEngine, options: BatcherOptions, deliver: Deliver, onError: (err: unknown) => void = () => undefined) {
    for (const k of ['maxBatch', 'maxInFlight'] as const) {
      if (!Number.isInteger(options[k]) || options[k] < 1) throw new RangeError(`options.${k} must be a positive integer`);
    }
    if (!(options.maxDelayMs >= 0)) throw new RangeError('options.maxDelayMs must be >= 0');
    this.#engine = engine;
    this.#o = options;
    this.#deliver = deliver;
    this.#onError = onError;
  }

  add(id: string, queue: FrameQueue): void {
    this.#sources.set(id, queue);
    this.#order = [...this.#sources.keys()];
    queue.onReadable(() => this.#pump());
  }

  remove(id: string): void {
    this.#sources.get(id)?.onReadable(null);
    this.#sources.delete(id);
    this.#order = [...this.#sources.keys()];
  }

  stats(): BatcherStats {
    return { batches: this.#batches, frames: this.#frames, skipped: this.#skipped, meanBatch: this.#batches ? this.#frames / this.#batches : 0, inFlight: this.#inFlight, errors: this.#errors };
  }

  #waiting(): { count: number; oldest: number } {
    let count = 0;
    let oldest = Infinity;
    for (const q of this.#sources.values()) {
      count += q.size;
      const f = q.peek();
      if (f && f.capturedAt < oldest) oldest = f.capturedAt;
    }
    return { count, oldest };
  }

  #pump(): void {
    if (this.#stopped) return;
    while (this.#inFlight < this.#o.maxInFlight) {
      const { count, oldest } = this.#waiting();
      if (count === 0) return;
      const waited = Date.now() - oldest;
      if (count < this.#o.maxBatch && waited < this.#o.maxDelayMs) {
        if (!this.#timer) {
          this.#timer = setTimeout(() => { this.#timer = null; this.#pump(); }, this.#o.maxDelayMs - waited);
        }
        return;
      }
      this.#dispatch(this.#take());
    }
  }

  /** Round-robin over cameras, one frame each per round, so a busy camera cannot starve the others. */
  #take(): Frame[] {
    const batch: Frame[] = [];
    const n = this.#order.length;
    let idle = 0;
    while (batch.length < this.#o.maxBatch && idle < n) {
      const id = this.#order[this.#next % n]!;
      this.#next = (this.#next + 1) % n;
      const f = this.#sources.get(id)?.shift();
      if (f) { batch.push(f); idle = 0; } else idle++;
    }
    return batch;
  }

  #dispatch(batch: Frame[]): void {
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    const analyse = this.#o.analyse;
    const run = analyse ? batch.filter(analyse) : batch;
    this.#skipped += batch.length - run.length;
    let settled: Promise<{ detections: Detection[][]; ms: number }>;
    if (run.length > 0) {
      this.#inFlight++;
      this.#batches++;
      this.#frames += run.length;
      const crop = this.#o.crop;
      const inputs = crop ? run.map((f) => { const c = crop(f); return c ? { data: f.data, width: f.width, height: f.height, crop: c } : f; }) : run;
      settled = this.#engine.run(inputs).finally(() => { this.#inFlight--; this.#pump(); });
    } else {
      settled = Promise.resolve({ detections: [], ms: 0 });
    }
    this.#chain = this.#chain.then(async () => {
      try {
        const out = await settled;
        let j = 0;
        for (const f of batch) {
          const analysed = run === batch || (analyse?.(f) ?? true);
          const detections = analysed ? out.detections[j++] ?? [] : [];
          await this.#deliver(f, {
            cameraId: f.cameraId, seq: f.seq, capturedAt: f.capturedAt, width: f.width, height: f.height,
            detections, inferenceMs: analysed ? out.ms / run.length : 0, batchSize: analysed ? run.length : 0,
            personCount: detections.reduce((n, d) => n + (d.cls === 'person' ? 1 : 0), 0),
          });
        }
      } catch (err) {
        this.#errors++;
        this.#onError(err);
      }
    });
  }

  /** Stops taking frames and waits for the batches in flight to be delivered. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const q of this.#sources.values()) q.onReadable(null);
    await this.#chain;
  }
}
