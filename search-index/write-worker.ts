/**
 * The index's write thread. RocksDB's batch write in @nxtedition/rocksdb runs synchronously on the calling
 * thread (WAL append and memtable inserts), which at eight entries a record was most of the main thread's time.
 * This worker writes to the same database through its native handle (the binding shares one RocksDB instance
 * between threads) and applies batches that the main thread encoded into one transferred buffer
 * (write-batch.ts), so the main thread only builds keys and values. One batch is one atomic RocksDB write,
 * applied in arrival order; the buffer goes back to the main thread for reuse.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { sharedWriter } from './rocks.js';
import { decodeOps } from './write-batch.js';

interface WriteRequest {
  reset?: true;
  id: number;
  buf: ArrayBuffer;
  length: number;
  sync: boolean;
}

const port = parentPort;
if (!port) throw new Error('write-worker.ts runs as a worker thread');
const { handle } = workerData as { handle: bigint };
const db = sharedWriter(handle);
/** Set by a failed write: later batches were prepared assuming it landed, so they are refused until reset. */
let refusing = false;

port.on('message', (m: WriteRequest) => {
  if (m.reset) {
    refusing = false;
    return;
  }
  let error: string | undefined;
  if (refusing) {
    error = 'refused: an earlier batch failed';
  } else {
    try {
      db.write(decodeOps(Buffer.from(m.buf, 0, m.length)), m.sync);
    } catch (err) {
      refusing = true;
      error = err instanceof Error ? err.message : String(err);
    }
  }
  port.postMessage(error === undefined ? { id: m.id, buf: m.buf } : { id: m.id, buf: m.buf, error }, [m.buf]);
});
port.postMessage({ ready: true });
