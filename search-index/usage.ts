/**
 * `cvcore keys status` for a stopped core's index folder: how many sealed values each data key id holds, and
 * where the re-seal sweep stands. Opens the folder without the ring (it counts headers, decrypts nothing); a
 * running core holds RocksDB's lock, and the open fails with INDEX_IO.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CvcoreError, IndexError } from '../common/errors.js';
import { META_FORMAT, META_RESEAL } from './keys.js';
import { decodeJson } from './record.js';
import { ROCKS_OPEN_OPTIONS, createRocks } from './rocks.js';
import { dataKeyUsage } from './sealing.js';

export interface IndexDataKeyUsage {
  /** Sealed values (records' bytes, face entries, alarm frames, the verifier) per key id. */
  values: Record<string, number>;
  /** The re-seal sweep's last saved position; null in a folder without one. */
  reseal: { target: string; after: string | null; done: boolean; resealed: number } | null;
  format: string | null;
}

export async function indexDataKeyUsage(dir: string): Promise<IndexDataKeyUsage> {
  if (!existsSync(join(dir, 'db', 'CURRENT'))) throw new IndexError('INDEX_IO', `${dir} holds no index (no db/CURRENT)`, { detail: { dir } });
  const db = createRocks(join(dir, 'db'));
  try {
    await db.open({ ...ROCKS_OPEN_OPTIONS, createIfMissing: false });
  } catch (err) {
    throw new IndexError('INDEX_IO', `cannot open ${dir} (a running core holds it: stop it, or read the core's log lines "data key re-seal"): ${(err as Error).message}`, { cause: err, detail: { dir } });
  }
  try {
    const [formatBuf, resealBuf] = await db.getMany([META_FORMAT, META_RESEAL]);
    return { values: await dataKeyUsage(db), reseal: resealBuf ? decodeJson(resealBuf) : null, format: formatBuf?.toString('utf8') ?? null };
  } catch (err) {
    if (err instanceof CvcoreError) throw err;
    throw new IndexError('INDEX_IO', `RocksDB failed to read ${dir}: ${(err as Error).message}`, { cause: err, detail: { dir } });
  } finally {
    await db.close();
  }
}
