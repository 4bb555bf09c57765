/**
 * A small seeded generator (mulberry32), so every plate, view and frame made here is the same on every machine
 * and every run for the same seed. Math.random is never used in this folder.
 */
export class Prng {
  #s: number;
  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new TypeError('seed must be an integer');
    // Mixing the seed once keeps neighbouring seeds (1, 2, 3...) from starting on similar sequences.
    this.#s = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number { return lo + (hi - lo) * this.next(); }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  pick(items: string): string;
  pick<T>(items: readonly T[]): T;
  pick<T>(items: readonly T[] | string): T | string {
    const list: readonly (T | string)[] = typeof items === 'string' ? [...items] : items;
    if (list.length === 0) throw new RangeError('pick needs at least one item');
    return list[Math.floor(this.next() * list.length)]!;
  }
  chance(p: number): boolean { return this.next() < p; }
  /** Standard normal (Box-Muller), for sensor noise. */
  gauss(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** A new generator derived from this one, so a sub-task's draws do not shift the parent's sequence. */
  fork(): Prng { return new Prng(Math.floor(this.next() * 2 ** 31)); }
}
