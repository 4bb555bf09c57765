import type { Frame } from '../common/messages.js';

/**
 * A bounded per-camera queue that drops the oldest frame when full: a slow consumer costs freshness, never
 * memory. Drops are counted (exported as a metric and in camera health).
 */
export class FrameQueue {
  readonly capacity: number;
  #items: Frame[] = [];
  #dropped = 0;
  #pushed = 0;
  #onReadable: (() => void) | null = null;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
  }

  /** Adds a frame; returns false when an older frame had to be dropped to make room. */
  push(frame: Frame): boolean {
    this.#pushed++;
    let kept = true;
    if (this.#items.length >= this.capacity) {
      this.#items.shift();
      this.#dropped++;
      kept = false;
    }
    this.#items.push(frame);
    this.#onReadable?.();
    return kept;
  }

  shift(): Frame | undefined {
    return this.#items.shift();
  }

  peek(): Frame | undefined {
    return this.#items[0];
  }

  clear(): void {
    this.#dropped += this.#items.length;
    this.#items = [];
  }

  get size(): number { return this.#items.length; }
  get dropped(): number { return this.#dropped; }
  get pushed(): number { return this.#pushed; }
  /** Bytes held (bounded by capacity x frame size). */
  get bytes(): number { return this.#items.reduce((n, f) => n + f.data.byteLength, 0); }

  /** One listener, called after each push (the batcher uses it to wake up). */
  onReadable(fn: (() => void) | null): void { this.#onReadable = fn; }
}
