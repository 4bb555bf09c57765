/**
 * Encryption at rest of the index's personal data (layout 3), with the data key ring (common/data-key.ts):
 *
 * - `r\0<id>`: the JSON summary stays clear (every query page reads it), the bytes after it (best-shot JPEG, plate
 *   JPEG, trajectory) are one sealed value, aad = the RocksDB key.
 * - `F\0<seq>`: the whole entry (`[id, department, camera, start]` and the embedding) is sealed, aad = its key.
 * - `S\0<frame id>`: the JSON head stays clear (scope and expiry), the JPEG is sealed, aad = its key.
 * - `M\0dataKey`: the ring's verifier; an index opened with another key refuses before it reads anything else.
 *
 * A rotation re-seals, in key order, every value under an older key id (`resealRange`), in bounded batches; the
 * caller keeps the position in `M\0reseal` with each batch so a restart resumes there.
 */
import { sealedKeyId, type DataKeyring } from '../common/data-key.js';
import { KIND, META_DATA_KEY, SEP, SEP_END } from './keys.js';
import { decodeWithBytes, encodeWithBytes } from './record.js';
import type { BatchOp, RocksDb } from './rocks.js';

/** The verifier's aad: stable across moves of the folder. */
export const VERIFIER_AAD = 'cvcore search index';

/** The ranges that hold sealed values, in key order (F < M < S < r), as [gte, lt]. */
export const SEALED_RANGES: ReadonlyArray<readonly [string, string]> = [
  [KIND.face + SEP, KIND.face + SEP_END],
  [META_DATA_KEY, META_DATA_KEY + SEP],
  [KIND.alarmFrame + SEP, KIND.alarmFrame + SEP_END],
  [KIND.record + SEP, KIND.record + SEP_END],
];

/** Where a value's sealed part is: the whole value (faces, the verifier) or the bytes after its clear JSON head. */
const wholeSealed = (key: string): boolean => key.startsWith(KIND.face + SEP) || key === META_DATA_KEY;

/** The key id a stored value's sealed part is under; null when it has none (a record without bytes). */
export function valueKeyId(key: string, value: Buffer): string | null {
  if (wholeSealed(key)) return sealedKeyId(value);
  const { bytes } = decodeWithBytes<unknown>(value);
  return bytes.length > 0 ? sealedKeyId(bytes) : null;
}

/** The value re-sealed under the ring's current key, or null when it is already under it (or holds nothing sealed). */
export function resealValue(ring: DataKeyring, key: string, value: Buffer): Buffer | null {
  const aad = key === META_DATA_KEY ? VERIFIER_AAD : key;
  if (wholeSealed(key)) return ring.needsReseal(value) ? ring.seal(ring.open(value, aad), aad) : null;
  const { head, bytes } = decodeWithBytes<unknown>(value);
  if (bytes.length === 0 || !ring.needsReseal(bytes)) return null;
  return encodeWithBytes(head, ring.seal(ring.open(bytes, aad), aad));
}

/**
 * One batch of the re-seal sweep: reads up to `limit` values after `after` (a key; null: from the start) and
 * returns the puts for those under an older key, the last key read (the next `after`) and whether the walk is done.
 */
export async function resealBatch(db: RocksDb, ring: DataKeyring, after: string | null, limit: number): Promise<{ ops: BatchOp[]; last: string | null; done: boolean; read: number }> {
  const ops: BatchOp[] = [];
  let last = after;
  let read = 0;
  for (const [gte, lt] of SEALED_RANGES) {
    if (last !== null && last >= lt) continue;
    const it = db.iterator(last !== null && last >= gte ? { gt: last, lt } : { gte, lt });
    try {
      for (;;) {
        const rows = await it.nextv(limit - read);
        if (rows.length === 0) break;
        for (const [k, v] of rows) {
          last = k;
          read++;
          const next = v ? resealValue(ring, k, v) : null;
          if (next) ops.push({ type: 'put', key: k, value: next });
        }
        if (read >= limit) return { ops, last, done: false, read };
      }
    } finally {
      await it.close();
    }
    // This range is read to its end: the next one starts at its beginning.
    last = lt;
  }
  return { ops, last, done: true, read };
}

/** Values per key id in an index's database (what `cvcore keys status` shows; `none`: records without bytes). */
export async function dataKeyUsage(db: RocksDb): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [gte, lt] of SEALED_RANGES) {
    const it = db.iterator({ gte, lt });
    try {
      for (;;) {
        const rows = await it.nextv(1000);
        if (rows.length === 0) break;
        for (const [k, v] of rows) {
          const id = v ? valueKeyId(k, v) : null;
          if (id !== null) out[id] = (out[id] ?? 0) + 1;
        }
      }
    } finally {
      await it.close();
    }
  }
  return out;
}
