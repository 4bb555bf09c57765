/**
 * The node's exports: zips in `<dataDir>/exports/` and their index, a JSON-lines file beside them
 * (`index.jsonl`: one `put`, `hold` or `del` per line, appended and fsynced), replayed on open so exports survive
 * a restart. A torn last line (a crash mid-append) is skipped. Retention removes an export `retentionDays`
 * after it was made unless it is under a legal hold; the index is rewritten (temp file, rename) when it has
 * more dead lines than live ones.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkVerifier, type DataKeyring } from '../common/data-key.js';
import { EvidenceError } from '../common/errors.js';
import { isSealedFile, openSealedFile, resealFileHeader, sealFile, sealedFilesUsage, type SealedFile } from '../common/sealed-file.js';
import type { Logger } from '../common/log.js';
import { buildExport, syncDir } from './export.js';
import { loadNodeKey, type NodeKey } from '../common/node-key.js';
import type { ExportFileInput, ExportInfo, ExportManifest } from './types.js';

export const EXPORTS_DIR = 'exports';
const INDEX_FILE = 'index.jsonl';
const VERIFIER_FILE = 'data-key.verifier';
const DAY_MS = 86_400_000;

/** A legal hold on an export: kept beyond retention until released. */
export interface ExportHold {
  readonly note: string;
  readonly by: string;
  readonly at: number;
}

/** ExportInfo as the store keeps it, with its hold (null: none). */
export interface StoredExport extends ExportInfo {
  readonly hold: ExportHold | null;
}

export interface ExportLimits {
  readonly maxTracks: number;
  readonly maxCameras: number;
  readonly maxRangeMs: number;
}

export interface CreateExportInput {
  readonly createdBy: string;
  readonly departments: readonly string[];
  readonly request: Readonly<Record<string, unknown>>;
  readonly files: readonly ExportFileInput[];
  /** Digests some files must have (a clip's, from the recorder); see BuildExportOptions.expect. */
  readonly expect?: ReadonlyMap<string, string>;
}

export interface ExportStore {
  readonly node: string;
  readonly key: NodeKey;
  readonly limits: ExportLimits;
  readonly retentionDays: number;
  create(input: CreateExportInput): Promise<StoredExport & { readonly manifest: ExportManifest }>;
  get(id: string): StoredExport | null;
  /**
   * The clear bytes of a stored export's zip, sealed at rest: `size` and a `read(range)` that opens only the
   * chunks of the range. null when there is no such export or its file is gone; DATA_KEY_* when it does not open.
   */
  open(id: string): Promise<SealedFile | null>;
  /** Newest first. */
  list(): StoredExport[];
  /** Sets (note) or releases (null) an export's legal hold; null when there is no such export. */
  setHold(id: string, note: string | null, by: string): Promise<StoredExport | null>;
  /** Removes exports past retention and not held; returns the ids removed. Also runs on a timer. */
  sweep(now?: number): Promise<string[]>;
  /**
   * After a rotation of a running core's data key: each zip's header re-sealed under the current key, then the
   * verifier. Resolves with whether anything was to do.
   */
  resealToCurrent(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenExportsOptions {
  readonly dataDir: string;
  readonly node: string;
  readonly retentionDays: number;
  readonly limits: ExportLimits;
  readonly log?: Logger;
  /** The data key ring the zips are sealed with at rest (required: an export holds video of people). */
  readonly dataKey: DataKeyring;
  /** Retention sweep interval; 0: none (tests call sweep). Default an hour. */
  readonly sweepIntervalMs?: number;
}

type Line = { op: 'put'; info: StoredExport } | { op: 'hold'; id: string; hold: ExportHold | null } | { op: 'del'; id: string };

/** What an export zip's sealed file key is bound to (its id: the data folder may move). */
export const exportWhere = (id: string): string => `export:${id}`;
const ID = /^exp-[0-9a-z]+-[0-9a-f]{8}$/;
/** Zips written at once; more requests wait their turn (each streams clips from disk and hashes them twice). */
export const MAX_CONCURRENT_BUILDS = 2;

export async function openExports(o: OpenExportsOptions): Promise<ExportStore> {
  if (!Number.isInteger(o.retentionDays) || o.retentionDays < 1) throw new RangeError('openExports: retentionDays must be a positive integer');
  if (!o.dataKey || typeof o.dataKey.seal !== 'function') throw new TypeError('openExports: dataKey (a DataKeyring) is required: export zips are sealed at rest');
  const key = await loadNodeKey(o.dataDir);
  const dir = join(o.dataDir, EXPORTS_DIR);
  await ioStep(`cannot create ${dir}`, () => mkdir(dir, { recursive: true, mode: 0o700 }));
  const indexPath = join(dir, INDEX_FILE);
  // The data key verifier beside the index: a ring that cannot open it refuses before any export is listed.
  const verifierPath = join(dir, VERIFIER_FILE);
  const stored = await readFile(verifierPath).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return null; throw err; });
  const nextVerifier = checkVerifier(o.dataKey, stored, 'exports');
  const byId = new Map<string, StoredExport>();
  let lines = 0;

  const text = await ioStep(`cannot read ${indexPath}`, async () => {
    try { return await readFile(indexPath, 'utf8'); } catch (err) { if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''; throw err; }
  });
  if (text.length > 0 && !text.endsWith('\n')) {
    // A torn last line: cut it off, or the next append would be glued to it and lost with it.
    const keep = text.lastIndexOf('\n') + 1;
    o.log?.warn('exports: dropped a torn last line of the index (a crash mid-append)', { file: indexPath });
    await ioStep(`cannot repair ${indexPath}`, () => truncate(indexPath, Buffer.byteLength(text.slice(0, keep), 'utf8')));
  }
  const rows = text.split('\n');
  rows.forEach((row, i) => {
    if (!row) return;
    let l: Line;
    try {
      l = JSON.parse(row) as Line;
    } catch {
      if (i < rows.length - 1) o.log?.warn('exports: skipped an index line that does not parse', { line: i + 1, file: indexPath });
      return;
    }
    lines++;
    // The path is where the zip is now (a data folder can move), not where it was written.
    if (l.op === 'put') byId.set(l.info.id, { ...l.info, path: join(dir, `${l.info.id}.zip`) });
    else if (l.op === 'del') byId.delete(l.id);
    else if (l.op === 'hold') { const e = byId.get(l.id); if (e) byId.set(l.id, { ...e, hold: l.hold }); }
  });

  // Appends are serialised: one fd, one line at a time, fsynced before the caller hears of it.
  let chain: Promise<unknown> = Promise.resolve();
  const append = (l: Line): Promise<void> => {
    const p = chain.then(async () => {
      const fh = await open(indexPath, 'a', 0o600);
      try {
        await fh.write(JSON.stringify(l) + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
      lines++;
    });
    chain = p.catch(() => undefined);
    return ioStep(`cannot write ${indexPath}`, () => p);
  };
  const compact = (): Promise<void> => {
    const p = chain.then(async () => {
      const tmp = `${indexPath}.tmp`;
      const live = [...byId.values()].sort((a, b) => a.createdAt - b.createdAt);
      await writeFile(tmp, live.map((info) => JSON.stringify({ op: 'put', info }) + '\n').join(''), { mode: 0o600 });
      const fh = await open(tmp, 'r');
      try { await fh.sync(); } finally { await fh.close(); }
      await rename(tmp, indexPath);
      await syncDir(dir);
      lines = live.length;
    });
    chain = p.catch(() => undefined);
    return ioStep(`cannot rewrite ${indexPath}`, () => p);
  };

  let building = 0;
  const waiting: (() => void)[] = [];
  // A finished build hands its slot straight to the next in line, so a newcomer cannot slip in between.
  const slot = async (): Promise<() => void> => {
    if (building < MAX_CONCURRENT_BUILDS) building++;
    else await new Promise<void>((r) => waiting.push(r));
    return () => { const next = waiting.shift(); if (next) next(); else building--; };
  };

  const store: ExportStore = {
    node: o.node, key, limits: o.limits, retentionDays: o.retentionDays,
    async create(input) {
      const createdAt = Date.now();
      const id = `exp-${createdAt.toString(36)}-${randomBytes(4).toString('hex')}`;
      const release = await slot();
      let built: Awaited<ReturnType<typeof buildExport>>;
      try {
        built = await buildExport({ dir, id, node: o.node, createdBy: input.createdBy, createdAt, request: input.request, files: input.files, key, seal: { ring: o.dataKey, where: exportWhere(id) }, ...(input.expect ? { expect: input.expect } : {}) });
      } finally {
        release();
      }
      const info: StoredExport = {
        id, createdAt, createdBy: input.createdBy, departments: [...new Set(input.departments)].sort(), request: input.request,
        bytes: built.bytes, files: built.entries, sha256: built.sha256, path: built.path, hold: null,
      };
      try {
        await append({ op: 'put', info });
      } catch (err) {
        await unlink(built.path).catch(() => undefined);
        throw err;
      }
      byId.set(id, info);
      return { ...info, manifest: built.manifest };
    },
    get: (id) => (ID.test(id) ? byId.get(id) ?? null : null),
    async open(id) {
      const e = store.get(id);
      if (!e) return null;
      try {
        return await openSealedFile(o.dataKey, e.path, exportWhere(e.id));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    list: () => [...byId.values()].sort((a, b) => b.createdAt - a.createdAt),
    async setHold(id, note, by) {
      const e = store.get(id);
      if (!e) return null;
      const hold = note === null ? null : { note, by, at: Date.now() };
      await append({ op: 'hold', id, hold });
      const next = { ...e, hold };
      byId.set(id, next);
      return next;
    },
    async sweep(now = Date.now()) {
      const cutoff = now - o.retentionDays * DAY_MS;
      const removed: string[] = [];
      for (const e of [...byId.values()]) {
        if (e.createdAt >= cutoff || e.hold) continue;
        await append({ op: 'del', id: e.id });
        byId.delete(e.id);
        await unlink(e.path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') o.log?.warn('exports: cannot remove an expired zip', { id: e.id, err }); });
        removed.push(e.id);
      }
      if (lines > 2 * byId.size + 16) await compact();
      if (removed.length) o.log?.info('exports: retention removed exports', { removed: removed.length });
      return removed;
    },
    resealToCurrent() {
      const p = chain.then(async () => {
        const current = await readFile(verifierPath).catch(() => null);
        const next = checkVerifier(o.dataKey, current, 'exports');
        if (!next) return false;
        for (const e of byId.values()) {
          if (await isSealedFile(e.path).catch(() => false)) await ioStep(`cannot re-seal ${e.path}`, () => resealFileHeader(o.dataKey, e.path, exportWhere(e.id)));
        }
        await ioStep(`cannot write ${verifierPath}`, () => writeFile(verifierPath, next, { mode: 0o600 }));
        return true;
      });
      chain = p.catch(() => undefined);
      return p;
    },
    async close() {
      if (timer) clearInterval(timer);
      await chain;
    },
  };
  // A folder from before sealing (no verifier until now): its clear zips are sealed in place, before any is
  // served. After a key rotation (the verifier under an older key): each zip's header is re-sealed under the new one.
  if (nextVerifier) {
    for (const e of byId.values()) {
      const sealed = await isSealedFile(e.path).catch(() => null);
      if (sealed === null) continue;
      if (sealed) await ioStep(`cannot re-seal ${e.path}`, () => resealFileHeader(o.dataKey, e.path, exportWhere(e.id)));
      else await ioStep(`cannot seal ${e.path}`, () => sealFile(o.dataKey, e.path, e.path, exportWhere(e.id)));
    }
  }
  // Written after the migration: an interrupted one runs again at the next open.
  if (nextVerifier) await ioStep(`cannot write ${verifierPath}`, () => writeFile(verifierPath, nextVerifier, { mode: 0o600 }));
  // Zips whose index line never made it (a crash between rename and append) are not exports: nobody can see them.
  await removeOrphans(dir, byId);
  const every = o.sweepIntervalMs ?? 3_600_000;
  const timer = every > 0 ? setInterval(() => { store.sweep().catch((err: unknown) => o.log?.warn('exports: retention sweep failed', { err: err as Error })); }, every) : null;
  timer?.unref();
  return store;
}

async function removeOrphans(dir: string, byId: Map<string, StoredExport>): Promise<void> {
  const known = new Set([...byId.values()].map((e) => `${e.id}.zip`));
  for (const name of await readdir(dir)) {
    if ((name.endsWith('.zip') && !known.has(name)) || (name.startsWith('.') && name.endsWith('.tmp'))) {
      const p = join(dir, name);
      if ((await stat(p)).isFile()) await unlink(p).catch(() => undefined);
    }
  }
}

async function ioStep<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof EvidenceError) throw err;
    throw new EvidenceError('EVIDENCE_IO', `exports: ${what} (${(err as Error).message})`, { cause: err });
  }
}

/** Sealed zips and the verifier per data key id in a data folder's exports (headers only, nothing decrypted): for `cvcore keys`. */
export function exportsDataKeyUsage(dataDir: string): Promise<Record<string, number>> {
  return sealedFilesUsage(join(dataDir, EXPORTS_DIR));
}
