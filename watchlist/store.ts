/**
 * The watch-list store: lists, entries, photos, face embeddings and the alarm log in one RocksDB (its own folder,
 * `<dataDir>/watchlists`), with every list and entry also held in memory (they are small; photos are not) so the
 * live path matches synchronously. Writes go through one chain, in call order, so a read-modify-write (an
 * entry's match counter, an alarm's state) never loses an update. Key layout: see README.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import sharp, { type OutputInfo } from 'sharp';
import { WatchlistError, CvcoreError } from '../common/errors.js';
import { checkVerifier, isSealed, sealedKeyId, type DataKeyring } from '../common/data-key.js';
import type { AlarmV1 } from '../common/alarm-schemas.js';
import type { Logger } from '../common/log.js';
import { canonicalPlate, plateFormat, PLATE_ALPHABET, PLATE_LETTERS, PLATE_PROVINCES } from '../common/plates.js';
import { createRocks, readRange, scanRange, type BatchOp, type RocksDb } from '../common/rocks.js';
import { Matcher } from './matcher.js';
import type {
  AlarmQuery, FaceEntry, FaceHit, ListKind, Page, PhotoEmbedder, PlateEntry, Scope, StoredAlarm, WatchEntry, WatchList, WatchlistService,
} from './types.js';

/**
 * Default face threshold. Measured with faceres (`cvcore bench watchlist --calibrate`, README.md): a face against
 * renderings of its own photo (mirror, crop, JPEG q30, 120 and 80 px faces through H.264) scored 0.82..0.995, a
 * 48 px face 0.53..0.86; the two people against each other at most 0.47 (mean 0.40) over 49 pairs. 0.6 sits
 * between, nearer the impostors' side than the 0.82 floor of usable faces.
 */
export const DEFAULT_FACE_THRESHOLD = 0.6;
export const MAX_NAME = 128;
export const MAX_NOTE = 1000;
export const MAX_PHOTOS = 5;
/** Stored photos are re-encoded JPEGs with this longest side (bounded size; enough for an operator to compare). */
export const PHOTO_MAX_SIDE = 640;
export const PHOTO_JPEG_QUALITY = 85;
export const DEFAULT_ALARM_RETENTION_MS = 30 * 24 * 3600_000;
export const DEFAULT_SWEEP_INTERVAL_MS = 3600_000;
export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 50;
/** An alarm query reads at most this many alarms past its filters before it answers a short page with a cursor. */
export const ALARM_SCAN_BUDGET = 20_000;
/** 2: photos, embeddings and alarm images sealed with the data key (1: in clear; migrated on open). */
const FORMAT = '2';
const CLEAR_FORMAT = '1';

// ---- key layout (README.md) ----
const K_FORMAT = 'meta!format';
/** The data key verifier (common/data-key.ts checkVerifier): a wrong key refuses before any entry is read. */
const K_VERIFIER = 'meta!dataKey';
const VERIFIER_WHERE = 'watchlists';
/** The values sealed with the data key, each bound to its own RocksDB key: photos, embeddings, alarm frames and faces. */
const SEALED_PREFIXES = ['p!', 'v!', 'as!', 'af!'] as const;
const listKey = (id: string): string => `l!${id}`;
const entryKey = (list: string, id: string): string => `e!${list}!${id}`;
const photoKey = (entry: string, n: number): string => `p!${entry}!${n}`;
const vectorKey = (entry: string, n: number): string => `v!${entry}!${n}`;
const pad = (n: number): string => String(Math.max(0, Math.floor(n))).padStart(16, '0');
const alarmKey = (at: number, id: string): string => `a!${pad(at)}!${id}`;
const alarmIdKey = (id: string): string => `ai!${id}`;
const snapKey = (id: string): string => `as!${id}`;
const faceKey = (id: string): string => `af!${id}`;
const matchKey = (entry: string, at: number, id: string): string => `m!${entry}!${pad(at)}!${id}`;

const B32 = 'abcdefghijkmnpqrstuvwxyz23456789';
/** 12 characters of a 32-letter alphabet (60 bits): short in URLs, never guessed. */
export function newId(): string {
  const b = randomBytes(12);
  let s = '';
  for (const x of b) s += B32[x & 31];
  return s;
}

export interface WatchlistStoreOptions {
  readonly dir: string;
  /** Finds the faces in an uploaded photo (inference's embedFacesFromImage); null: face entries cannot be added (plate lists work). */
  readonly embedder: PhotoEmbedder | null;
  readonly log: Logger;
  /** The data key ring photos, embeddings and alarm images are sealed with (required: they are biometric data). */
  readonly dataKey: DataKeyring;
  /** Alarms older than this are swept with their images; default 30 days. */
  readonly alarmRetentionMs?: number;
  /** How often the sweep runs; 0: only when sweep() is called. Default hourly. */
  readonly sweepIntervalMs?: number;
  /** Embedding length; default 1024 (faceres). */
  readonly dim?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
interface ListRec { id: string; name: string; department: string; kind: ListKind; note: string; createdAt: number; createdBy: string; updatedAt: number }

function bad(field: string, message: string, detail: Record<string, unknown> = {}): WatchlistError {
  return new WatchlistError('WATCHLIST_BAD_ENTRY', `${field}: ${message}`, { detail: { field, ...detail } });
}

function inScope(scope: Scope, department: string): boolean {
  return scope === 'all' || scope.departments.includes(department);
}

function text(field: string, v: unknown, min: number, max: number): string {
  if (typeof v !== 'string') throw bad(field, 'must be a string');
  const s = v.trim();
  if ([...s].length < min || [...s].length > max) throw bad(field, min > 0 ? `must be ${min}..${max} characters (got ${[...s].length})` : `must be at most ${max} characters (got ${[...s].length})`);
  return s;
}

function threshold(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) throw bad('threshold', `must be a number in 0..1 (got ${String(v)})`);
  return v;
}

function expiry(v: unknown, now: number): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('expiresAt', 'must be a time (epoch ms or ISO) or null');
  if (v <= now) throw bad('expiresAt', `must be in the future (got ${new Date(v).toISOString()})`);
  return v;
}

/** Why `canonical` is not a mainland plate, in words. */
export function whyNotPlate(input: string, canonical: string): string {
  const chars = [...canonical];
  if (chars.length === 0) return `"${input}" is empty`;
  const foreign = chars.filter((c) => !PLATE_ALPHABET.includes(c));
  if (foreign.length) return `"${input}" holds characters no plate has: ${[...new Set(foreign)].join(' ')}`;
  if (chars.length < 7 || chars.length > 8) return `"${input}" has ${chars.length} characters; a plate has 7 (standard) or 8 (new-energy)`;
  if (!PLATE_PROVINCES.includes(chars[0]!)) return `"${input}" does not open with a province (${chars[0]} is none)`;
  if (!PLATE_LETTERS.includes(chars[1]!)) return `"${input}": the second character must be a letter (the issuing authority), not ${chars[1]}`;
  return `"${input}" fits neither the standard nor the new-energy layout`;
}

/** A stored embedding (little-endian float32 bytes) as its own, aligned Float32Array. */
const toFloat32 = (b: Buffer): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

const encodeCursor = (key: string): string => Buffer.from(key, 'utf8').toString('base64url');
function decodeCursor(cursor: string, prefix: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!key.startsWith(prefix)) throw bad('cursor', 'not a cursor this query handed out');
  return key;
}
function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw bad('limit', `must be an integer in 1..${MAX_PAGE}`);
  return limit;
}

export class WatchlistStore implements WatchlistService {
  readonly #db: RocksDb;
  readonly #o: WatchlistStoreOptions;
  readonly #matcher: Matcher;
  readonly #lists = new Map<string, ListRec>();
  /** list -> entry id -> entry (insertion order = creation order: they are loaded sorted by createdAt). */
  readonly #entries = new Map<string, Map<string, Mutable<FaceEntry> | Mutable<PlateEntry>>>();
  readonly #retention: number;
  #timer: NodeJS.Timeout | null = null;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(db: RocksDb, o: WatchlistStoreOptions) {
    this.#db = db;
    this.#o = o;
    this.#matcher = new Matcher(o.dim ?? 1024);
    this.#retention = o.alarmRetentionMs ?? DEFAULT_ALARM_RETENTION_MS;
  }

  static async open(o: WatchlistStoreOptions): Promise<WatchlistStore> {
    const retention = o.alarmRetentionMs ?? DEFAULT_ALARM_RETENTION_MS;
    if (!(retention > 0)) throw new RangeError('alarmRetentionMs must be a positive number of milliseconds');
    const interval = o.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (!(interval >= 0)) throw new RangeError('sweepIntervalMs must be >= 0');
    if (!o.dataKey || typeof o.dataKey.seal !== 'function') throw new TypeError('dataKey (a DataKeyring) is required: watch-list photos and embeddings are sealed at rest');
    await finishMigration(o.dir);
    await mkdir(o.dir, { recursive: true });
    let db = createRocks(o.dir);
    try {
      await db.open({ createIfMissing: true });
    } catch (cause) {
      throw new WatchlistError('WATCHLIST_IO', `the watch-list store in ${o.dir} cannot be opened (is another core using it?): ${(cause as Error).message}`, { cause, detail: { dir: o.dir } });
    }
    const [format] = await db.getMany([K_FORMAT]);
    if (format?.toString() === CLEAR_FORMAT) {
      // A store from before sealing: copied, sealed, into a fresh RocksDB that replaces it (sealing in place would
      // leave the clear values in the old SST files until a compaction that may never come).
      await migrateClearStore(db, o.dir, o.dataKey);
      o.log.info('watchlist: migrated the clear watch-list store to sealed photos, embeddings and alarm images', { dir: o.dir });
      db = createRocks(o.dir);
      await db.open({ createIfMissing: false });
    }
    const s = new WatchlistStore(db, o);
    try {
      await s.#load();
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    if (interval > 0) {
      s.#timer = setInterval(() => { s.sweep().catch((err: unknown) => o.log.warn('watchlist: alarm sweep failed', { err: err as Error })); }, interval);
      s.#timer.unref();
    }
    return s;
  }

  async #load(): Promise<void> {
    const [format, verifier] = await this.#db.getMany([K_FORMAT, K_VERIFIER]);
    const ring = this.#o.dataKey;
    if (format === undefined) {
      await this.#db.batch([{ type: 'put', key: K_FORMAT, value: Buffer.from(FORMAT) }, { type: 'put', key: K_VERIFIER, value: checkVerifier(ring, null, VERIFIER_WHERE)! }]);
    } else if (format.toString() !== FORMAT) {
      throw new WatchlistError('WATCHLIST_IO', `the watch-list store in ${this.#o.dir} has format ${format.toString()}, this core reads ${FORMAT}`);
    } else {
      // DATA_KEY_WRONG / DATA_KEY_UNKNOWN_ID here, before any entry is read.
      const next = checkVerifier(ring, verifier, VERIFIER_WHERE);
      if (next) {
        // The verifier is under an older key: a rotation happened since the last open; values follow, the verifier last.
        await this.#resealAll('re-sealed watch-list values under the current data key');
        await this.#db.batch([{ type: 'put', key: K_VERIFIER, value: next }]);
      }
    }
    for (const [, v] of await readRange(this.#db, { gte: 'l!', lt: 'l~' })) {
      const l = JSON.parse(v!.toString('utf8')) as ListRec;
      this.#lists.set(l.id, l);
      this.#entries.set(l.id, new Map());
    }
    const loaded = (await readRange(this.#db, { gte: 'e!', lt: 'e~' })).map(([, v]) => JSON.parse(v!.toString('utf8')) as WatchEntry);
    loaded.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    // Every embedding in one ordered pass (v!<entry>!<n>), not one read per entry: a large list opens in seconds.
    const vectors = new Map<string, Float32Array[]>();
    for (const [k, b] of await readRange(this.#db, { gte: 'v!', lt: 'v~' })) {
      const entry = k.slice(2, k.lastIndexOf('!'));
      let list = vectors.get(entry);
      if (!list) vectors.set(entry, (list = []));
      list.push(toFloat32(this.#open(b!, k)));
    }
    for (const e of loaded) {
      const m = this.#entries.get(e.list);
      if (!m) continue;
      m.set(e.id, e as Mutable<WatchEntry>);
      if (e.kind === 'plate') this.#matcher.putPlate(e);
      else this.#matcher.putFace(e, vectors.get(e.id) ?? []);
    }
    await this.sweep();
  }

  /**
   * After a rotation of a running core's key: every value under an older key re-sealed under the current one, the
   * verifier last (between writes, on the store's chain). Resolves with whether anything was to do.
   */
  resealToCurrent(): Promise<boolean> {
    return this.#serial(async () => {
      const [verifier] = await this.#db.getMany([K_VERIFIER]);
      const next = checkVerifier(this.#o.dataKey, verifier, VERIFIER_WHERE);
      if (!next) return false;
      await this.#resealAll('re-sealed watch-list values under the rotated data key');
      await this.#db.batch([{ type: 'put', key: K_VERIFIER, value: next }]);
      return true;
    });
  }

  /** Re-seals values under an older key (after a rotation), 500 per batch; idempotent (the verifier goes last). */
  async #resealAll(what: string): Promise<void> {
    const ring = this.#o.dataKey;
    let n = 0;
    for (const prefix of SEALED_PREFIXES) {
      let after: string | null = null;
      for (;;) {
        const rows = await readRange(this.#db, { ...(after === null ? { gte: prefix } : { gt: after }), lt: `${prefix.slice(0, -1)}~`, limit: 500 });
        if (rows.length === 0) break;
        const ops: BatchOp[] = [];
        for (const [k, v] of rows) {
          if (!isSealed(v!)) ops.push({ type: 'put', key: k, value: ring.seal(v!, k) });
          else if (ring.needsReseal(v!)) ops.push({ type: 'put', key: k, value: ring.seal(ring.open(v!, k), k) });
        }
        if (ops.length) await this.#write(ops);
        n += ops.length;
        after = rows[rows.length - 1]![0];
      }
    }
    if (n) this.#o.log.info(`watchlist: ${what}`, { values: n });
  }

  #seal(plain: Uint8Array, key: string): Buffer {
    return this.#o.dataKey.seal(plain, key);
  }

  /** A sealed value opened; bound to its own key (a value copied under another key does not open). */
  #open(sealed: Buffer, key: string): Buffer {
    return this.#o.dataKey.open(sealed, key);
  }

  /** Runs `fn` after every write queued before it (one chain: writes land in call order). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#tail.then(() => {
      if (this.#closed) throw new WatchlistError('WATCHLIST_IO', 'the watch-list store is closed');
      return fn();
    });
    this.#tail = p.catch(() => undefined);
    return p;
  }

  async #write(ops: BatchOp[]): Promise<void> {
    try {
      await this.#db.batch(ops);
    } catch (cause) {
      throw new WatchlistError('WATCHLIST_IO', `the watch-list store could not be written: ${(cause as Error).message}`, { cause });
    }
  }

  async #get(keys: string[]): Promise<Array<Buffer | undefined>> {
    try {
      return await this.#db.getMany(keys);
    } catch (cause) {
      throw new WatchlistError('WATCHLIST_IO', `the watch-list store could not be read: ${(cause as Error).message}`, { cause });
    }
  }

  #view(l: ListRec): WatchList {
    return { ...l, entries: this.#entries.get(l.id)?.size ?? 0 };
  }

  #list(id: string, scope: Scope): ListRec | null {
    const l = this.#lists.get(id);
    return l && inScope(scope, l.department) ? l : null;
  }

  // ---- lists ----

  async createList(input: { name: string; department: string; kind: ListKind; note?: string }, actor: string): Promise<WatchList> {
    const name = text('name', input.name, 1, MAX_NAME);
    const department = text('department', input.department, 1, MAX_NAME);
    if (input.kind !== 'face' && input.kind !== 'plate') throw bad('kind', 'must be face or plate');
    const note = input.note === undefined ? '' : text('note', input.note, 0, MAX_NOTE);
    return this.#serial(async () => {
      const now = Date.now();
      const l: ListRec = { id: newId(), name, department, kind: input.kind, note, createdAt: now, createdBy: actor, updatedAt: now };
      await this.#write([{ type: 'put', key: listKey(l.id), value: Buffer.from(JSON.stringify(l)) }]);
      this.#lists.set(l.id, l);
      this.#entries.set(l.id, new Map());
      return this.#view(l);
    });
  }

  async lists(scope: Scope): Promise<WatchList[]> {
    return [...this.#lists.values()].filter((l) => inScope(scope, l.department)).sort((a, b) => a.createdAt - b.createdAt).map((l) => this.#view(l));
  }

  async list(id: string, scope: Scope): Promise<WatchList | null> {
    const l = this.#list(id, scope);
    return l ? this.#view(l) : null;
  }

  async updateList(id: string, patch: { name?: string; note?: string }, scope: Scope): Promise<WatchList | null> {
    const name = patch.name === undefined ? undefined : text('name', patch.name, 1, MAX_NAME);
    const note = patch.note === undefined ? undefined : text('note', patch.note, 0, MAX_NOTE);
    return this.#serial(async () => {
      const l = this.#list(id, scope);
      if (!l) return null;
      const next: ListRec = { ...l, ...(name !== undefined ? { name } : {}), ...(note !== undefined ? { note } : {}), updatedAt: Date.now() };
      await this.#write([{ type: 'put', key: listKey(id), value: Buffer.from(JSON.stringify(next)) }]);
      this.#lists.set(id, next);
      return this.#view(next);
    });
  }

  async deleteList(id: string, scope: Scope): Promise<boolean> {
    const l = this.#list(id, scope);
    if (!l) return false;
    const entries = this.#entries.get(id) ?? new Map();
    // Out of the matcher first: the entries stop matching now, not when the write lands.
    for (const e of entries.values()) this.#matcher.remove(e.id);
    this.#lists.delete(id);
    return this.#serial(async () => {
      const ops: BatchOp[] = [{ type: 'del', key: listKey(id) }];
      for (const e of entries.values()) ops.push(...(await this.#entryDeletes(e)));
      try {
        await this.#write(ops);
      } catch (err) {
        this.#lists.set(id, l);
        this.#restore(entries.values());
        throw err;
      }
      this.#entries.delete(id);
      return true;
    });
  }

  #restore(entries: Iterable<WatchEntry>): void {
    for (const e of entries) {
      if (e.kind === 'plate') this.#matcher.putPlate(e);
      else {
        const keys = e.photos.map((_, n) => vectorKey(e.id, n));
        void this.#get(keys).then((v) => this.#matcher.putFace(e, v.flatMap((b, i) => (b ? [toFloat32(this.#open(b, keys[i]!))] : []))));
      }
    }
  }

  async #entryDeletes(e: WatchEntry): Promise<BatchOp[]> {
    const ops: BatchOp[] = [{ type: 'del', key: entryKey(e.list, e.id) }];
    if (e.kind === 'face') for (let n = 0; n < e.photos.length; n++) ops.push({ type: 'del', key: photoKey(e.id, n) }, { type: 'del', key: vectorKey(e.id, n) });
    for (const [k] of await readRange(this.#db, { gte: `m!${e.id}!`, lt: `m!${e.id}~`, values: false })) ops.push({ type: 'del', key: k });
    return ops;
  }

  // ---- entries ----

  async addFaceEntry(listId: string, input: { label: string; note?: string; threshold?: number; expiresAt?: number | null; photos: readonly Uint8Array[] }, actor: string, scope: Scope): Promise<FaceEntry | null> {
    const l = this.#list(listId, scope);
    if (!l) return null;
    if (l.kind !== 'face') throw new WatchlistError('WATCHLIST_KIND_MISMATCH', `list "${listId}" holds plates: add a plate entry (JSON), not photos`, { detail: { list: listId, kind: l.kind } });
    const now = Date.now();
    const label = text('label', input.label, 1, MAX_NAME);
    const note = input.note === undefined ? '' : text('note', input.note, 0, MAX_NOTE);
    const thr = input.threshold === undefined ? DEFAULT_FACE_THRESHOLD : threshold(input.threshold);
    const expiresAt = input.expiresAt === undefined ? null : expiry(input.expiresAt, now);
    const n = input.photos.length;
    if (n < 1 || n > MAX_PHOTOS) throw bad('photo', `a face entry takes 1..${MAX_PHOTOS} photos (got ${n})`, { count: n });
    const embedder = this.#o.embedder;
    if (!embedder) throw new WatchlistError('WATCHLIST_NO_FACE', 'this core has no face embedder: face entries cannot be added');
    // Every photo is checked before anything is stored: one bad photo and the entry is not created.
    const photos: Array<{ jpeg: Buffer; embedding: Float32Array; box: { x: number; y: number; w: number; h: number }; quality: number }> = [];
    for (let i = 0; i < n; i++) {
      const which = `photo ${i + 1} of ${n}`;
      let found: Awaited<ReturnType<PhotoEmbedder['embedFacesFromImage']>>;
      try {
        found = await embedder.embedFacesFromImage(input.photos[i]!);
      } catch (err) {
        if (err instanceof CvcoreError) throw new (Object.getPrototypeOf(err).constructor as typeof CvcoreError)(err.code, `${which}: ${err.message}`, { cause: err, detail: { ...err.detail, photo: i } });
        throw err;
      }
      if (found.faces.length === 0) throw new WatchlistError('WATCHLIST_NO_FACE', `${which} holds no face (at least 20 px): use a photo with one clearly visible, roughly frontal face`, { detail: { photo: i } });
      if (found.faces.length > 1) {
        throw new WatchlistError('WATCHLIST_MANY_FACES', `${which} holds ${found.faces.length} faces: crop it to the one person`, { detail: { photo: i, count: found.faces.length, boxes: found.faces.map((f) => f.box) } });
      }
      const f = found.faces[0]!;
      let jpeg: Buffer;
      let info: OutputInfo;
      try {
        ({ data: jpeg, info } = await sharp(input.photos[i]!, { failOn: 'error' }).rotate()
          .resize({ width: PHOTO_MAX_SIDE, height: PHOTO_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
          .removeAlpha().jpeg({ quality: PHOTO_JPEG_QUALITY }).toBuffer({ resolveWithObject: true }));
      } catch (cause) {
        throw new WatchlistError('WATCHLIST_NO_FACE', `${which} cannot be re-encoded`, { cause, detail: { photo: i } });
      }
      // The embedder's boxes refer to the image it decoded; the stored photo may be smaller still.
      const k = info.width / found.width;
      const box = { x: Math.round(f.box.x * k), y: Math.round(f.box.y * k), w: Math.round(f.box.w * k), h: Math.round(f.box.h * k) };
      photos.push({ jpeg, embedding: f.embedding, box, quality: Math.round(f.quality * 1000) / 1000 });
    }
    return this.#serial(async () => {
      if (!this.#list(listId, scope)) return null;
      const t = Date.now();
      const e: FaceEntry = {
        kind: 'face', id: newId(), list: listId, department: l.department, label, note, expiresAt, createdAt: t, createdBy: actor, updatedAt: t,
        matches: 0, lastMatchAt: null, threshold: thr, photos: photos.map((p) => ({ box: p.box, quality: p.quality })),
      };
      const ops: BatchOp[] = [{ type: 'put', key: entryKey(listId, e.id), value: Buffer.from(JSON.stringify(e)) }];
      photos.forEach((p, i) => {
        ops.push({ type: 'put', key: photoKey(e.id, i), value: this.#seal(p.jpeg, photoKey(e.id, i)) });
        ops.push({ type: 'put', key: vectorKey(e.id, i), value: this.#seal(new Uint8Array(p.embedding.buffer, p.embedding.byteOffset, p.embedding.byteLength), vectorKey(e.id, i)) });
      });
      await this.#write(ops);
      this.#entries.get(listId)?.set(e.id, e as Mutable<FaceEntry>);
      this.#matcher.putFace(e, photos.map((p) => p.embedding));
      return e;
    });
  }

  async addPlateEntry(listId: string, input: { label: string; note?: string; plate: string; match?: 'exact' | 'fuzzy'; expiresAt?: number | null }, actor: string, scope: Scope): Promise<PlateEntry | null> {
    const l = this.#list(listId, scope);
    if (!l) return null;
    if (l.kind !== 'plate') throw new WatchlistError('WATCHLIST_KIND_MISMATCH', `list "${listId}" holds faces: add a face entry (photos as multipart/form-data), not a plate`, { detail: { list: listId, kind: l.kind } });
    const label = text('label', input.label, 1, MAX_NAME);
    const note = input.note === undefined ? '' : text('note', input.note, 0, MAX_NOTE);
    const expiresAt = input.expiresAt === undefined ? null : expiry(input.expiresAt, Date.now());
    const match = input.match ?? 'exact';
    if (match !== 'exact' && match !== 'fuzzy') throw bad('match', 'must be exact or fuzzy');
    if (typeof input.plate !== 'string') throw new WatchlistError('WATCHLIST_BAD_PLATE', 'plate must be a string', { detail: { field: 'plate' } });
    const plate = canonicalPlate(input.plate);
    if (plateFormat(plate) === null) throw new WatchlistError('WATCHLIST_BAD_PLATE', `not a mainland plate: ${whyNotPlate(input.plate, plate)}`, { detail: { field: 'plate', plate: input.plate } });
    return this.#serial(async () => {
      if (!this.#list(listId, scope)) return null;
      const t = Date.now();
      const e: PlateEntry = {
        kind: 'plate', id: newId(), list: listId, department: l.department, label, note, expiresAt, createdAt: t, createdBy: actor, updatedAt: t,
        matches: 0, lastMatchAt: null, plate, match,
      };
      await this.#write([{ type: 'put', key: entryKey(listId, e.id), value: Buffer.from(JSON.stringify(e)) }]);
      this.#entries.get(listId)?.set(e.id, e as Mutable<PlateEntry>);
      this.#matcher.putPlate(e);
      return e;
    });
  }

  async entries(listId: string, scope: Scope, page: { limit?: number; cursor?: string } = {}): Promise<Page<WatchEntry> | null> {
    if (!this.#list(listId, scope)) return null;
    const limit = pageLimit(page.limit);
    const all = [...(this.#entries.get(listId)?.values() ?? [])];
    let start = 0;
    if (page.cursor !== undefined) {
      // The cursor names the last entry handed out; if it has been removed since, its creation time still places it.
      const [at, id] = decodeCursor(page.cursor, 'e!').slice(2).split('!');
      const t = Number(at);
      start = all.findIndex((e) => e.createdAt > t || (e.createdAt === t && e.id > id!));
      if (start < 0) start = all.length;
    }
    const items = all.slice(start, start + limit);
    const last = items[items.length - 1];
    return { items, nextCursor: start + limit < all.length && last ? encodeCursor(`e!${last.createdAt}!${last.id}`) : null };
  }

  async entry(listId: string, entryId: string, scope: Scope): Promise<WatchEntry | null> {
    return this.#entry(listId, entryId, scope);
  }

  #entry(listId: string, entryId: string, scope: Scope): WatchEntry | null {
    if (!this.#list(listId, scope)) return null;
    return this.#entries.get(listId)?.get(entryId) ?? null;
  }

  async updateEntry(listId: string, entryId: string, patch: { label?: string; note?: string; threshold?: number; expiresAt?: number | null }, scope: Scope): Promise<WatchEntry | null> {
    const label = patch.label === undefined ? undefined : text('label', patch.label, 1, MAX_NAME);
    const note = patch.note === undefined ? undefined : text('note', patch.note, 0, MAX_NOTE);
    const thr = patch.threshold === undefined ? undefined : threshold(patch.threshold);
    const expiresAt = patch.expiresAt === undefined ? undefined : expiry(patch.expiresAt, Date.now());
    return this.#serial(async () => {
      const e = await this.entry(listId, entryId, scope);
      if (!e) return null;
      if (thr !== undefined && e.kind !== 'face') throw bad('threshold', 'applies to face entries only');
      const next = { ...e, ...(label !== undefined ? { label } : {}), ...(note !== undefined ? { note } : {}), ...(thr !== undefined ? { threshold: thr } : {}), ...(expiresAt !== undefined ? { expiresAt } : {}), updatedAt: Date.now() } as WatchEntry;
      await this.#write([{ type: 'put', key: entryKey(listId, entryId), value: Buffer.from(JSON.stringify(next)) }]);
      this.#entries.get(listId)?.set(entryId, next as Mutable<WatchEntry>);
      this.#matcher.update(entryId, { ...(thr !== undefined ? { threshold: thr } : {}), ...(expiresAt !== undefined ? { expiresAt } : {}) });
      return next;
    });
  }

  async removeEntry(listId: string, entryId: string, scope: Scope): Promise<boolean> {
    // Synchronous up to the matcher: the entry stops matching within this call, before its first await.
    const e = this.#entry(listId, entryId, scope);
    if (!e) return false;
    // Out of the matcher and the listing before anything else: it stops matching now.
    this.#matcher.remove(entryId);
    this.#entries.get(listId)?.delete(entryId);
    return this.#serial(async () => {
      try {
        await this.#write(await this.#entryDeletes(e));
      } catch (err) {
        this.#entries.get(listId)?.set(entryId, e as Mutable<WatchEntry>);
        this.#restore([e]);
        throw err;
      }
      return true;
    });
  }

  async entryPhoto(listId: string, entryId: string, n: number, scope: Scope): Promise<Uint8Array | null> {
    const e = await this.entry(listId, entryId, scope);
    if (!e || e.kind !== 'face' || !Number.isInteger(n) || n < 0 || n >= e.photos.length) return null;
    const [jpeg] = await this.#get([photoKey(entryId, n)]);
    return jpeg ? this.#open(jpeg, photoKey(entryId, n)) : null;
  }

  async entryMatches(listId: string, entryId: string, scope: Scope, page: { limit?: number; cursor?: string } = {}): Promise<Page<StoredAlarm> | null> {
    if (!(await this.entry(listId, entryId, scope))) return null;
    const limit = pageLimit(page.limit);
    const prefix = `m!${entryId}!`;
    const lt = page.cursor !== undefined ? decodeCursor(page.cursor, prefix) : `m!${entryId}~`;
    const rows = await readRange(this.#db, { gte: prefix, lt, reverse: true, limit: limit + 1 });
    const keys = rows.map(([k]) => k);
    const ids = rows.slice(0, limit).map(([, v]) => v!.toString('utf8'));
    const items = (await Promise.all(ids.map((id) => this.#alarmById(id)))).filter((a): a is StoredAlarm => a !== null);
    return { items, nextCursor: keys.length > limit ? encodeCursor(keys[limit - 1]!) : null };
  }

  // ---- the live path ----

  matchFace(department: string, embedding: Float32Array, at: number): ReturnType<WatchlistService['matchFace']> {
    return this.#matcher.matchFace(department, embedding, at);
  }

  bestOf(lists: readonly string[], embedding: Float32Array, at: number): ReturnType<WatchlistService['bestOf']> {
    return this.#matcher.bestOf(lists, embedding, at);
  }

  matchPlate(department: string, plate: string, at: number): ReturnType<WatchlistService['matchPlate']> {
    return this.#matcher.matchPlate(department, canonicalPlate(plate), at);
  }

  hasFaceEntries(department: string): boolean {
    return this.#matcher.hasFaceEntries(department, Date.now());
  }

  // ---- the alarm log ----

  async recordAlarm(alarm: AlarmV1, images: { snapshot: Uint8Array | null; face: Uint8Array | null }): Promise<void> {
    if (typeof alarm?.id !== 'string' || alarm.id.length === 0) throw new TypeError('alarm.id must be a non-empty string');
    if (!Number.isFinite(alarm.at)) throw new TypeError('alarm.at must be a time in ms');
    return this.#serial(async () => {
      // The live path may hand the same decision twice (a retry): the log keeps one.
      const [seen] = await this.#get([alarmIdKey(alarm.id)]);
      if (seen !== undefined) return;
      const key = alarmKey(alarm.at, alarm.id);
      const entry = alarm.kind === 'watchlist' ? this.#entries.get(alarm.list)?.get(alarm.entry) : undefined;
      // The label as it was when the entry matched: the log says what the investigator saw then.
      const stored: StoredAlarm = {
        alarm, state: 'open', handledBy: null, handledAt: null, handledNote: null, hasSnapshot: images.snapshot !== null, hasFace: images.face !== null,
        entryLabel: entry?.label ?? null,
      };
      const ops: BatchOp[] = [
        { type: 'put', key, value: Buffer.from(JSON.stringify(stored)) },
        { type: 'put', key: alarmIdKey(alarm.id), value: Buffer.from(key) },
      ];
      if (images.snapshot) ops.push({ type: 'put', key: snapKey(alarm.id), value: this.#seal(images.snapshot, snapKey(alarm.id)) });
      if (images.face) ops.push({ type: 'put', key: faceKey(alarm.id), value: this.#seal(images.face, faceKey(alarm.id)) });
      let counted: Mutable<WatchEntry> | undefined;
      if (alarm.kind === 'watchlist') {
        counted = entry;
        if (counted) {
          const next = { ...counted, matches: counted.matches + 1, lastMatchAt: Math.max(counted.lastMatchAt ?? 0, alarm.at) };
          ops.push({ type: 'put', key: entryKey(alarm.list, alarm.entry), value: Buffer.from(JSON.stringify(next)) });
          // The id is the value too: ids are free text (they may hold '!'), so the key is not parsed back.
          ops.push({ type: 'put', key: matchKey(alarm.entry, alarm.at, alarm.id), value: Buffer.from(alarm.id) });
          counted = next;
        }
      }
      await this.#write(ops);
      if (counted && alarm.kind === 'watchlist') this.#entries.get(alarm.list)?.set(alarm.entry, counted);
    });
  }

  async #alarmById(id: string): Promise<StoredAlarm | null> {
    const [key] = await this.#get([alarmIdKey(id)]);
    if (key === undefined) return null;
    const [v] = await this.#get([key.toString('utf8')]);
    return v === undefined ? null : (JSON.parse(v.toString('utf8')) as StoredAlarm);
  }

  async alarms(scope: Scope, q: AlarmQuery = {}): Promise<Page<StoredAlarm>> {
    const limit = pageLimit(q.limit);
    const lower = `a!${pad(q.from ?? 0)}`;
    let upper = q.to !== undefined ? `a!${pad(q.to)}!\uffff` : 'a!~';
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor, 'a!');
      if (c < upper) upper = c;
    }
    const items: StoredAlarm[] = [];
    let scanned = 0;
    let lastKey: string | null = null;
    const it = this.#db.iterator({ gte: lower, lt: upper, reverse: true });
    try {
      outer: for (;;) {
        const rows = await it.nextv(256);
        if (rows.length === 0) { lastKey = null; break; }
        for (const [k, v] of rows) {
          lastKey = k;
          scanned++;
          const a = JSON.parse(v!.toString('utf8')) as StoredAlarm;
          if (inScope(scope, a.alarm.department) && (!q.kind || a.alarm.kind === q.kind) && (!q.state || a.state === q.state) && (!q.camera || a.alarm.camera === q.camera)) {
            items.push(a);
            if (items.length === limit) break outer;
          }
          if (scanned >= ALARM_SCAN_BUDGET) break outer;
        }
      }
    } catch (cause) {
      throw new WatchlistError('WATCHLIST_IO', `the alarm log could not be read: ${(cause as Error).message}`, { cause });
    } finally {
      await it.close();
    }
    // A full page (or a spent budget) may have more behind it; the cursor is the last key read.
    return { items, nextCursor: lastKey !== null && (items.length === limit || scanned >= ALARM_SCAN_BUDGET) ? encodeCursor(lastKey) : null };
  }

  async alarm(id: string, scope: Scope): Promise<StoredAlarm | null> {
    const a = await this.#alarmById(id);
    return a && inScope(scope, a.alarm.department) ? a : null;
  }

  async alarmImage(id: string, which: 'snapshot' | 'face', scope: Scope): Promise<Uint8Array | null> {
    if (!(await this.alarm(id, scope))) return null;
    const key = which === 'snapshot' ? snapKey(id) : faceKey(id);
    const [b] = await this.#get([key]);
    return b ? this.#open(b, key) : null;
  }

  async setAlarmState(id: string, state: 'acknowledged' | 'dismissed', by: string, note: string | null, scope: Scope): Promise<StoredAlarm | null> {
    if (state !== 'acknowledged' && state !== 'dismissed') throw bad('state', 'must be acknowledged or dismissed');
    const n = note === null ? null : text('note', note, 0, MAX_NOTE);
    return this.#serial(async () => {
      const a = await this.alarm(id, scope);
      if (!a) return null;
      if (a.state === 'dismissed') throw new WatchlistError('WATCHLIST_ALARM_FINAL', `alarm "${id}" was dismissed by ${a.handledBy ?? '?'}; a dismissed alarm does not change`, { detail: { state: a.state } });
      // Acknowledging twice keeps the first acknowledgement (who saw it first is what matters).
      if (a.state === state) return a;
      const next: StoredAlarm = { ...a, state, handledBy: by, handledAt: Date.now(), handledNote: n };
      await this.#write([{ type: 'put', key: alarmKey(a.alarm.at, id), value: Buffer.from(JSON.stringify(next)) }]);
      return next;
    });
  }

  // ---- erasure (api/routes-erasures.ts) ----

  /**
   * Face entries of lists in scope with a photo the embedding matches at the entry's own threshold, expired
   * entries included (an erasure must find them too).
   */
  faceEntriesMatching(embedding: Float32Array, scope: Scope): FaceHit[] {
    const departments = new Set([...this.#lists.values()].filter((l) => l.kind === 'face' && inScope(scope, l.department)).map((l) => l.department));
    return [...departments].flatMap((d) => this.#matcher.matchFace(d, embedding, Number.NEGATIVE_INFINITY));
  }

  /**
   * Alarms in scope raised by one of the tracks, or (frequency) counting one among their appearances, or matching
   * one of the entries: deleted with their frame, face crop and entry-history keys, as retention deletes them
   * (nothing when `dryRun`). Their ids.
   */
  async eraseAlarmsOf(trackIds: readonly string[], scope: Scope, dryRun: boolean, entryIds: readonly string[] = []): Promise<string[]> {
    const tracks = new Set(trackIds);
    const entries = new Set(entryIds);
    return this.#serial(async () => {
      const ops: BatchOp[] = [];
      const ids: string[] = [];
      // 'a!' up to 'a"': the log lines only, not the af!/ai!/as! keys beside them.
      await scanRange(this.#db, { gte: 'a!', lt: 'a"' }, (k, v) => {
        const a = JSON.parse(v!.toString('utf8')) as StoredAlarm;
        const about = tracks.has(a.alarm.track) || (a.alarm.kind === 'frequency' && a.alarm.appearances.some((p) => tracks.has(p.track))) || (a.alarm.kind === 'watchlist' && entries.has(a.alarm.entry));
        if (!about || !inScope(scope, a.alarm.department)) return;
        ids.push(a.alarm.id);
        ops.push(...alarmDeletes(k, a));
      });
      if (!dryRun && ops.length > 0) await this.#write(ops);
      return ids;
    });
  }

  /** Deletes alarms older than the retention, with their images and entry-history keys; returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    const cutoff = `a!${pad(now - this.#retention)}`;
    let swept = 0;
    for (;;) {
      const rows = await readRange(this.#db, { gte: 'a!', lt: cutoff, limit: 500 });
      if (rows.length === 0) break;
      const ops: BatchOp[] = [];
      for (const [k, v] of rows) ops.push(...alarmDeletes(k, JSON.parse(v!.toString('utf8')) as StoredAlarm));
      await this.#serial(() => this.#write(ops));
      swept += rows.length;
    }
    if (swept) this.#o.log.info('watchlist: swept old alarms', { count: swept });
    return swept;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer) clearInterval(this.#timer);
    await this.#tail;
    this.#closed = true;
    await this.#db.close();
  }
}

/** Every key an alarm owns: the log line, its id lookup, its images and its entry-history key. */
function alarmDeletes(key: string, a: StoredAlarm): BatchOp[] {
  const ops: BatchOp[] = [{ type: 'del', key }, { type: 'del', key: alarmIdKey(a.alarm.id) }, { type: 'del', key: snapKey(a.alarm.id) }, { type: 'del', key: faceKey(a.alarm.id) }];
  if (a.alarm.kind === 'watchlist') ops.push({ type: 'del', key: matchKey(a.alarm.entry, a.alarm.at, a.alarm.id) });
  return ops;
}

/**
 * Migration of a format-1 (clear) store: every key copied into `<dir>.sealing` with photos, embeddings and alarm
 * images sealed, the verifier and format 2 written last; then `<dir>` -> `<dir>.clear`, `<dir>.sealing` -> `<dir>`,
 * and the clear copy removed. `db` (open on `dir`) is closed. A crash at any step is finished by the next open.
 */
async function migrateClearStore(db: RocksDb, dir: string, ring: DataKeyring): Promise<void> {
  const tmp = `${dir}.sealing`;
  await rm(tmp, { recursive: true, force: true });
  const out = createRocks(tmp);
  await out.open({ createIfMissing: true });
  try {
    const it = db.iterator({});
    try {
      for (;;) {
        const rows = await it.nextv(500);
        if (rows.length === 0) break;
        const ops: BatchOp[] = [];
        for (const [k, v] of rows) {
          if (k === K_FORMAT || k === K_VERIFIER) continue;
          const seal = SEALED_PREFIXES.some((p) => k.startsWith(p)) && !isSealed(v!);
          ops.push({ type: 'put', key: k, value: seal ? ring.seal(v!, k) : v! });
        }
        if (ops.length) await out.batch(ops);
      }
    } finally {
      await it.close();
    }
    await out.batch([{ type: 'put', key: K_VERIFIER, value: checkVerifier(ring, null, VERIFIER_WHERE)! }, { type: 'put', key: K_FORMAT, value: Buffer.from(FORMAT) }], { sync: true });
  } finally {
    await out.close();
    await db.close();
  }
  await rename(dir, `${dir}.clear`);
  await rename(tmp, dir);
  await rm(`${dir}.clear`, { recursive: true, force: true });
}

/** Finishes a migration a crash interrupted (see migrateClearStore). */
async function finishMigration(dir: string): Promise<void> {
  const has = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);
  const [d, tmp, clear] = await Promise.all([has(dir), has(`${dir}.sealing`), has(`${dir}.clear`)]);
  if (!d && tmp && clear) await rename(`${dir}.sealing`, dir);
  else if (d && tmp) await rm(`${dir}.sealing`, { recursive: true, force: true });
  if (clear && (await has(dir))) await rm(`${dir}.clear`, { recursive: true, force: true });
}

export function openWatchlists(o: WatchlistStoreOptions): Promise<WatchlistStore> {
  return WatchlistStore.open(o);
}

/**
 * Sealed values per data key id in a stopped core's watch-list store (photos, embeddings, alarm images, the
 * verifier), for `cvcore keys status` and `retire`: it reads headers and decrypts nothing. A running core holds
 * the store: WATCHLIST_IO.
 */
export async function watchlistDataKeyUsage(dir: string): Promise<Record<string, number>> {
  const db = createRocks(dir);
  try {
    await db.open({ createIfMissing: false });
  } catch (cause) {
    throw new WatchlistError('WATCHLIST_IO', `the watch-list store in ${dir} cannot be opened (a running core holds it): ${(cause as Error).message}`, { cause, detail: { dir } });
  }
  const out: Record<string, number> = {};
  try {
    await scanRange(db, {}, (_k, v) => {
      const id = v ? sealedKeyId(v) : null;
      if (id !== null) out[id] = (out[id] ?? 0) + 1;
    });
  } finally {
    await db.close();
  }
  return out;
}
