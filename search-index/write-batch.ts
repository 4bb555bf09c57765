/**
 * Batches crossing to the write thread: every op of a RocksDB write batch packed into one ArrayBuffer, which
 * is transferred (not copied) to the worker. Layout per op: u8 type (1 put, 2 del), u32 key length, u32 value
 * length, key bytes (UTF-8), value bytes. Decoding makes views into the buffer, so the worker copies nothing
 * before RocksDB copies the bytes into its write batch.
 */
import type { BatchOp, RawOp } from './rocks.js';

const PUT = 1;
const DEL = 2;
const HEAD = 9;

/** The bytes encodeOps needs at most (UTF-8 takes at most 3 bytes per UTF-16 unit; keys are short). */
export function encodedSizeBound(ops: readonly BatchOp[]): number {
  let size = 0;
  for (const op of ops) size += HEAD + op.key.length * 3 + (op.type === 'put' ? op.value.length : 0);
  return size;
}

/** Packs ops into `ab` (at least encodedSizeBound bytes); returns how many bytes it used. */
export function encodeOps(ops: readonly BatchOp[], ab: ArrayBuffer): number {
  const buf = Buffer.from(ab);
  let off = 0;
  for (const op of ops) {
    const at = off;
    off += HEAD;
    const klen = buf.write(op.key, off, 'utf8');
    off += klen;
    let vlen = 0;
    if (op.type === 'put') {
      vlen = op.value.length;
      op.value.copy(buf, off);
      off += vlen;
    }
    buf[at] = op.type === 'put' ? PUT : DEL;
    buf.writeUInt32LE(klen, at + 1);
    buf.writeUInt32LE(vlen, at + 5);
  }
  return off;
}

export function decodeOps(buf: Buffer): RawOp[] {
  const ops: RawOp[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + HEAD > buf.length) throw new RangeError('truncated write batch');
    const type = buf[off]!;
    const klen = buf.readUInt32LE(off + 1);
    const vlen = buf.readUInt32LE(off + 5);
    off += HEAD;
    if (off + klen + vlen > buf.length) throw new RangeError('truncated write batch');
    const key = buf.subarray(off, off + klen);
    off += klen;
    if (type === PUT) {
      ops.push({ type: 'put', key, value: buf.subarray(off, off + vlen) });
      off += vlen;
    } else if (type === DEL) {
      ops.push({ type: 'del', key });
    } else {
      throw new RangeError(`unknown op type ${type}`);
    }
  }
  return ops;
}
