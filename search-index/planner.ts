/**
 * The query planner. Each predicate can be answered by one or more index ranges (cameras: one range per camera;
 * classes: one per class; an attribute: one range; a narrow scope: one per department; otherwise the global
 * time index). Entry counts per prefix, kept in the same batches as the entries, estimate each option's size;
 * the smallest option is scanned (its ranges merge-intersected in page order), and the digest in each entry
 * filters the remaining predicates, the scope included, before any record is loaded.
 */
import type { ObjectClass } from '../common/messages.js';
import { decodeCursor } from './cursor.js';
import {
  SEP, SEP_END, TIME_WIDTH, allPrefix, attributePrefix, cameraPrefix, classPrefix, departmentPrefix, invTime, orderSuffix,
} from './keys.js';
import type { Digest } from './record.js';
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
    if (v !== undefined) want.push([4 + i, v]);
  });
  return (d) => {
    if (depts && !depts.has(d[0])) return false;
    if (cams && !cams.has(d[1])) return false;
    if (classes && !classes.has(d[2])) return false;
    if (d[3] < from || d[3] > to) return false;
    for (const [i, v] of want) if (d[i] !== v) return false;
    return true;
  };
}

export function plan(q: SearchQuery, scope: Scope, count: (prefix: string) => number, total: number): Plan {
  const options: Plan[] = [{ prefixes: [allPrefix()], estimate: total, reason: 'time' }];
  const option = (prefixes: string[], reason: string): void => {
    const unique = [...new Set(prefixes)];
    options.push({ prefixes: unique, estimate: unique.reduce((s, p) => s + count(p), 0), reason });
  };
  if (q.cameraIds) option(q.cameraIds.map(cameraPrefix), 'camera');
  if (q.classes) option(q.classes.map(classPrefix), 'class');
  for (const name of ATTRIBUTE_NAMES) {
    const v = q.attributes?.[name];
    if (v !== undefined) option([attributePrefix(name, v)], `attribute:${name}`);
  }
  if (scope !== 'all') option([...new Set(scope.departments)].map(departmentPrefix), 'department');
  // Stable choice on ties: the earlier (coarser) option loses only to a strictly smaller one.
  let best = options[0]!;
  for (const o of options) if (o.estimate < best.estimate) best = o;
  // A record lies in exactly one range of an option, so distinct ranges never yield it twice; ranges with no
  // entries cannot contribute, and dropping them saves iterators.
  return { ...best, prefixes: [...new Set(best.prefixes)].filter((p) => count(p) > 0) };
}

/** One index range read in page order, a chunk at a time. */
class RangeReader {
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
    for (;;) {
      let bestIdx = -1;
      let best: [string, Buffer] | null = null;
      for (let i = 0; i < readers.length; i++) {
        const h = await readers[i]!.head();
        if (h && (best === null || compareSuffix(h[0], best[0]) < 0)) {
          best = h;
          bestIdx = i;
        }
      }
      if (best === null) break;
      readers[bestIdx]!.advance();
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
