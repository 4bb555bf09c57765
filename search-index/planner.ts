/**
 * The query planner. Each predicate can be answered by one or more index ranges, and every option is read
 * only over the departments in scope (cameras: one range per department and camera, of which only the
 * camera's own department has entries; classes: one per department and class; an attribute: one per
 * department; otherwise all the departments' class ranges, which together are their time index). Entry counts per prefix, kept in the same batches as the entries, estimate each option's size;
 * the smallest option is scanned (its ranges merge-intersected in page order), and the digest in each entry
 * filters the remaining predicates, the scope included, before any record is loaded.
 */
import { OBJECT_CLASSES, type ObjectClass } from '../common/messages.js';
import { IndexError } from '../common/errors.js';
import { decodeCursor } from './cursor.js';
import {
  SEP, SEP_END, TIME_WIDTH, attributePrefix, cameraPrefix, classPrefix, invTime, orderSuffix,
} from './keys.js';
import { DIGEST_ATTRIBUTE_AT, UNINDEXED_VALUES, type Digest } from './record.js';
import type { RocksDb, RocksIterator } from './rocks.js';
import { ATTRIBUTE_NAMES, type Scope, type SearchQuery } from './types.js';

export interface Plan {
  prefixes: string[];
  estimate: number;
  reason: string;
}

export interface Candidate {
  id: string;
  start: number;
}

/** Predicates over a digest, scope first: a record outside the scope never reaches a result. */
export function digestFilter(q: SearchQuery, scope: Scope): (d: Digest) => boolean {
  const depts = scope === 'all' ? null : new Set(scope.departments);
  const cams = q.cameraIds ? new Set(q.cameraIds) : null;
  const classes = q.classes ? new Set<ObjectClass>(q.classes) : null;
  const from = q.from ?? -Infinity;
  const to = q.to ?? Infinity;
  const want: Array<[number, string]> = [];
  ATTRIBUTE_NAMES.forEach((name, i) => {
    const v = q.attributes?.[name];
    if (v !== undefined) want.push([DIGEST_ATTRIBUTE_AT + i, v]);
  });
  return (d) => {
    if (depts && !depts.has(d[0])) return false;
    if (cams && !cams.has(d[1])) return false;
    if (classes && !classes.has(d[2])) return false;
    if (d[3] < from || d[3] > to) return false;
    // A digest written before an attribute was indexed is shorter: the position reads undefined, never v.
    for (const [i, v] of want) if (d[i] !== v) return false;
    return true;
  };
}

/**
 * Chooses the ranges to scan. `departments` lists every department holding records (from the counts); a
 * narrow scope reads only its own.
 */
export function plan(q: SearchQuery, scope: Scope, count: (prefix: string) => number, departments: readonly string[]): Plan {
  const depts = scope === 'all' ? [...departments] : [...new Set(scope.departments)];
  const options: Plan[] = [];
  const option = (prefixes: string[], reason: string): void => {
    const unique = [...new Set(prefixes)];
    options.push({ prefixes: unique, estimate: unique.reduce((s, p) => s + count(p), 0), reason });
  };
  // A department's class ranges partition its records: together they are its time index.
  option(depts.flatMap((d) => OBJECT_CLASSES.map((c) => classPrefix(d, c))), 'time');
  if (q.cameraIds) {
    const cams = q.cameraIds;
    option(depts.flatMap((d) => cams.map((c) => cameraPrefix(d, c))), 'camera');
  }
  if (q.classes) {
    const classes = q.classes;
    option(depts.flatMap((d) => classes.map((c) => classPrefix(d, c))), 'class');
  }
  for (const name of ATTRIBUTE_NAMES) {
    const v = q.attributes?.[name];
    if (v === undefined) continue;
    const ranges = depts.map((d) => attributePrefix(d, name, v));
    // A vehicleType equal to the record's class has no attribute entry: those records sit in the class range
    // (the digest filter drops its records of another vehicleType); the two sets of ranges never share a record.
    if (name === 'vehicleType' && (OBJECT_CLASSES as readonly string[]).includes(v)) {
      for (const d of depts) ranges.push(classPrefix(d, v as ObjectClass));
    }
    // A value without entries (record.ts UNINDEXED_VALUES) is found through the time index, filtered on the digest.
    if (UNINDEXED_VALUES[name] === v) {
      ranges.length = 0;
      for (const d of depts) for (const c of OBJECT_CLASSES) ranges.push(classPrefix(d, c));
    }
    option(ranges, `attribute:${name}`);
  }
  // Stable choice on ties: the earlier (coarser) option loses only to a strictly smaller one.
  let best = options[0]!;
  for (const o of options) if (o.estimate < best.estimate) best = o;
  // A record lies in exactly one range of an option, so distinct ranges never yield it twice; ranges with no
  // entries cannot contribute, and dropping them saves iterators.
  return { ...best, prefixes: best.prefixes.filter((p) => count(p) > 0) };
}

/** One index range read in key order, a chunk at a time. */
export class RangeReader {
  readonly #it: RocksIterator;
  readonly #prefixLength: number;
  #rows: Array<[string, Buffer | undefined]> = [];
  #pos = 0;
  #done = false;
  constructor(db: RocksDb, prefix: string, lower: { key: string; inclusive: boolean }, upper: string) {
    this.#prefixLength = prefix.length;
    this.#it = db.iterator(lower.inclusive ? { gte: prefix + lower.key, lt: prefix + upper } : { gt: prefix + lower.key, lt: prefix + upper });
  }
  /** The head entry's suffix and value, or null at the end. */
  async head(): Promise<[string, Buffer] | null> {
    if (this.#pos >= this.#rows.length) {
      if (this.#done) return null;
      // Small first chunk: most pages end early; later chunks grow for long filtered scans.
      this.#rows = await this.#it.nextv(this.#rows.length === 0 ? 128 : 1024);
      this.#pos = 0;
      if (this.#rows.length === 0) {
        this.#done = true;
        return null;
      }
    }
    const [k, v] = this.#rows[this.#pos]!;
    return [k.slice(this.#prefixLength), v ?? Buffer.alloc(0)];
  }
  advance(): void {
    this.#pos++;
  }
  close(): Promise<void> {
    return this.#it.close();
  }
}

function compareSuffix(a: string, b: string): number {
  // The fixed-width time part is ASCII digits; only ties there need the byte order of the ids.
  const ta = a.slice(0, TIME_WIDTH);
  const tb = b.slice(0, TIME_WIDTH);
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export interface ScanResult {
  candidates: Candidate[];
  /** Set when the scan budget ran out first: the position of the last entry examined, for the next cursor. */
  stoppedAt: Candidate | null;
}

/**
 * Scans the plan's ranges from the cursor, merging them in page order, and returns up to `want` candidates
 * that pass the filter. At most `budget` entries are examined, which bounds a query's latency when the
 * filter rejects most of the chosen range; the caller then hands out a cursor at the stopping point.
 */
export async function scan(db: RocksDb, p: Plan, q: SearchQuery, filter: (d: Digest) => boolean, want: number, budget: number): Promise<ScanResult> {
  // Time bounds as key bounds: larger start -> smaller inverted time.
  let lower = { key: q.to === undefined ? '' : invTime(q.to), inclusive: true };
  if (q.cursor !== undefined) {
    const c = decodeCursor(q.cursor);
    if (c.key !== undefined) throw new IndexError('INDEX_BAD_QUERY', 'cursor was issued for a plate search', { detail: { field: 'cursor' } });
    const key = orderSuffix(c.start, c.id);
    if (compareSuffix(key, lower.key) >= 0) lower = { key, inclusive: false };
  }
  // Without a `from` bound the range runs to the end of the prefix: every suffix starts with a digit < '\x7f'.
  const upperKey = q.from === undefined ? '\x7f' : invTime(q.from) + SEP_END;
  const readers = p.prefixes.map((prefix) => new RangeReader(db, prefix, lower, upperKey));
  const out: Candidate[] = [];
  let examined = 0;
  let stoppedAt: Candidate | null = null;
  try {
    // First chunks of every range at once: one round trip to RocksDB's threads instead of one per range.
    await Promise.all(readers.map((r) => r.head()));
    for (;;) {
      const best = await takeSmallest(readers, compareSuffix);
      if (best === null) break;
      const [suffix, value] = best;
      const d = JSON.parse(value.toString('utf8')) as Digest;
      examined++;
      if (filter(d)) {
        out.push({ id: suffix.slice(TIME_WIDTH + SEP.length), start: d[3] });
        if (out.length >= want) break;
      } else if (examined >= budget) {
        stoppedAt = { id: suffix.slice(TIME_WIDTH + SEP.length), start: d[3] };
        break;
      }
    }
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
  return { candidates: out, stoppedAt };
}

/**
 * The k-way merge step over sorted ranges: the smallest head among the readers (by `compare`), taken (its reader
 * advanced); null when every range is exhausted.
 */
export async function takeSmallest(readers: readonly RangeReader[], compare: (a: string, b: string) => number): Promise<[string, Buffer] | null> {
  let bestIdx = -1;
  let best: [string, Buffer] | null = null;
  for (let i = 0; i < readers.length; i++) {
    const h = await readers[i]!.head();
    if (h && (best === null || compare(h[0], best[0]) < 0)) {
      best = h;
      bestIdx = i;
    }
  }
  if (best !== null) readers[bestIdx]!.advance();
  return best;
}
