/**
 * A token bucket per key (an API token id, or a client address before any token is known): `burst` requests
 * at once, refilled at `perMinute`. Buckets are created on demand and the map is bounded, so a flood of
 * addresses cannot grow it without limit: the least recently used bucket goes first.
 */
export interface RateLimitSettings {
  readonly perMinute: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export const RATE_LIMIT_MAX_KEYS = 10_000;

export class TokenBuckets {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  #buckets = new Map<string, Bucket>();

  constructor(s: RateLimitSettings, options: { maxKeys?: number; now?: () => number } = {}) {
    if (!Number.isInteger(s.perMinute) || s.perMinute < 1) throw new RangeError('rateLimit.perMinute must be a positive integer');
    if (!Number.isInteger(s.burst) || s.burst < 1) throw new RangeError('rateLimit.burst must be a positive integer');
    this.#perMs = s.perMinute / 60_000;
    this.#burst = s.burst;
    this.#maxKeys = options.maxKeys ?? RATE_LIMIT_MAX_KEYS;
    this.#now = options.now ?? Date.now;
  }

  /** Takes one token; returns 0 when allowed, else the seconds until one is available (for Retry-After). */
  take(key: string): number {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (b) {
      this.#buckets.delete(key);
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
    } else {
      b = { tokens: this.#burst, at: now };
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string);
    }
    // Re-inserted so Map order is least recently used first.
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs / 1000));
  }

  get size(): number { return this.#buckets.size; }
}
