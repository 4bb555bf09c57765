/**
 * Sealed files: large biometric files (closed recording segments, cached clips, export zips) encrypted at rest
 * in a chunked AES-256-GCM format, so a byte range is read by opening only the chunks it covers.
 *
 * Envelope encryption: each file has its own random 32-byte file key, sealed with the data key ring
 * (`DataKeyring.seal`, bound to `where` the file is, for example `rec:<camera>/<file>`), in the header. A
 * rotation re-seals only that header (`resealFileHeader`), never the video.
 *
 *   "CVF1" | u32 BE chunk size | u16 BE sealed-key length | sealed file key | chunk 0 | chunk 1 | ...
 *   chunk i: AES-256-GCM(file key, iv = u64 BE i | u8 last | 3 zero bytes) ciphertext, then its 16-byte tag
 *
 * Every chunk holds `chunk size` plaintext bytes but the last, which holds 1..chunk size (0 for an empty
 * file) and carries the "last" flag in its IV: a file cut at a chunk boundary, chunks swapped or copied from
 * another file do not open (DATA_KEY_WRONG). The plaintext size follows from the file size alone.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SEAL_MAGIC, sealedKeyId, type DataKeyring } from './data-key.js';
import { DataKeyError } from './errors.js';

export const SEALED_FILE_MAGIC = Buffer.from('CVF1', 'ascii');
export const DEFAULT_CHUNK = 64 * 1024;
const TAG = 16;
const FIXED = SEALED_FILE_MAGIC.length + 4 + 2;

const fileKeyAad = (where: string): string => `cvf1\0${where}`;

function ivOf(i: number, last: boolean): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(BigInt(i), 0);
  iv[8] = last ? 1 : 0;
  return iv;
}

function header(ring: DataKeyring, fileKey: Buffer, where: string, chunk: number): Buffer {
  const sealed = ring.seal(fileKey, fileKeyAad(where));
  const h = Buffer.alloc(FIXED);
  SEALED_FILE_MAGIC.copy(h, 0);
  h.writeUInt32BE(chunk, 4);
  h.writeUInt16BE(sealed.length, 8);
  return Buffer.concat([h, sealed]);
}

/** Plaintext in, the sealed file's bytes out (header first); for streams that are written as they are made. */
export class SealStream extends Transform {
  readonly #key = randomBytes(32);
  readonly #chunk: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #index = 0;
  plainBytes = 0;

  constructor(ring: DataKeyring, where: string, chunk = DEFAULT_CHUNK) {
    super();
    if (!Number.isInteger(chunk) || chunk < 16 || chunk > 16 << 20) throw new RangeError('chunk must be an integer in 16..16 MiB');
    this.#chunk = chunk;
    this.push(header(ring, this.#key, where, chunk));
  }

  #seal(plain: Buffer, last: boolean): Buffer {
    const c = createCipheriv('aes-256-gcm', this.#key, ivOf(this.#index++, last));
    return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.plainBytes += data.length;
    this.#pending.push(data);
    this.#pendingBytes += data.length;
    // A full chunk is sealed only when more follows it: the last chunk must know that it is the last.
    if (this.#pendingBytes > this.#chunk) {
      let buf = Buffer.concat(this.#pending);
      while (buf.length > this.#chunk) {
        this.push(this.#seal(buf.subarray(0, this.#chunk), false));
        buf = buf.subarray(this.#chunk);
      }
      this.#pending = [buf];
      this.#pendingBytes = buf.length;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.push(this.#seal(Buffer.concat(this.#pending), true));
    this.#pending = [];
    cb();
  }
}

/** Writes `src` (a plaintext file or stream) sealed to `dst`: temp file, fsync, rename. Returns the plaintext size. */
export async function sealFile(ring: DataKeyring, src: string | Readable, dst: string, where: string, chunk = DEFAULT_CHUNK): Promise<{ plainBytes: number; bytes: number }> {
  const tmp = `${dst}.${randomBytes(4).toString('hex')}.sealing`;
  const s = new SealStream(ring, where, chunk);
  try {
    await pipeline(typeof src === 'string' ? createReadStream(src) : src, s, createWriteStream(tmp, { mode: 0o600 }));
    const fh = await open(tmp, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
    await rename(tmp, dst);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return { plainBytes: s.plainBytes, bytes: (await stat(dst)).size };
}

/** Whether a file starts with the sealed-file header (a segment a crash left in clear does not). */
export async function isSealedFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(SEALED_FILE_MAGIC.length);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    return bytesRead === b.length && b.equals(SEALED_FILE_MAGIC);
  } finally {
    await fh.close();
  }
}

export interface SealedFile {
  readonly path: string;
  /** Size of the plaintext. */
  readonly size: number;
  /** The key id the file key is sealed under (a rotation re-seals headers under older ids). */
  readonly keyId: string | null;
  /** The plaintext bytes [start, end] (inclusive, as an HTTP range), opening only the chunks they lie in. */
  read(range?: { start: number; end: number }): Readable;
}

/**
 * Opens a sealed file's header: DATA_KEY_NOT_SEALED (no header), DATA_KEY_WRONG / DATA_KEY_UNKNOWN_ID (the ring
 * cannot open its file key, or it was sealed for another place), DATA_KEY_WRONG for a file cut inside a chunk.
 */
export async function openSealedFile(ring: DataKeyring, path: string, where: string): Promise<SealedFile> {
  const fh = await open(path, 'r');
  let fileKey: Buffer;
  let chunk: number;
  let dataStart: number;
  let total: number;
  let keyId: string | null;
  try {
    total = (await fh.stat()).size;
    const fixed = Buffer.alloc(FIXED);
    await fh.read(fixed, 0, FIXED, 0);
    if (total < FIXED || !fixed.subarray(0, 4).equals(SEALED_FILE_MAGIC)) {
      throw new DataKeyError('DATA_KEY_NOT_SEALED', `${path} is not a sealed file (no CVF1 header)`, { detail: { where } });
    }
    chunk = fixed.readUInt32BE(4);
    const n = fixed.readUInt16BE(8);
    const sealed = Buffer.alloc(n);
    await fh.read(sealed, 0, n, FIXED);
    keyId = ring.keyIdOf(sealed);
    fileKey = ring.open(sealed, fileKeyAad(where));
    dataStart = FIXED + n;
  } finally {
    await fh.close();
  }
  const data = total - dataStart;
  const chunks = Math.max(1, Math.ceil(data / (chunk + TAG)));
  const size = data - chunks * TAG;
  const lastLen = data - (chunks - 1) * (chunk + TAG);
  if (lastLen < TAG || (lastLen === TAG && chunks > 1)) {
    throw new DataKeyError('DATA_KEY_WRONG', `${path} is cut short (no last chunk)`, { detail: { where } });
  }
  const read = (range?: { start: number; end: number }): Readable => {
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    if (size === 0 || end < start) return Readable.from([]);
    const first = Math.floor(start / chunk);
    const last = Math.floor(end / chunk);
    async function* gen(): AsyncGenerator<Buffer> {
      const h = await open(path, 'r');
      try {
        for (let i = first; i <= last; i++) {
          const isLast = i === chunks - 1;
          const plainLen = isLast ? size - i * chunk : chunk;
          const buf = Buffer.alloc(plainLen + TAG);
          const { bytesRead } = await h.read(buf, 0, buf.length, dataStart + i * (chunk + TAG));
          if (bytesRead !== buf.length) throw new DataKeyError('DATA_KEY_WRONG', `${path} changed while it was read`, { detail: { where } });
          const d = createDecipheriv('aes-256-gcm', fileKey, ivOf(i, isLast));
          d.setAuthTag(buf.subarray(plainLen));
          let plain: Buffer;
          try {
            plain = Buffer.concat([d.update(buf.subarray(0, plainLen)), d.final()]);
          } catch (cause) {
            throw new DataKeyError('DATA_KEY_WRONG', `chunk ${i} of ${path} does not open: the file was altered or cut`, { cause, detail: { where, chunk: i } });
          }
          const a = i === first ? start - i * chunk : 0;
          const b = i === last ? end - i * chunk + 1 : plain.length;
          yield plain.subarray(a, b);
        }
      } finally {
        await h.close();
      }
    }
    return Readable.from(gen(), { objectMode: false });
  };
  return { path, size, keyId, read };
}

/** Writes a sealed file's plaintext to `dst` (mode 0600): a temporary clear copy for a reader that needs a file (ffmpeg). */
export async function unsealFile(ring: DataKeyring, src: string, dst: string, where: string): Promise<number> {
  const f = await openSealedFile(ring, src, where);
  await pipeline(f.read(), createWriteStream(dst, { mode: 0o600 }));
  return f.size;
}

/** A rotation's work on a sealed file: its file key re-sealed under the ring's current key (the chunks stay). */
export async function resealFileHeader(ring: DataKeyring, path: string, where: string): Promise<boolean> {
  const fh = await open(path, 'r+');
  try {
    const fixed = Buffer.alloc(FIXED);
    await fh.read(fixed, 0, FIXED, 0);
    if (!fixed.subarray(0, 4).equals(SEALED_FILE_MAGIC)) throw new DataKeyError('DATA_KEY_NOT_SEALED', `${path} is not a sealed file`, { detail: { where } });
    const n = fixed.readUInt16BE(8);
    const sealed = Buffer.alloc(n);
    await fh.read(sealed, 0, n, FIXED);
    if (!ring.needsReseal(sealed)) return false;
    const next = ring.seal(ring.open(sealed, fileKeyAad(where)), fileKeyAad(where));
    // Same length when the key ids are as long (ids made by `cvcore keys rotate` are): rewritten in place.
    if (next.length !== n) return false;
    await fh.write(next, 0, n, FIXED);
    await fh.sync();
    return true;
  } finally {
    await fh.close();
  }
}

/** A file this small that is one sealed value (a store's verifier) is counted as one. */
const MAX_SEALED_VALUE_FILE = 4096;

/**
 * Sealed things per data key id under `dir`, recursively: each sealed file by its header's key id, and each small
 * file that is one sealed value (a verifier). For `cvcore keys status` and `retire`: it reads headers and decrypts
 * nothing, so it needs no key and works beside a running core. `skip`: folder names not entered (a RocksDB
 * folder, whose files are not sealed files).
 */
export async function sealedFilesUsage(dir: string, skip: readonly string[] = []): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const count = (id: string | null): void => { if (id !== null) out[id] = (out[id] ?? 0) + 1; };
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) { if (!skip.includes(e.name)) await walk(p); continue; }
      if (!e.isFile()) continue;
      let fh;
      try { fh = await open(p, 'r'); } catch { continue; } // gone meanwhile (retention, a cut clip)
      try {
        const head = Buffer.alloc(512);
        const { bytesRead } = await fh.read(head, 0, head.length, 0);
        const b = head.subarray(0, bytesRead);
        if (b.length >= FIXED && b.subarray(0, 4).equals(SEALED_FILE_MAGIC)) {
          const n = b.readUInt16BE(8);
          count(b.length >= FIXED + n ? sealedKeyId(b.subarray(FIXED, FIXED + n)) : null);
        } else if (b.length >= SEAL_MAGIC.length && b.subarray(0, SEAL_MAGIC.length).equals(SEAL_MAGIC) && (await fh.stat()).size <= MAX_SEALED_VALUE_FILE) {
          const all = Buffer.alloc(MAX_SEALED_VALUE_FILE);
          const r = await fh.read(all, 0, all.length, 0);
          count(sealedKeyId(all.subarray(0, r.bytesRead)));
        }
      } finally {
        await fh.close();
      }
    }
  };
  await walk(dir);
  return out;
}
