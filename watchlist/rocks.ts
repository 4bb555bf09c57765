/**
 * The part of @nxtedition/rocksdb (an abstract-level database; it ships no types) the watch-list store uses,
 * loaded through createRequire as alerts/outbox.ts does. The store is small (lists, entries, photos, the alarm
 * log), so it opens with the binding's defaults rather than the index's large memtables and cache.
 */
import { createRequire } from 'node:module';

export type BatchOp = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

export interface RangeOptions {
  gt?: string; gte?: string; lt?: string; lte?: string; reverse?: boolean; limit?: number; keys?: boolean; values?: boolean;
}

export interface RocksDb {
  open(options?: { createIfMissing?: boolean }): Promise<void>;
  close(): Promise<void>;
  getMany(keys: string[]): Promise<Array<Buffer | undefined>>;
  batch(ops: BatchOp[], options?: { sync?: boolean }): Promise<void>;
  iterator(options: RangeOptions): { nextv(size: number): Promise<Array<[string, Buffer | undefined]>>; close(): Promise<void> };
}

const require = createRequire(import.meta.url);

export function createRocks(location: string): RocksDb {
  const { RocksLevel } = require('@nxtedition/rocksdb') as { RocksLevel: new (dir: string, o: object) => RocksDb };
  return new RocksLevel(location, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
}

/** A whole bounded range (entries of one list, one entry's matches, a sweep slice). */
export async function readRange(db: RocksDb, options: RangeOptions, chunk = 1000): Promise<Array<[string, Buffer | undefined]>> {
  const it = db.iterator(options);
  const out: Array<[string, Buffer | undefined]> = [];
  try {
    for (;;) {
      const rows = await it.nextv(chunk);
      if (rows.length === 0) break;
      for (const r of rows) out.push(r);
    }
  } finally {
    await it.close();
  }
  return out;
}
