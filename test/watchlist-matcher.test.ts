/**
 * The matcher alone (no store, no models): the exact search used for large departments finds exactly what the
 * loop finds, rows stay right as entries come and go, and thresholds and expiry apply per entry.
 */
import test from 'ava';
import { Matcher, oneEditApart, SIMD_MIN_ROWS } from '../watchlist/index.js';
import { rng, unitVector } from './support/index-records.js';

const D = 64;
/** The matcher's first k (FIRST_K): some queries must pass more rows than that. */
const FIRST_K_GUESS = 32;

/** Each matchFace result recomputed by hand over every photo. */
function bruteForce(entries: Map<string, { vecs: Float32Array[]; threshold: number; expiresAt: number | null }>, q: Float32Array, at: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [id, e] of entries) {
    if (e.expiresAt !== null && e.expiresAt <= at) continue;
    let best = -Infinity;
    for (const v of e.vecs) { let s = 0; for (let i = 0; i < D; i++) s += v[i]! * q[i]!; best = Math.max(best, s); }
    if (best >= e.threshold) out.push([id, best]);
  }
  return out.sort((a, b) => b[1] - a[1]);
}

test('watchlist - matcher: the exact search above SIMD_MIN_ROWS returns what the loop returns, through adds and removals', (t) => {
  const rand = rng(7);
  const m = new Matcher(D);
  const entries = new Map<string, { vecs: Float32Array[]; threshold: number; expiresAt: number | null }>();
  const now = 1_000_000;
  // Clusters of near-duplicates so that many rows pass their thresholds at once (the k-doubling path).
  const centres = Array.from({ length: 5 }, () => unitVector(rand, D));
  const near = (c: Float32Array): Float32Array => {
    const n = unitVector(rand, D);
    const v = new Float32Array(D);
    let s = 0;
    for (let i = 0; i < D; i++) { v[i] = c[i]! + 0.25 * n[i]!; s += v[i]! * v[i]!; }
    for (let i = 0; i < D; i++) v[i] = v[i]! / Math.sqrt(s);
    return v;
  };
  let id = 0;
  const add = (): void => {
    const c = centres[Math.floor(rand() * centres.length)]!;
    const vecs = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => near(c));
    const e = { vecs, threshold: 0.5 + rand() * 0.4, expiresAt: rand() < 0.1 ? now - 1 : rand() < 0.2 ? now + 1000 : null };
    const key = `e${id++}`;
    entries.set(key, e);
    m.putFace({ id: key, list: `l${id % 3}`, department: 'd', threshold: e.threshold, expiresAt: e.expiresAt }, vecs);
  };
  while (m.faceRows('d') < Math.max(3000, SIMD_MIN_ROWS * 4)) add();
  const check = (label: string): void => {
    for (let k = 0; k < 20; k++) {
      const q = k % 2 ? near(centres[k % centres.length]!) : unitVector(rand, D);
      const got = m.matchFace('d', q, now).map((h) => [h.entry, h.similarity] as [string, number]);
      const want = bruteForce(entries, q, now);
      t.deepEqual(got.map(([e]) => e), want.map(([e]) => e), label);
      for (let i = 0; i < got.length; i++) t.true(Math.abs(got[i]![1] - want[i]![1]) < 1e-4);
    }
  };
  check('large table');
  t.true([...entries.keys()].some((k) => m.matchFace('d', entries.get(k)!.vecs[0]!, now).length > FIRST_K_GUESS), 'some query passes more rows than the first k');
  // Remove a third (rows move), then check again; then all but a few (the float32 loop alone).
  for (const k of [...entries.keys()].filter((_, i) => i % 3 === 0)) { m.remove(k); entries.delete(k); }
  check('after removals');
  for (const k of [...entries.keys()].slice(60)) { m.remove(k); entries.delete(k); }
  t.true(m.faceRows('d') < SIMD_MIN_ROWS);
  check('after removals (loop path)');
  while (m.faceRows('d') < SIMD_MIN_ROWS + 100) add();
  check('grown again');
});
test('watchlist - matcher: thresholds, expiry, bestOf over allow-lists, plates one edit apart', (t) => {
  const rand = rng(3);
  const m = new Matcher(D);
  const a = unitVector(rand, D);
  const b = unitVector(rand, D);
  m.putFace({ id: 'a', list: 'allow', department: 'd', threshold: 0.9, expiresAt: null }, [a]);
  m.putFace({ id: 'b', list: 'other', department: 'd', threshold: 0.9, expiresAt: 500 }, [b]);
  t.deepEqual(m.matchFace('d', a, 0).map((h) => h.entry), ['a']);
  t.deepEqual(m.matchFace('d', b, 0).map((h) => h.entry), ['b']);
  t.deepEqual(m.matchFace('d', b, 500), [], 'expired at its expiry');
  t.deepEqual(m.matchFace('x', a, 0), [], 'another department');
  t.is(m.bestOf(['allow'], b, 0)?.entry, 'a', 'bestOf reports the closest entry even below its threshold');
  t.true(m.bestOf(['allow'], b, 0)!.similarity < 0.9);
  t.is(m.bestOf(['nothing'], a, 0), null);
  m.update('a', { threshold: 1.01 });
  t.deepEqual(m.matchFace('d', a, 0), []);
  t.throws(() => m.matchFace('d', new Float32Array(3), 0), { instanceOf: RangeError });
  t.true(oneEditApart('鲁B12345', '鲁B12346'));
  t.true(oneEditApart('鲁B12345', '鲁B1234'));
  t.true(oneEditApart('鲁B1234', '鲁B12345'));
  t.true(oneEditApart('鲁B12345', '鲁BX12345'));
  t.false(oneEditApart('鲁B12345', '鲁B12345'));
  t.false(oneEditApart('鲁B12345', '鲁B12354'));
});
