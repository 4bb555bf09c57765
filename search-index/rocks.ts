/**
 * The search index's side of RocksDB: its tuned open options, and readers and writers for worker threads that use
 * the database another thread opened. The typed binding itself (createRocks, readRange, the op types) is
 * common/rocks.ts, shared with the watch-list store.
 */
import { createRequire } from 'node:module';
export { createRocks, readRange, scanRange, type BatchOp, type RangeOptions, type RocksDb, type RocksIterator } from '../common/rocks.js';

/** An op with its key already encoded: what the write thread applies. */
export type RawOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/**
 * Open options. The binding compresses every level and the WAL with ZSTD by default, which spends CPU (the WAL's
 * on the writing thread) on thumbnails and embeddings, most of the bytes, that do not compress: both are off.
 * Universal compaction rewrites data fewer times than levelled compaction on this write-heavy load (2 cores
 * shared with the pipeline); 64 MiB memtables absorb ingest bursts; a 64 MiB block cache keeps the index
 * blocks that queries walk.
 */
export const ROCKS_OPEN_OPTIONS = {
  createIfMissing: true,
  compaction: 'universal',
  compression: false,
  memtableMemoryBudget: 256 * 1024 * 1024,
  walCompression: false,
  cacheSize: 64 * 1024 * 1024,
} as const;

const require = createRequire(import.meta.url);


/** The binding's write-batch calls (no TypeScript types ship with it). */
interface RocksBinding {
  db_init(handle: bigint): unknown;
  batch_init(): unknown;
  batch_put(batch: unknown, key: Buffer, value: Buffer, options: object): void;
  batch_del(batch: unknown, key: Buffer, options: object): void;
  batch_write(db: unknown, batch: unknown, options: { sync?: boolean }): void;
  batch_clear(batch: unknown): void;
  /** undefined: not found; null: aborted or past a deadline (none is set here). */
  db_get_many_sync(db: unknown, keys: Buffer[], options: object): Array<Buffer | undefined | null>;
}

function sharedHandle(handle: bigint): { binding: RocksBinding; db: unknown } {
  const binding = require('@nxtedition/rocksdb/binding.js') as RocksBinding;
  return { binding, db: binding.db_init(handle) };
}

/**
 * A writer for, in a worker thread, the database another thread opened: the binding accepts the native handle
 * (RocksLevel's `handle`) and does not open RocksDB twice. It calls the binding's batch functions directly:
 * RocksLevel's batch() spends a microsecond an op on option objects and checks that matter for user input, not
 * for ops this folder built. The owner must outlive the writer: close the database only after the worker stopped.
 * `write` applies the ops as one atomic batch, synchronously (the binding writes on the calling thread).
 */
export function sharedWriter(handle: bigint): { write(ops: readonly RawOp[], sync: boolean): void } {
  const { binding, db } = sharedHandle(handle);
  const batch = binding.batch_init();
  const none = {};
  return {
    write(ops, sync) {
      try {
        for (const op of ops) {
          if (op.type === 'put') binding.batch_put(batch, op.key, op.value, none);
          else binding.batch_del(batch, op.key, none);
        }
        binding.batch_write(db, batch, { sync });
      } finally {
        binding.batch_clear(batch);
      }
    },
  };
}

/**
 * A reader for, in a worker thread, the database another thread opened (as sharedWriter). `getMany` is one
 * synchronous MultiGet on the calling thread: the caller is a worker whose job is the read, so the binding's
 * thread pool and a promise per read would only add hand-overs.
 */
export function sharedReader(handle: bigint): { getMany(keys: Buffer[]): Array<Buffer | undefined> } {
  const { binding, db } = sharedHandle(handle);
  const none = {};
  return {
    getMany(keys) {
      const values = binding.db_get_many_sync(db, keys, none);
      if (values.some((v) => v === null)) throw new Error('RocksDB aborted a read');
      return values as Array<Buffer | undefined>;
    },
  };
}
