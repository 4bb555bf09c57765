/**
 * A typed view of the parts of @nxtedition/rocksdb (an abstract-level database) that cvcore's stores use: the
 * search index (search-index/rocks.ts adds its tuned open options and the worker-thread readers and writers), the
 * watch-list store, the alert outbox. The package ships no TypeScript types, so it is loaded through createRequire
 * and described here once.
 */
import { createRequire } from 'node:module';

export type BatchOp = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

export interface RangeOptions {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  reverse?: boolean;
  limit?: number;
  keys?: boolean;
  values?: boolean;
}

export interface RocksIterator {
  /** Up to `size` entries; an empty array at the end. Values are undefined when `values: false`. */
  nextv(size: number): Promise<Array<[string, Buffer | undefined]>>;
  close(): Promise<void>;
}

export interface RocksDb {
  /** The binding's open options (search-index/rocks.ts ROCKS_OPEN_OPTIONS); none: its defaults. */
  open(options?: object): Promise<void>;
  close(): Promise<void>;
  getMany(keys: string[]): Promise<Array<Buffer | undefined>>;
  /** `sync: true` fsyncs the WAL before resolving; without it a write survives a process crash, not a power cut. */
  batch(ops: BatchOp[], options?: { sync?: boolean }): Promise<void>;
  iterator(options: RangeOptions): RocksIterator;
  /** The native database handle, for opening the same instance in a worker thread (search-index's openShared). */
  readonly handle: bigint;
}

interface RocksModule {
  RocksLevel: {
    new (location: string, options: { keyEncoding: 'utf8'; valueEncoding: 'buffer' }): RocksDb;
  };
}

const require = createRequire(import.meta.url);

export function createRocks(location: string): RocksDb {
  const mod = require('@nxtedition/rocksdb') as RocksModule;
  return new mod.RocksLevel(location, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
}

/** Walks a range in chunks, row by row, without holding it (a trail or index of any size). */
export async function scanRange(db: RocksDb, options: RangeOptions, onRow: (key: string, value: Buffer | undefined) => void, chunk = 1000): Promise<void> {
  const it = db.iterator(options);
  try {
    for (;;) {
      const rows = await it.nextv(chunk);
      if (rows.length === 0) break;
      for (const [k, v] of rows) onRow(k, v);
    }
  } finally {
    await it.close();
  }
}

/** Reads a whole range in chunks; for bounded ranges only (meta, a sweep slice, one list's entries). */
export async function readRange(db: RocksDb, options: RangeOptions, chunk = 1000): Promise<Array<[string, Buffer | undefined]>> {
  const out: Array<[string, Buffer | undefined]> = [];
  await scanRange(db, options, (k, v) => { out.push([k, v]); }, chunk);
  return out;
}
