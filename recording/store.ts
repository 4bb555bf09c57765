/**
 * The segment index: its own RocksDB at <dataDir>/recordings/index (common/rocks.ts). Keys are utf8 and sort by
 * camera, then wall-clock start, so "the segments of camera 12 between 09:30 and 09:35" is one range read:
 *
 *   s!<camera>!<start, 15 digits>   a closed segment (JSON Segment)
 *   g!<camera>!<to, 15 digits>      a gap the recorder knows the reason of (JSON Gap: disconnected, off, disk-full)
 *   m!<camera>                      the camera's totals (segments, bytes, oldest start, newest end, last file)
 *   h!<hold id>                     a legal hold (JSON Hold)
 *   k!verifier                      the data key verifier (common/data-key.ts checkVerifier): a wrong key refuses at open
 *   k!sealed                        present once every segment is sealed under the current data key (cleared by a rotation)
 *
 * Every change of a camera's segments writes its totals in the same batch, so retention and health never scan.
 * Writes are synced (a segment indexed survives a power cut; it is written once per segment).
 */
import { RecordingError } from '../common/errors.js';
import { createRocks, readRange, type BatchOp, type RocksDb } from '../common/rocks.js';
import type { Gap, Hold, Segment } from './types.js';

export interface CameraTotals {
  segments: number;
  bytes: number;
  oldest: number | null;
  newest: number | null;
  /** File of the newest segment (crash recovery looks at files from its run on). */
  lastFile: string | null;
  /** Start of the first segment ever recorded (before it: off; after it and before oldest: removed). */
  since: number | null;
}

const pad = (n: number): string => String(Math.max(0, Math.floor(n))).padStart(15, '0');
const segKey = (cam: string, start: number): string => `s!${cam}!${pad(start)}`;
const gapKey = (cam: string, to: number): string => `g!${cam}!${pad(to)}`;
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const parse = <T>(b: Buffer | undefined): T => JSON.parse((b ?? Buffer.from('null')).toString('utf8')) as T;

export class SegmentStore {
  readonly #db: RocksDb;
  readonly #totals = new Map<string, CameraTotals>();
  /** Writes go one at a time: totals are read-modify-write. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(db: RocksDb) { this.#db = db; }

  static async open(dir: string): Promise<SegmentStore> {
    const db = createRocks(dir);
    try {
      await db.open({ createIfMissing: true });
    } catch (cause) {
      throw new RecordingError('RECORDING_IO', `cannot open the recording index at ${dir}: ${(cause as Error).message}`, { cause, detail: { dir } });
    }
    const store = new SegmentStore(db);
    for (const [k, v] of await readRange(db, { gte: 'm!', lt: 'm"' })) store.#totals.set(k.slice(2), parse<CameraTotals>(v));
    return store;
  }

  /** A stopped core's verifier, read without opening the store for writes; throws when a running core holds it. */
  static async readVerifier(dir: string): Promise<Buffer | null> {
    const db = createRocks(dir);
    await db.open({ createIfMissing: false });
    try {
      const [v] = await db.getMany(['k!verifier']);
      return v ?? null;
    } finally {
      await db.close();
    }
  }

  close(): Promise<void> { return this.#queue.then(() => this.#db.close(), () => this.#db.close()); }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  async #batch(ops: BatchOp[]): Promise<void> {
    try {
      await this.#db.batch(ops, { sync: true });
    } catch (cause) {
      throw new RecordingError('RECORDING_IO', `the recording index could not be written: ${(cause as Error).message}`, { cause });
    }
  }

  totals(cam: string): CameraTotals {
    return this.#totals.get(cam) ?? { segments: 0, bytes: 0, oldest: null, newest: null, lastFile: null, since: null };
  }

  cameras(): string[] { return [...this.#totals.keys()].filter((c) => (this.#totals.get(c)?.segments ?? 0) > 0); }

  totalBytes(): number {
    let n = 0;
    for (const t of this.#totals.values()) n += t.bytes;
    return n;
  }

  /** Indexes a closed segment, and the gap before it when the recorder knows why there was one. */
  add(seg: Segment, gapBefore: Gap | null): Promise<void> {
    return this.#serial(async () => {
      const t = { ...this.totals(seg.cameraId) };
      t.segments += 1;
      t.bytes += seg.bytes;
      t.oldest = t.oldest === null ? seg.start : Math.min(t.oldest, seg.start);
      t.since = t.since === null || t.since === undefined ? seg.start : Math.min(t.since, seg.start);
      if (t.newest === null || seg.end >= t.newest) { t.newest = seg.end; t.lastFile = seg.file; }
      const ops: BatchOp[] = [{ type: 'put', key: segKey(seg.cameraId, seg.start), value: json(seg) }, { type: 'put', key: `m!${seg.cameraId}`, value: json(t) }];
      if (gapBefore && gapBefore.to > gapBefore.from) ops.push({ type: 'put', key: gapKey(seg.cameraId, gapBefore.to), value: json(gapBefore) });
      await this.#batch(ops);
      this.#totals.set(seg.cameraId, t);
    });
  }

  /** Removes segments of one camera from the index (their files are the caller's). */
  remove(cam: string, segs: readonly Segment[]): Promise<void> {
    if (segs.length === 0) return Promise.resolve();
    return this.#serial(async () => {
      const t = { ...this.totals(cam) };
      const ops: BatchOp[] = segs.map((s) => ({ type: 'del', key: segKey(cam, s.start) }));
      t.segments = Math.max(0, t.segments - segs.length);
      t.bytes = Math.max(0, t.bytes - segs.reduce((n, s) => n + s.bytes, 0));
      ops.push({ type: 'put', key: `m!${cam}`, value: json(t) });
      await this.#batch(ops);
      // The oldest start after the removal: one read of the first key left.
      const first = await readRange(this.#db, { gte: `s!${cam}!`, lt: `s!${cam}"`, limit: 1 }, 1);
      t.oldest = first[0] ? parse<Segment>(first[0][1]).start : null;
      await this.#batch([{ type: 'put', key: `m!${cam}`, value: json(t) }]);
      this.#totals.set(cam, t);
    });
  }

  /** Segments overlapping [from, to), oldest first. */
  async segments(cam: string, from: number, to: number, limit = 100_000): Promise<Segment[]> {
    const before = await readRange(this.#db, { gte: `s!${cam}!`, lt: segKey(cam, from), reverse: true, limit: 1 }, 1);
    const out: Segment[] = [];
    if (before[0]) {
      const s = parse<Segment>(before[0][1]);
      if (s.end > from) out.push(s);
    }
    for (const [, v] of await readRange(this.#db, { gte: segKey(cam, from), lt: segKey(cam, to), limit }, 1000)) out.push(parse<Segment>(v));
    return out;
  }

  /** The oldest segments of a camera, from its first. */
  async oldest(cam: string, limit: number, after?: number): Promise<Segment[]> {
    const rows = await readRange(this.#db, { ...(after === undefined ? { gte: `s!${cam}!` } : { gt: segKey(cam, after) }), lt: `s!${cam}"`, limit }, Math.min(limit, 1000));
    return rows.map(([, v]) => parse<Segment>(v));
  }

  /** Gaps with a known reason overlapping [from, to). */
  async gaps(cam: string, from: number, to: number): Promise<Gap[]> {
    const out: Gap[] = [];
    const it = this.#db.iterator({ gt: gapKey(cam, from), lt: `g!${cam}"` });
    try {
      for (;;) {
        const rows = await it.nextv(200);
        if (rows.length === 0) break;
        for (const [, v] of rows) {
          const g = parse<Gap>(v);
          if (g.from >= to) return out;
          out.push(g);
        }
      }
    } finally {
      await it.close();
    }
    return out;
  }

  /** The data key verifier, if one was written, and whether the segments from before sealing are all sealed. */
  async verifier(): Promise<{ verifier: Buffer | undefined; sealed: boolean }> {
    const [v, s] = await this.#db.getMany(['k!verifier', 'k!sealed']);
    return { verifier: v, sealed: s !== undefined };
  }

  /** A verifier under the current key after a rotation; the segments' headers follow, so the mark is cleared. */
  putVerifier(v: Buffer): Promise<void> {
    return this.#serial(() => this.#batch([{ type: 'put', key: 'k!verifier', value: v }, { type: 'del', key: 'k!sealed' }]));
  }

  markSealed(): Promise<void> {
    return this.#serial(() => this.#batch([{ type: 'put', key: 'k!sealed', value: Buffer.from('1') }]));
  }

  putHold(h: Hold): Promise<void> {
    return this.#serial(() => this.#batch([{ type: 'put', key: `h!${h.id}`, value: json(h) }]));
  }

  async holds(): Promise<Hold[]> {
    return (await readRange(this.#db, { gte: 'h!', lt: 'h"' })).map(([, v]) => parse<Hold>(v));
  }
}
