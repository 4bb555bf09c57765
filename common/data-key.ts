/**
 * The data key ring: AES-256-GCM keys that seal biometric data (face embeddings, face/person thumbnails, plate
 * crops, watch-list photos, alarm frames, closed recording segments, exports) before it reaches RocksDB or disk.
 *
 * The key file (`CVCORE_DATA_KEY_FILE`, or `dataKey.file` in the config; `cvcore keys init` makes one) is JSON,
 * mode 0600:
 *
 *   { "v": 1, "current": "k3f9a01c2", "keys": [ { "id": "k3f9a01c2", "key": "<32 bytes, base64>", "created": "ISO" }, ... ] }
 *
 * A sealed value is self-describing, so a value written under an older key still opens after a rotation:
 *
 *   "CVE1" | u8 id length | key id (ASCII) | 12-byte IV | 16-byte GCM tag | ciphertext
 *
 * The caller may bind a value to where it lives (`aad`, for example its RocksDB key), so a sealed value copied
 * under another key does not open. A rotation (`cvcore keys rotate`) adds a key and makes it current; stores
 * re-seal what they hold under older ids in the background (`needsReseal`), and `cvcore keys retire ID` drops an
 * old key once nothing uses it. A running core picks up a rotated file through `reload()`.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { DataKeyError } from './errors.js';
import { createExclusive } from './node-key.js';

export const DATA_KEY_ENV = 'CVCORE_DATA_KEY_FILE';
/** Where a core keeps its key when neither the environment nor the config names one (the demo; not for production). */
export const DEFAULT_DATA_KEY_FILE = join('keys', 'data-key.json');
export const SEAL_MAGIC = Buffer.from('CVE1', 'ascii');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export interface DataKeyEntry {
  readonly id: string;
  readonly created: string;
}

export interface DataKeyFile {
  v: 1;
  current: string;
  keys: { id: string; key: string; created: string; retired?: string }[];
}

/** What stores need from the ring: seal under the current key, open under any key the file holds. */
export interface DataKeyring {
  readonly path: string;
  /** The id new values are sealed under. */
  readonly currentId: string;
  /** Every id the ring can open, current first. */
  readonly ids: readonly string[];
  /** A short, non-secret fingerprint of a key (SHA-256 of "cvcore-data-key" + key, 16 hex), for logs and status. */
  fingerprint(id?: string): string;
  seal(plain: Uint8Array, aad?: Uint8Array | string): Buffer;
  /** DATA_KEY_UNKNOWN_ID for a key the ring lacks, DATA_KEY_WRONG when the tag does not verify, DATA_KEY_NOT_SEALED for a value without the header. */
  open(sealed: Uint8Array, aad?: Uint8Array | string): Buffer;
  /** The key id a value was sealed under, or null when it is not a sealed value. */
  keyIdOf(value: Uint8Array): string | null;
  /** True when the value is sealed under another key than the current one (a rotation's background work). */
  needsReseal(value: Uint8Array): boolean;
  /** Re-reads the key file (after `cvcore keys rotate`); keeps the old ring and throws when the new file is bad. */
  reload(): Promise<void>;
}

/**
 * Random IVs drawn from a pool: one call to the CSPRNG per 1024 IVs instead of one per value (a randomBytes call
 * costs about 5 us here, a third of sealing a thumbnail). Every IV is still 96 fresh random bits, never reused.
 */
const IV_POOL = 1024;
let ivPool = Buffer.alloc(0);
let ivAt = 0;
function nextIv(): Buffer {
  if (ivAt + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_BYTES * IV_POOL);
    ivAt = 0;
  }
  const iv = ivPool.subarray(ivAt, ivAt + IV_BYTES);
  ivAt += IV_BYTES;
  return iv;
}

export const isSealed = (value: Uint8Array): boolean =>
  value.length >= SEAL_MAGIC.length + 1 && Buffer.from(value.buffer, value.byteOffset, SEAL_MAGIC.length).equals(SEAL_MAGIC);

/** The key id in a sealed value's header, or null when it is not one (for tools that count values without the keys). */
export function sealedKeyId(value: Uint8Array): string | null {
  if (!isSealed(value)) return null;
  const n = value[SEAL_MAGIC.length]!;
  const start = SEAL_MAGIC.length + 1;
  if (value.length < start + n + IV_BYTES + TAG_BYTES) return null;
  return Buffer.from(value.buffer, value.byteOffset + start, n).toString('ascii');
}

const aadBuffer = (aad: Uint8Array | string | undefined): Buffer | null =>
  aad === undefined ? null : typeof aad === 'string' ? Buffer.from(aad, 'utf8') : Buffer.from(aad.buffer, aad.byteOffset, aad.byteLength);

export function keyFingerprint(key: Uint8Array): string {
  return createHash('sha256').update('cvcore-data-key').update(key).digest('hex').slice(0, 16);
}

/** Parses and checks a key file's text; DATA_KEY_BAD_FILE naming what is wrong. */
export function parseDataKeyFile(text: string, path: string): DataKeyFile {
  const bad = (why: string): never => {
    throw new DataKeyError('DATA_KEY_BAD_FILE', `${path}: ${why}`, { detail: { file: path } });
  };
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return bad('not JSON (a data key file is written by `cvcore keys init`)');
  }
  const o = j as Partial<DataKeyFile>;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return bad('not a JSON object');
  if (o.v !== 1) return bad(`version ${String(o.v)}, this core reads version 1`);
  if (!Array.isArray(o.keys) || o.keys.length === 0) return bad('no keys');
  const seen = new Set<string>();
  for (const [i, k] of o.keys.entries()) {
    if (typeof k !== 'object' || k === null) bad(`keys[${i}] is not an object`);
    if (typeof k.id !== 'string' || !ID_PATTERN.test(k.id)) bad(`keys[${i}].id must be 1 to 64 of A-Z a-z 0-9 _ -`);
    if (seen.has(k.id)) bad(`keys[${i}].id ${k.id} appears twice`);
    seen.add(k.id);
    if (typeof k.key !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(k.key)) bad(`keys[${i}].key is not base64`);
    const bytes = Buffer.from(k.key, 'base64');
    if (bytes.length !== KEY_BYTES) bad(`keys[${i}].key is ${bytes.length} bytes, an AES-256 key is ${KEY_BYTES}`);
    if (typeof k.created !== 'string') bad(`keys[${i}].created is missing`);
  }
  if (typeof o.current !== 'string' || !seen.has(o.current)) bad(`current (${String(o.current)}) is not one of the keys`);
  return o as DataKeyFile;
}

class Ring implements DataKeyring {
  readonly path: string;
  #keys = new Map<string, Buffer>();
  #current = '';

  constructor(path: string, file: DataKeyFile) {
    this.path = path;
    this.#set(file);
  }

  #set(file: DataKeyFile): void {
    const keys = new Map<string, Buffer>();
    keys.set(file.current, Buffer.from(file.keys.find((k) => k.id === file.current)!.key, 'base64'));
    for (const k of file.keys) if (!keys.has(k.id)) keys.set(k.id, Buffer.from(k.key, 'base64'));
    this.#keys = keys;
    this.#current = file.current;
  }

  get currentId(): string {
    return this.#current;
  }

  get ids(): readonly string[] {
    return [...this.#keys.keys()];
  }

  fingerprint(id = this.#current): string {
    const k = this.#keys.get(id);
    if (!k) throw new DataKeyError('DATA_KEY_UNKNOWN_ID', `${this.path} has no key ${id}`, { detail: { file: this.path, keyId: id } });
    return keyFingerprint(k);
  }

  seal(plain: Uint8Array, aad?: Uint8Array | string): Buffer {
    const id = Buffer.from(this.#current, 'ascii');
    const iv = nextIv();
    const c = createCipheriv('aes-256-gcm', this.#keys.get(this.#current)!, iv);
    const a = aadBuffer(aad);
    if (a) c.setAAD(a);
    // GCM is a stream mode: update() gives the whole ciphertext and final() nothing more (it computes the tag).
    const body = c.update(plain);
    const tail = c.final();
    const head = SEAL_MAGIC.length + 1 + id.length;
    const out = Buffer.allocUnsafe(head + IV_BYTES + TAG_BYTES + body.length + tail.length);
    SEAL_MAGIC.copy(out, 0);
    out[SEAL_MAGIC.length] = id.length;
    id.copy(out, SEAL_MAGIC.length + 1);
    iv.copy(out, head);
    c.getAuthTag().copy(out, head + IV_BYTES);
    body.copy(out, head + IV_BYTES + TAG_BYTES);
    tail.copy(out, head + IV_BYTES + TAG_BYTES + body.length);
    return out;
  }

  open(sealed: Uint8Array, aad?: Uint8Array | string): Buffer {
    const id = sealedKeyId(sealed);
    if (id === null) throw new DataKeyError('DATA_KEY_NOT_SEALED', 'the value is not sealed with a data key (no CVE1 header)', { detail: { file: this.path } });
    const key = this.#keys.get(id);
    if (!key) {
      throw new DataKeyError('DATA_KEY_UNKNOWN_ID', `the value is sealed under key ${id}, which ${this.path} does not hold (a retired key, or another core's key file)`, { detail: { file: this.path, keyId: id } });
    }
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    let at = SEAL_MAGIC.length + 1 + id.length;
    const iv = b.subarray(at, (at += IV_BYTES));
    const tag = b.subarray(at, (at += TAG_BYTES));
    const d = createDecipheriv('aes-256-gcm', key, iv);
    const a = aadBuffer(aad);
    if (a) d.setAAD(a);
    d.setAuthTag(tag);
    try {
      return Buffer.concat([d.update(b.subarray(at)), d.final()]);
    } catch (cause) {
      throw new DataKeyError('DATA_KEY_WRONG', `a value sealed under key ${id} does not open with ${this.path}'s key ${id}: the key file holds a different key under that id, or the value was altered`, { cause, detail: { file: this.path, keyId: id } });
    }
  }

  keyIdOf(value: Uint8Array): string | null {
    return sealedKeyId(value);
  }

  needsReseal(value: Uint8Array): boolean {
    const id = sealedKeyId(value);
    return id !== null && id !== this.#current;
  }

  async reload(): Promise<void> {
    this.#set(await readKeyFile(this.path));
  }

  toFile(): DataKeyFile {
    return { v: 1, current: this.#current, keys: [...this.#keys].map(([id, k]) => ({ id, key: k.toString('base64'), created: '' })) };
  }
}

async function readKeyFile(path: string): Promise<DataKeyFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataKeyError('DATA_KEY_MISSING', `no data key file at ${path} (make one with \`cvcore keys init --file ${path}\`)`, { cause: err, detail: { file: path } });
    throw new DataKeyError('DATA_KEY_BAD_FILE', `${path}: cannot read the data key file (${(err as Error).message})`, { cause: err, detail: { file: path } });
  }
  return parseDataKeyFile(text, path);
}

/** Opens the ring in a key file; DATA_KEY_MISSING, DATA_KEY_BAD_FILE. */
export async function loadDataKeyring(path: string): Promise<DataKeyring> {
  const abs = resolve(path);
  return new Ring(abs, await readKeyFile(abs));
}

/** A ring from a file's content, for tests and tools that hold the JSON already. */
export function dataKeyringFrom(file: DataKeyFile, path = '<memory>'): DataKeyring {
  return new Ring(path, parseDataKeyFile(JSON.stringify(file), path));
}

const newKeyId = (): string => `k${randomBytes(4).toString('hex')}`;
const newEntry = (): DataKeyFile['keys'][number] => ({ id: newKeyId(), key: randomBytes(KEY_BYTES).toString('base64'), created: new Date().toISOString() });

/** Writes a new key file with one key; never replaces an existing file (DATA_KEY_EXISTS). */
export async function initDataKeyFile(path: string): Promise<{ path: string; id: string; fingerprint: string }> {
  const abs = resolve(path);
  const entry = newEntry();
  const file: DataKeyFile = { v: 1, current: entry.id, keys: [entry] };
  await mkdir(dirname(abs), { recursive: true, mode: 0o700 });
  if (!(await createExclusive(abs, `${JSON.stringify(file, null, 2)}\n`, 0o600))) {
    throw new DataKeyError('DATA_KEY_EXISTS', `${abs} exists; a data key file is never replaced (it would orphan everything sealed with it)`, { detail: { file: abs } });
  }
  return { path: abs, id: entry.id, fingerprint: keyFingerprint(Buffer.from(entry.key, 'base64')) };
}

/** Replaces a key file's content atomically (temp file, fsync, rename), keeping mode 0600. */
async function writeKeyFile(path: string, file: DataKeyFile): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(file, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * Adds a fresh key. With `stage` it is only added (every node of a cluster must hold it before any seals with
 * it); otherwise it also becomes current.
 */
export async function rotateDataKeyFile(path: string, o: { stage?: boolean; promote?: string } = {}): Promise<{ id: string; previous: string; fingerprint: string }> {
  const abs = resolve(path);
  const file = await readKeyFile(abs);
  const previous = file.current;
  let id: string;
  if (o.promote !== undefined) {
    const k = file.keys.find((x) => x.id === o.promote);
    if (!k) throw new DataKeyError('DATA_KEY_UNKNOWN_ID', `${abs} has no key ${o.promote} to make current`, { detail: { file: abs, keyId: o.promote } });
    id = k.id;
    file.current = id;
  } else {
    const entry = newEntry();
    file.keys.push(entry);
    id = entry.id;
    if (!o.stage) file.current = id;
  }
  await writeKeyFile(abs, file);
  return { id, previous, fingerprint: keyFingerprint(Buffer.from(file.keys.find((k) => k.id === id)!.key, 'base64')) };
}

/** Drops a key that is not current (after `keys status` shows nothing sealed under it). */
export async function retireDataKey(path: string, id: string): Promise<void> {
  const abs = resolve(path);
  const file = await readKeyFile(abs);
  if (file.current === id) throw new DataKeyError('DATA_KEY_IN_USE', `${id} is the current key of ${abs}; rotate first`, { detail: { file: abs, keyId: id } });
  if (!file.keys.some((k) => k.id === id)) throw new DataKeyError('DATA_KEY_UNKNOWN_ID', `${abs} has no key ${id}`, { detail: { file: abs, keyId: id } });
  file.keys = file.keys.filter((k) => k.id !== id);
  await writeKeyFile(abs, file);
}

/** The key file a core uses: the environment, then the config, then `<dataDir>/keys/data-key.json`. */
export function resolveDataKeyFile(dataDir: string, configured?: string, env: NodeJS.ProcessEnv = process.env): { path: string; source: 'env' | 'config' | 'default' } {
  const e = env[DATA_KEY_ENV];
  if (e) return { path: resolve(e), source: 'env' };
  if (configured) return { path: resolve(configured), source: 'config' };
  return { path: resolve(dataDir, DEFAULT_DATA_KEY_FILE), source: 'default' };
}

/**
 * The ring a core runs with. A default-located file is made on first start (the demo), with a warning from the
 * caller that a key beside its data protects only copies of the data, not the machine; a named file must exist.
 */
export async function openDataKeyring(dataDir: string, configured?: string, env: NodeJS.ProcessEnv = process.env): Promise<{ ring: DataKeyring; source: 'env' | 'config' | 'default'; created: boolean }> {
  const { path, source } = resolveDataKeyFile(dataDir, configured, env);
  let created = false;
  if (source === 'default') {
    try {
      await stat(path);
    } catch {
      try {
        await initDataKeyFile(path);
        created = true;
      } catch (err) {
        if (!(err instanceof DataKeyError && err.code === 'DATA_KEY_EXISTS')) throw err;
      }
    }
  }
  return { ring: await loadDataKeyring(path), source, created };
}

/**
 * A store's check that the ring is the one its data was sealed with: the store keeps one sealed probe (its
 * "verifier"); a ring that cannot open it refuses before anything is read or written (DATA_KEY_WRONG /
 * DATA_KEY_UNKNOWN_ID). Returns the probe to keep when there was none.
 */
export const VERIFIER_PLAIN = Buffer.from('cvcore data key verifier v1', 'ascii');
export function checkVerifier(ring: DataKeyring, stored: Uint8Array | null | undefined, where: string): Buffer | null {
  if (!stored) return ring.seal(VERIFIER_PLAIN, where);
  let plain: Buffer;
  try {
    plain = ring.open(stored, where);
  } catch (err) {
    if (err instanceof DataKeyError) {
      throw new DataKeyError(err.code, `${where} was sealed with another data key than ${ring.path} holds (${err.message}); nothing was read or changed`, { cause: err, detail: { ...err.detail, where } });
    }
    throw err;
  }
  if (!plain.equals(VERIFIER_PLAIN)) throw new DataKeyError('DATA_KEY_WRONG', `${where}: the data key verifier does not read back`, { detail: { where } });
  return ring.needsReseal(stored) ? ring.seal(VERIFIER_PLAIN, where) : null;
}

/**
 * The key material of a ring, as a key file's content, to hand the ring to a worker thread of the same process
 * (the search index's face graph thread opens sealed face entries); never written anywhere by the caller.
 */
export function dataKeyringFile(ring: DataKeyring): DataKeyFile {
  if (!(ring instanceof Ring)) throw new TypeError('dataKeyringFile takes a ring made by this module');
  return ring.toFile();
}
