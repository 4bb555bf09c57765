/**
 * Plate search over the plate indexes (keys.ts: `P` forward, `Q` reversed). Page order is by match kind, then
 * plate, then start descending, then id; each result's place in it is an order key
 * `<kind digit><plate part>\0<inv start>\0<id>` (kind 0: exact or pattern, 1: one OCR confusion away, 2: one
 * other character away), compared bytewise. Cursors and cluster merges use that key.
 *
 * Exact and wildcard (kind 0): the pattern's literal head (before the first wildcard) is a prefix range of the
 * forward index, its literal tail (after the last wildcard) a prefix range of the reversed one; the more
 * selective is scanned (chosen from the pattern alone, so every page and every shard of a query scans the same
 * index and the order keys agree), the rest of the pattern is checked on the key's plate, the other predicates
 * on the entry's digest. A pattern without a literal end scans the whole plate index within the scan budget.
 * The plate part of a kind-0 key is the key's plate as stored in the index scanned (reversed for `Q`).
 *
 * Fuzzy (kinds 1 and 2, a plate without wildcards of at least FUZZY_MIN_LENGTH characters): a plate one
 * character off at position i shares the pattern's characters before i (a forward range) and after i (a
 * reversed range); the narrower of the two is read for each position. Candidates are gathered, sorted by order
 * key and paged; the gathering reads at most the scan budget of entries (a fuzzy phase past that is cut short).
 */
import { IndexError } from '../common/errors.js';
import { decodeCursor } from './cursor.js';
import { PLATE_RANGE_END, SEP, SEP_END, TIME_WIDTH, compareKeys, plateBase, reversePlate } from './keys.js';
import { RangeReader, takeSmallest } from './planner.js';
import type { Digest } from './record.js';
import type { RocksDb } from './rocks.js';
import { hasWildcard } from './query.js';
import type { PlateMatch, SearchQuery } from './types.js';

/** Pairs an OCR reads one for the other on plates; a substitution within a pair ranks above any other. */
export const PLATE_CONFUSIONS: readonly string[] = ['0D', '0Q', '8B', '2Z', '5S', '17', '6G', '4A'];
const CONFUSABLE = new Set(PLATE_CONFUSIONS.flatMap(([a, b]) => [a! + b!, b! + a!]));

/** Shorter plates get no fuzzy phase: one character off a short fragment matches too much to be useful. */
export const FUZZY_MIN_LENGTH = 5;

export const MATCH_OF_KIND: Readonly<Record<string, PlateMatch>> = { 0: 'exact', 1: 'confusion', 2: 'fuzzy' };

export interface PlateHit {
  id: string;
  start: number;
  order: string;
  match: PlateMatch;
}

export interface PlateScanResult {
  hits: PlateHit[];
  /** Set when the scan budget ran out in the pattern phase: the order key of the last entry examined. */
  stoppedAt: { id: string; start: number; order: string } | null;
}

/**
 * How much a literal narrows a range: the province and the issuing letter repeat across most of a city's
 * plates, so they count little; every later character splits the range about tenfold.
 */
function headWeight(chars: readonly string[]): number {
  return chars.reduce((s, _c, j) => s + (j < 2 ? 0.3 : 1), 0);
}

function patternRegex(pattern: string): RegExp {
  const body = [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'u');
}

/** Whether the plate search runs its fuzzy phases for this query. */
export function fuzzyOn(q: SearchQuery): boolean {
  return q.plate !== undefined && q.plateFuzzy !== false && !hasWildcard(q.plate) && [...q.plate].length >= FUZZY_MIN_LENGTH;
}

interface Anchor {
  reversed: boolean;
  /** Lower bound inside the index base (inclusive). */
  lower: string;
  /** Exclusive upper bound inside the index base. */
  upper: string;
  /** Checks the plate as stored in the index read (reversed for `Q`); null: the range holds only matches. */
  test: RegExp | null;
}

function anchorOf(pattern: string): Anchor {
  if (!hasWildcard(pattern)) return { reversed: false, lower: pattern + SEP, upper: pattern + SEP_END, test: null };
  const chars = [...pattern];
  const first = chars.findIndex((c) => c === '*' || c === '?');
  let last = chars.length - 1;
  while (chars[last] !== '*' && chars[last] !== '?') last--;
  const head = chars.slice(0, first);
  const tail = chars.slice(last + 1);
  if (head.length > 0 && headWeight(head) >= tail.length) {
    const lit = head.join('');
    return { reversed: false, lower: lit, upper: lit + PLATE_RANGE_END, test: patternRegex(pattern) };
  }
  // The reversed pattern tests the stored (reversed) plate as it is: no string reversed per entry.
  const lit = reversePlate(tail.join(''));
  return { reversed: true, lower: lit, upper: lit + PLATE_RANGE_END, test: patternRegex(reversePlate(pattern)) };
}

function parseRemainder(rem: string, reversed: boolean): { plate: string; start: number; id: string } {
  const a = rem.indexOf(SEP);
  const stored = rem.slice(0, a);
  const inv = rem.slice(a + 1, a + 1 + TIME_WIDTH);
  return {
    plate: reversed ? reversePlate(stored) : stored,
    start: 999_999_999_999_999 - Number(inv),
    id: rem.slice(a + 2 + TIME_WIDTH),
  };
}

function badCursor(): IndexError {
  return new IndexError('INDEX_BAD_QUERY', 'cursor is not a cursor this index issued for a plate search', { detail: { field: 'cursor' } });
}

/**
 * Up to `want` plate hits after the query's cursor, in page order, that pass `filter`. `departments` are the
 * departments to read (the scope's, or every one holding records).
 */
export async function plateScan(
  db: RocksDb, q: SearchQuery, departments: readonly string[], filter: (d: Digest) => boolean, want: number, budget: number,
): Promise<PlateScanResult> {
  const pattern = q.plate!;
  let after: string | null = null;
  if (q.cursor !== undefined) {
    const c = decodeCursor(q.cursor);
    if (c.key === undefined || !/^[012]/.test(c.key)) throw badCursor();
    after = c.key;
  }
  const hits: PlateHit[] = [];
  if (after === null || after[0] === '0') {
    const { hits: found, stoppedAt } = await patternPhase(db, pattern, departments, filter, want, budget, after);
    if (stoppedAt !== null) return { hits: found, stoppedAt };
    hits.push(...found);
    after = null;
  }
  if (hits.length < want && fuzzyOn(q)) hits.push(...await fuzzyPhase(db, pattern, departments, filter, want - hits.length, budget, after));
  return { hits, stoppedAt: null };
}

async function patternPhase(
  db: RocksDb, pattern: string, departments: readonly string[], filter: (d: Digest) => boolean, want: number, budget: number,
  after: string | null,
): Promise<PlateScanResult> {
  const a = anchorOf(pattern);
  let lower = { key: a.lower, inclusive: true };
  if (after !== null) {
    const rem = after.slice(1);
    if (compareKeys(rem, a.lower) >= 0) lower = { key: rem, inclusive: false };
  }
  const readers = departments.map((d) => new RangeReader(db, plateBase(d, a.reversed), lower, a.upper));
  const hits: PlateHit[] = [];
  let examined = 0;
  let stoppedAt: PlateScanResult['stoppedAt'] = null;
  try {
    await Promise.all(readers.map((r) => r.head()));
    for (;;) {
      const best = await takeSmallest(readers, compareKeys);
      if (best === null) break;
      const [rem, value] = best;
      examined++;
      // Most entries of an unanchored scan fail the pattern: test the stored plate before parsing anything else.
      if ((a.test === null || a.test.test(rem.slice(0, rem.indexOf(SEP)))) && filter(JSON.parse(value.toString('utf8')) as Digest)) {
        const e = parseRemainder(rem, a.reversed);
        hits.push({ id: e.id, start: e.start, order: '0' + rem, match: 'exact' });
        if (hits.length >= want) break;
      } else if (examined >= budget) {
        const e = parseRemainder(rem, a.reversed);
        stoppedAt = { id: e.id, start: e.start, order: '0' + rem };
        break;
      }
    }
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
  return { hits, stoppedAt };
}

async function fuzzyPhase(
  db: RocksDb, pattern: string, departments: readonly string[], filter: (d: Digest) => boolean, want: number, budget: number,
  after: string | null,
): Promise<PlateHit[]> {
  const qc = [...pattern];
  const n = qc.length;
  const found = new Map<string, PlateHit>();
  let examined = 0;
  const readPosition = async (department: string, i: number): Promise<void> => {
    const head = qc.slice(0, i);
    const tail = qc.slice(i + 1);
    const reversed = !(headWeight(head) > tail.length);
    const lit = reversed ? reversePlate(tail.join('')) : head.join('');
    const it = db.iterator({ gte: plateBase(department, reversed) + lit, lt: plateBase(department, reversed) + lit + PLATE_RANGE_END });
    const baseLength = plateBase(department, reversed).length;
    try {
      while (examined < budget) {
        const rows = await it.nextv(1024);
        if (rows.length === 0) break;
        examined += rows.length;
        for (const [k, v] of rows) {
          const rem = k.slice(baseLength);
          const e = parseRemainder(rem, reversed);
          const pc = [...e.plate];
          if (pc.length !== n || pc[i] === qc[i]) continue;
          let same = true;
          for (let j = 0; j < n && same; j++) if (j !== i && pc[j] !== qc[j]) same = false;
          if (!same || !filter(JSON.parse(v!.toString('utf8')) as Digest)) continue;
          const kind = CONFUSABLE.has(qc[i]! + pc[i]!) ? '1' : '2';
          const order = kind + e.plate + SEP + rem.slice(rem.indexOf(SEP) + 1);
          found.set(e.id, { id: e.id, start: e.start, order, match: MATCH_OF_KIND[kind]! });
        }
      }
    } finally {
      await it.close();
    }
  };
  const jobs: Array<Promise<void>> = [];
  for (const d of departments) for (let i = 0; i < n; i++) jobs.push(readPosition(d, i));
  await Promise.all(jobs);
  const sorted = [...found.values()].filter((h) => after === null || compareKeys(h.order, after) > 0);
  sorted.sort((x, y) => compareKeys(x.order, y.order));
  return sorted.slice(0, want);
}
