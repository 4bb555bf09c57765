/**
 * The core's data key ring (common/data-key.ts), opened once at start and handed to every store that seals
 * biometric data (the search index; the watch-list store, recordings and exports). It follows the key file:
 * A change of the file (polled) reloads it, and so does SIGHUP for a core without a terminal (a service: `systemctl
 * reload`), so `cvcore keys rotate` reaches a running core. In a terminal, SIGHUP is the terminal going away, and
 * the core stops (cli/run.ts).
 */
import { unwatchFile, watchFile } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDataKeyring, type DataKeyring } from '../common/data-key.js';
import type { Logger } from '../common/log.js';
import type { CvcoreConfig } from '../config/index.js';

/** How often the key file is checked for a change, ms. */
export const DATA_KEY_POLL_MS = 2000;

export interface CoreDataKey {
  readonly ring: DataKeyring;
  /** Called after a reload that changed the current key (not for a reload that left it). Returns the unsubscribe. */
  onRotate(fn: () => void): () => void;
  stop(): Promise<void>;
}

export async function openCoreDataKey(config: CvcoreConfig, dataDir: string, log: Logger, o: { reloadOnHup?: boolean } = {}): Promise<CoreDataKey> {
  const reloadOnHup = o.reloadOnHup ?? !process.stdin.isTTY;
  const { ring, source, created } = await openDataKeyring(dataDir, config.dataKey.file ?? undefined);
  log.info('data key', { file: ring.path, source, current: ring.currentId, fingerprint: ring.fingerprint(), created });
  if (source === 'default') {
    log.warn('the data key is the default file beside the data: it protects copies and backups of the data folder, not this machine. Set CVCORE_DATA_KEY_FILE or dataKey.file to a key kept elsewhere (cvcore keys init)', { file: ring.path });
  }
  const rotated = new Set<() => void>();
  let reloading: Promise<void> | null = null;
  const reload = (why: string): void => {
    if (reloading) return;
    const before = ring.currentId;
    reloading = ring.reload().then(
      () => {
        if (ring.currentId !== before) {
          log.info('data key rotated: new values are sealed under the new key; stores re-seal older ones in the background', { why, previous: before, current: ring.currentId, fingerprint: ring.fingerprint(), ids: ring.ids });
          for (const fn of rotated) {
            try { fn(); } catch (err) { log.warn('a data key rotation listener threw', { err: err as Error }); }
          }
        } else log.info('data key file reloaded', { why, current: ring.currentId, ids: ring.ids });
      },
      (err: unknown) => log.error('data key file not reloaded; the keys in use stay', { why, err: err as Error }),
    ).finally(() => { reloading = null; });
  };
  const onHup = (): void => reload('SIGHUP');
  if (reloadOnHup) process.on('SIGHUP', onHup);
  const onChange = (cur: { mtimeMs: number; ino: number }, prev: { mtimeMs: number; ino: number }): void => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) reload('key file changed');
  };
  watchFile(ring.path, { interval: DATA_KEY_POLL_MS, persistent: false }, onChange);
  return {
    ring,
    onRotate: (fn) => {
      rotated.add(fn);
      return () => { rotated.delete(fn); };
    },
    stop: async () => {
      rotated.clear();
      process.removeListener('SIGHUP', onHup);
      unwatchFile(ring.path, onChange);
      await reloading;
    },
  };
}

/** Where a running core says how far its stores (watch-lists, recordings, exports) are re-sealed: `cvcore keys status` reads it. */
export const STORES_KEY_STATUS_FILE = 'data-key-stores.json';

export interface StoresKeyStatus {
  /** The key every store is being brought to. */
  readonly target: string;
  /** Every store's values are under `target`. */
  readonly done: boolean;
  readonly at: number;
  readonly stores: Record<string, 'done' | 'pending' | 'failed'>;
}

/** A store that keeps biometric data sealed, as the re-seal follower sees it. */
export interface ResealingStore {
  readonly name: string;
  /** Brings the store's values and verifier under the ring's current key; resolves when done. */
  resealToCurrent(): Promise<boolean>;
}

/**
 * Brings the watch-lists, recordings and exports of a running core under the current key after every rotation
 * (the index has its own sweep), one pass at a time, and writes where they stand to
 * `<dataDir>/data-key-stores.json`, so `cvcore keys retire` can tell whether an old key is still needed. A pass
 * runs at start too (a recording pass begun at open is awaited). Resolves the first pass's promise as `settled`.
 */
export function followRotationInStores(core: CoreDataKey, dataDir: string, stores: readonly ResealingStore[], log: Logger): { settled: () => Promise<void>; stop: () => Promise<void> } {
  const path = join(dataDir, STORES_KEY_STATUS_FILE);
  let running: Promise<void> = Promise.resolve();
  let again = false;
  let stopped = false;
  const write = async (st: StoresKeyStatus): Promise<void> => {
    const tmp = `${path}.tmp`;
    await writeFile(tmp, JSON.stringify(st), { mode: 0o600 });
    await rename(tmp, path);
  };
  const pass = async (): Promise<void> => {
    do {
      again = false;
      const target = core.ring.currentId;
      const state: Record<string, 'done' | 'pending' | 'failed'> = Object.fromEntries(stores.map((s) => [s.name, 'pending' as const]));
      await write({ target, done: false, at: Date.now(), stores: state }).catch(() => undefined);
      for (const s of stores) {
        if (stopped) return;
        try {
          if (await s.resealToCurrent()) log.info('data key: a store re-sealed under the current key', { store: s.name, current: target });
          state[s.name] = 'done';
        } catch (err) {
          state[s.name] = 'failed';
          log.error('data key: a store could not be re-sealed; values stay under the older key until the next start', { store: s.name, err: err as Error });
        }
      }
      const done = Object.values(state).every((v) => v === 'done') && core.ring.currentId === target;
      await write({ target, done, at: Date.now(), stores: state }).catch((err: unknown) => log.warn('data key: cannot write the stores\' status file', { path, err: err as Error }));
    } while (again && !stopped);
  };
  const kick = (): void => {
    again = true;
    running = running.then(pass, pass);
  };
  running = pass();
  const first = running;
  const off = core.onRotate(kick);
  return {
    settled: () => first,
    stop: async () => {
      stopped = true;
      off();
      await running.catch(() => undefined);
    },
  };
}
