/**
 * `cvcore keys`: the data key file that seals biometric data at rest (common/data-key.ts). init makes one,
 * rotate adds a key (in two steps for a cluster: --stage on every node, then --promote on every node), status
 * shows the keys and how many sealed values of each store (index, watch-lists, recordings, exports) each one seals,
 * retire drops a key nothing uses.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DATA_KEY_ENV, DEFAULT_DATA_KEY_FILE, initDataKeyFile, loadDataKeyring, retireDataKey, rotateDataKeyFile,
} from '../../common/data-key.js';
import { DataKeyError, IndexError } from '../../common/errors.js';
import { loadConfig } from '../../config/index.js';
import { DEFAULTS } from '../../config/defaults.js';
import { DATA_KEY_STATUS_FILE, indexDataKeyUsage, type IndexDataKeyUsage } from '../../search-index/index.js';
import { watchlistDataKeyUsage } from '../../watchlist/index.js';
import { recordingDataKeyUsage } from '../../recording/index.js';
import { exportsDataKeyUsage } from '../../evidence/index.js';
import { STORES_KEY_STATUS_FILE, type StoresKeyStatus } from '../../runtime/data-key.js';
import type { Command } from '../command.js';
import { reportApiCommandError } from '../http.js';

const USAGE = [
  'cvcore keys init [--file F]                           make a new data key file (mode 0600; never replaces one)',
  '       cvcore keys rotate [--file F] [--stage | --promote ID]   add a key and make it current (--stage: add only; --promote: make a staged key current)',
  '       cvcore keys status [--data-dir D | --config F] [--file F] [--json]   key ids, current, fingerprints, sealed values of each store under each id',
  '       cvcore keys retire ID [--file F] [--data-dir D | --config F]   drop a key (refused while any store holds values under it)',
  `  the file: --file, else $${DATA_KEY_ENV}, else the config's dataKey.file, else <data folder>/${DEFAULT_DATA_KEY_FILE}`,
  `  the data folder: --data-dir, else the config's dataDir, else ${DEFAULTS.dataDir}`,
].join('\n');

const OPTIONS = {
  file: { type: 'string' },
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  stage: { type: 'boolean', default: false },
  promote: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parse>['values'];
const parse = (args: string[]) => parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
const out = (s: string): boolean => process.stdout.write(s + '\n');

async function where(v: Values): Promise<{ file: string; dataDir: string }> {
  if (v['data-dir'] !== undefined && v.config !== undefined) throw new RangeError('give --data-dir or --config, not both');
  const config = v.config !== undefined ? await loadConfig(v.config) : null;
  const dataDir = resolve(v['data-dir'] ?? config?.dataDir ?? DEFAULTS.dataDir);
  const file = v.file ?? process.env[DATA_KEY_ENV] ?? config?.dataKey.file ?? join(dataDir, DEFAULT_DATA_KEY_FILE);
  return { file: resolve(file), dataDir };
}

/** The index's values per key id: from the folder of a stopped core, else from the running core's status file. */
async function indexUsage(dataDir: string): Promise<{ usage: IndexDataKeyUsage | null; running: Record<string, unknown> | null; why: string | null }> {
  const dir = join(dataDir, 'index');
  if (!existsSync(join(dir, 'db', 'CURRENT'))) return { usage: null, running: null, why: `no index in ${dataDir}` };
  try {
    return { usage: await indexDataKeyUsage(dir), running: null, why: null };
  } catch (err) {
    if (!(err instanceof IndexError)) throw err;
    let running: Record<string, unknown> | null = null;
    try {
      running = JSON.parse(readFileSync(join(dir, DATA_KEY_STATUS_FILE), 'utf8')) as Record<string, unknown>;
    } catch {
      running = null;
    }
    return { usage: null, running, why: `the index is held by a running core (${err.message.split(':')[0]})` };
  }
}

/**
 * The other stores' sealed values per key id: watch-lists (RocksDB: only when no core holds it), recordings and
 * exports (file headers: also beside a running core), and the running core's own word on its re-seal.
 */
interface StoresUsage {
  readonly stores: Record<'watchlists' | 'recordings' | 'exports', Record<string, number> | null>;
  /** Stores a running core holds (their RocksDB part could not be counted here). */
  readonly held: string[];
  readonly running: StoresKeyStatus | null;
}

async function storesUsage(dataDir: string): Promise<StoresUsage> {
  const held: string[] = [];
  let watchlists: Record<string, number> | null = {};
  if (existsSync(join(dataDir, 'watchlists', 'CURRENT'))) {
    try {
      watchlists = await watchlistDataKeyUsage(join(dataDir, 'watchlists'));
    } catch {
      watchlists = null;
      held.push('watchlists');
    }
  }
  const rec = await recordingDataKeyUsage(join(dataDir, 'recordings'));
  const recordings = { ...rec.files };
  if (rec.verifier === 'held') held.push('recordings');
  else if (rec.verifier !== null) recordings[rec.verifier] = (recordings[rec.verifier] ?? 0) + 1;
  const exports = await exportsDataKeyUsage(dataDir);
  let running: StoresKeyStatus | null = null;
  try {
    running = JSON.parse(readFileSync(join(dataDir, STORES_KEY_STATUS_FILE), 'utf8')) as StoresKeyStatus;
  } catch {
    running = null;
  }
  return { stores: { watchlists, recordings, exports }, held, running };
}

async function status(v: Values): Promise<number> {
  const { file, dataDir } = await where(v);
  const ring = await loadDataKeyring(file);
  const { usage, running, why } = await indexUsage(dataDir);
  const other = await storesUsage(dataDir);
  const keys = ring.ids.map((id) => ({
    id, current: id === ring.currentId, fingerprint: ring.fingerprint(id), indexValues: usage ? usage.values[id] ?? 0 : null,
    ...Object.fromEntries(Object.entries(other.stores).map(([name, u]) => [name, u ? u[id] ?? 0 : null])),
  }));
  const unknown = usage ? Object.keys(usage.values).filter((id) => !ring.ids.includes(id)) : [];
  if (v.json) {
    out(JSON.stringify({
      file: ring.path, current: ring.currentId, keys, index: usage ? { values: usage.values, reseal: usage.reseal, unknownIds: unknown } : null, running, note: why,
      stores: other.stores, heldByRunningCore: other.held, storesReseal: other.running,
    }, null, 2));
    return 0;
  }
  out(`key file ${ring.path}`);
  for (const k of keys) out(`  ${k.current ? '*' : ' '} ${k.id.padEnd(12)} ${k.fingerprint}  ${k.indexValues === null ? '' : `${k.indexValues} index values`}`);
  if (usage) {
    const r = usage.reseal;
    if (r) out(`  re-seal: ${r.done && r.target === ring.currentId ? 'done' : `in progress towards ${r.target} (${r.resealed} values so far, at ${JSON.stringify(r.after)})`}`);
    for (const id of unknown) out(`  WARNING: ${usage.values[id]} index values are sealed under ${id}, which this file does not hold (DATA_KEY_UNKNOWN_ID when read)`);
  } else {
    out(`  index: ${why}`);
    if (running) out(`  the running core's re-seal: ${running['done'] ? 'done' : 'in progress'} towards ${String(running['target'])} (${String(running['resealed'])} values, as of ${String(running['at'])})`);
  }
  for (const [name, u] of Object.entries(other.stores)) {
    if (u === null) { out(`  ${name}: held by a running core`); continue; }
    const ids = Object.keys(u).sort();
    out(`  ${name}: ${ids.length === 0 ? 'nothing sealed' : ids.map((id) => `${u[id]} under ${id}${ring.ids.includes(id) ? '' : ' (NOT IN THIS FILE: DATA_KEY_UNKNOWN_ID when read)'}`).join(', ')}`);
  }
  const r = other.running;
  if (r) out(`  the core's stores, as it last wrote: ${r.done ? 'done' : 'in progress'} towards ${r.target} (${Object.entries(r.stores).map(([k, x]) => `${k} ${x}`).join(', ')}; as of ${new Date(r.at).toISOString()})`);
  return 0;
}

async function retire(id: string | undefined, v: Values): Promise<number> {
  if (!id) throw new RangeError('give the key id to retire');
  const { file, dataDir } = await where(v);
  const ring = await loadDataKeyring(file);
  const { usage, running } = await indexUsage(dataDir);
  const inUse = (n: number, how: string): DataKeyError =>
    new DataKeyError('DATA_KEY_IN_USE', `${n > 0 ? `${n} values of ${join(dataDir, 'index')} are` : 'values may be'} still sealed under ${id} (${how}); let the re-seal finish (\`cvcore keys status\`) first`, { detail: { file: ring.path, keyId: id } });
  if (usage) {
    const n = usage.values[id] ?? 0;
    if (n > 0) throw inUse(n, 'counted in the stopped index');
  } else if (running) {
    // A running core: its sweep must be done towards another key than this one.
    if (!(running['done'] === true && running['target'] === ring.currentId && running['target'] !== id)) throw inUse(0, 'the running core\'s re-seal is not done');
  }
  // The other stores: a value or verifier still under the key, counted here, or a running core not done.
  const other = await storesUsage(dataDir);
  for (const [name, u] of Object.entries(other.stores)) {
    const n = u?.[id] ?? 0;
    if (n > 0) throw new DataKeyError('DATA_KEY_IN_USE', `${n} sealed values of the ${name} in ${dataDir} are still under ${id}; a running core re-seals them after a rotation, a stopped one at its next start (\`cvcore keys status\`)`, { detail: { file: ring.path, keyId: id, store: name } });
  }
  if (other.held.length > 0) {
    const r = other.running;
    if (!(r && r.done && r.target === ring.currentId && r.target !== id)) {
      throw new DataKeyError('DATA_KEY_IN_USE', `the running core has not finished re-sealing its ${other.held.join(' and ')} under ${ring.currentId}; wait for it (\`cvcore keys status\`)`, { detail: { file: ring.path, keyId: id, store: other.held.join(',') } });
    }
  }
  await retireDataKey(file, id);
  out(`retired ${id} from ${ring.path}; keep a backup of the old file until backups sealed under it have expired`);
  return 0;
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'the data key that seals biometric data at rest: init, rotate (--stage/--promote for a cluster), status, retire',
  usage: USAGE,
  async run(args) {
    const [sub, ...rest] = args;
    try {
      const { values: v, positionals } = parse(rest);
      if (sub === 'init') {
        if (positionals.length > 0) throw new RangeError(`unexpected ${positionals.join(' ')}`);
        const r = await initDataKeyFile((await where(v)).file);
        out(v.json ? JSON.stringify(r) : `made ${r.path} (key ${r.id}, fingerprint ${r.fingerprint}); back it up off this machine: without it the sealed data cannot be read`);
        return 0;
      }
      if (sub === 'rotate') {
        if (v.stage && v.promote !== undefined) throw new RangeError('give --stage or --promote, not both');
        const r = await rotateDataKeyFile((await where(v)).file, { stage: v.stage, ...(v.promote !== undefined ? { promote: v.promote } : {}) });
        if (v.json) out(JSON.stringify(r));
        else if (v.stage) out(`staged ${r.id} (fingerprint ${r.fingerprint}); current stays ${r.previous}. When every node holds it: cvcore keys rotate --promote ${r.id}`);
        else out(`current key ${r.id} (fingerprint ${r.fingerprint}), was ${r.previous}; a running core reloads the file within seconds (or on SIGHUP) and re-seals older values in the background`);
        return 0;
      }
      if (sub === 'status') return await status(v);
      if (sub === 'retire') return await retire(positionals[0], v);
      process.stderr.write(`usage: ${USAGE}\n`);
      return 2;
    } catch (err) {
      return reportApiCommandError(err, USAGE);
    }
  },
};
