/**
 * Writes one export zip as a stream (yazl): the given files, then `node-key.pem`, `manifest.json` (every other
 * file's SHA-256 and size, hashed while it streams into the zip) and `manifest.sig`. Nothing is held in memory
 * but the manifest: a clip is read from disk in chunks. The zip is written under a temporary name, fsynced and
 * renamed, so an export either exists whole or not at all.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import type { DataKeyring } from '../common/data-key.js';
import { CvcoreError, EvidenceError } from '../common/errors.js';
import { SealStream } from '../common/sealed-file.js';
import type { NodeKey } from '../common/node-key.js';
import type { ExportFileInput, ExportManifest, ManifestFile } from './types.js';

export const MANIFEST_NAME = 'manifest.json';
export const SIGNATURE_NAME = 'manifest.sig';
export const KEY_NAME = 'node-key.pem';
/** Names the builder writes itself; a caller's file may not take them. */
export const RESERVED_NAMES: readonly string[] = [MANIFEST_NAME, SIGNATURE_NAME, KEY_NAME];

/** Already compressed: stored as they are (deflating them costs CPU and gains nothing). */
const STORED = /\.(mp4|m4v|ts|mkv|jpe?g|png|webp|zip|gz)$/i;

export interface BuildExportOptions {
  /** Folder the zip is written to (`<id>.zip`). */
  readonly dir: string;
  readonly id: string;
  readonly node: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly request: Readonly<Record<string, unknown>>;
  readonly files: readonly ExportFileInput[];
  readonly key: NodeKey;
  /**
   * Digests the files must have (name -> SHA-256 hex), such as a clip's from the recorder: a file that changed
   * between being made and being read fails the export (EVIDENCE_IO) instead of being signed as it was read.
   */
  readonly expect?: ReadonlyMap<string, string>;
  /**
   * Seals the zip at rest as it is written (common/sealed-file.ts): the store's exports are. `bytes` and `sha256`
   * stay the clear zip's (what a download gives and `cvcore export verify` reads).
   */
  readonly seal?: { readonly ring: DataKeyring; readonly where: string };
}

export interface BuiltExport {
  readonly path: string;
  /** Size of the zip. */
  readonly bytes: number;
  /** SHA-256 of the zip. */
  readonly sha256: string;
  readonly manifest: ExportManifest;
  /** Entries in the zip (the files, the key, the manifest and its signature). */
  readonly entries: number;
}

/** A zip entry name: forward slashes, relative, no `.`/`..` segments, no control characters. */
export function checkEntryName(name: string): void {
  const bad = (why: string): never => { throw new EvidenceError('EVIDENCE_BAD_REQUEST', `file "${name}": ${why}`, { detail: { field: 'files', name } }); };
  if (name.length === 0 || name.length > 255) bad('a name of 1 to 255 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\\]/.test(name)) bad('no control characters or backslashes');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) bad('a relative path');
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..')) bad('no empty, "." or ".." segments');
  if (RESERVED_NAMES.includes(name)) bad('reserved for the export itself');
}

/** Hashes what passes through and counts it; `result` is set once the stream has ended. */
class Digest extends Transform {
  readonly #hash = createHash('sha256');
  #bytes = 0;
  result: { sha256: string; bytes: number } | null = null;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    this.result = { sha256: this.#hash.digest('hex'), bytes: this.#bytes };
    cb();
  }
}

/** The manifest's exact bytes: what the signature covers (and what verify re-reads, never re-serialises). */
export function manifestBytes(m: ExportManifest): Buffer {
  return Buffer.from(JSON.stringify(m, null, 2) + '\n', 'utf8');
}

export async function buildExport(o: BuildExportOptions): Promise<BuiltExport> {
  const seen = new Set<string>();
  for (const f of o.files) {
    checkEntryName(f.name);
    if (seen.has(f.name)) throw new EvidenceError('EVIDENCE_BAD_REQUEST', `file "${f.name}" is given twice`, { detail: { field: 'files', name: f.name } });
    seen.add(f.name);
    if ([f.path, f.data, f.open].filter((x) => x !== undefined).length !== 1) throw new TypeError(`export file "${f.name}": give exactly one of path, data and open`);
  }
  const mtime = new Date(o.createdAt);
  const zip = new yazl.ZipFile();
  const digests = new Map<string, Digest | { result: { sha256: string; bytes: number } }>();
  const failures: Error[] = [];
  // Any failure (a file that does not read, a digest that is not the expected one) ends the zip's output, and
  // the writer below gets the error; the temporary file is then removed.
  const fail = (e: Error): void => {
    if (!failures.includes(e)) failures.push(e);
    (zip.outputStream as PassThrough).destroy(e);
  };
  zip.on('error', fail);

  const inputs: ExportFileInput[] = [...o.files, { name: KEY_NAME, data: Buffer.from(o.key.publicPem, 'utf8') }];
  for (const f of inputs) {
    const compress = !STORED.test(f.name);
    if (f.data !== undefined) {
      const buf = Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength);
      digests.set(f.name, { result: { sha256: createHash('sha256').update(buf).digest('hex'), bytes: buf.length } });
      zip.addBuffer(buf, f.name, { mtime, compress });
      continue;
    }
    const d = new Digest();
    digests.set(f.name, d);
    const path = f.path ?? '(stream)';
    // Lazy: the file is opened when its turn comes, so a thousand clips never hold a thousand descriptors.
    zip.addReadStreamLazy(f.name, { mtime, compress }, (cb) => {
      const src = f.open ? f.open() : createReadStream(path);
      src.on('error', (err: NodeJS.ErrnoException) => {
        // A sealed clip that does not open keeps its own code (DATA_KEY_*); a file that does not read is the request's.
        const e = err instanceof CvcoreError ? err : new EvidenceError('EVIDENCE_BAD_REQUEST', `file "${f.name}": cannot read ${path} (${err.message})`, { cause: err, detail: { field: 'files', name: f.name } });
        // The digest stream just stops; the zip's output carries the error.
        d.destroy();
        fail(e);
      });
      cb(null, src.pipe(d));
    });
  }

  let manifest: ExportManifest | null = null;
  let signed: Buffer | null = null;
  // yazl writes entries one after the other: when the manifest's turn comes every file above has been hashed.
  zip.addReadStreamLazy(MANIFEST_NAME, { mtime, compress: true }, (cb) => {
    const files: ManifestFile[] = [];
    for (const f of inputs) {
      const r = digests.get(f.name)!.result;
      if (!r) return cb(new Error(`export ${o.id}: ${f.name} was not hashed before the manifest`), new PassThrough());
      const want = o.expect?.get(f.name);
      if (want !== undefined && want.toLowerCase() !== r.sha256) {
        const e = new EvidenceError('EVIDENCE_IO', `file "${f.name}" changed while it was exported (SHA-256 ${r.sha256}, expected ${want})`, { detail: { name: f.name } });
        return cb(e, new PassThrough());
      }
      files.push({ name: f.name, sha256: r.sha256, bytes: r.bytes });
    }
    manifest = {
      version: 1, id: o.id, node: o.node, createdAt: o.createdAt, createdBy: o.createdBy,
      request: o.request, keyFingerprint: o.key.fingerprint, files,
    };
    signed = manifestBytes(manifest);
    cb(null, Readable.from([signed]));
  });
  zip.addReadStreamLazy(SIGNATURE_NAME, { mtime, compress: false }, (cb) => {
    cb(null, Readable.from([Buffer.from(o.key.sign(signed!).toString('base64') + '\n', 'utf8')]));
  });
  zip.end();

  const path = join(o.dir, `${o.id}.zip`);
  const tmp = join(o.dir, `.${basename(path)}.${process.pid}.tmp`);
  const zipDigest = new Digest();
  try {
    if (o.seal) await pipeline(zip.outputStream, zipDigest, new SealStream(o.seal.ring, o.seal.where), createWriteStream(tmp, { mode: 0o600 }));
    else await pipeline(zip.outputStream, zipDigest, createWriteStream(tmp, { mode: 0o600 }));
    if (failures.length) throw failures[0];
    const fh = await open(tmp, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
    await rename(tmp, path);
    await syncDir(dirname(path));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw failures[0] ?? err;
  }
  const size = o.seal ? zipDigest.result!.bytes : (await stat(path)).size;
  return { path, bytes: size, sha256: zipDigest.result!.sha256, manifest: manifest!, entries: inputs.length + 2 };
}

/** fsync of a folder, so a rename in it survives a power cut (best effort where the platform refuses). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch { /* some file systems do not fsync folders */ }
}
