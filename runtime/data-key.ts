/**
 * The core's data key ring (common/data-key.ts), opened once at start and handed to every store that seals
 * biometric data (the search index; the watch-list store, recordings and exports). It follows the key file:
 * A change of the file (polled) reloads it, and so does SIGHUP for a core without a terminal (a service: `systemctl
 * reload`), so `cvcore keys rotate` reaches a running core. In a terminal, SIGHUP is the terminal going away, and
 * the core stops (cli/run.ts).
 */
import { unwatchFile, watchFile } from 'node:fs';
import { openDataKeyring, type DataKeyring } from '../common/data-key.js';
import type { Logger } from '../common/log.js';
import type { CvcoreConfig } from '../config/index.js';

/** How often the key file is checked for a change, ms. */
export const DATA_KEY_POLL_MS = 2000;

export async function openCoreDataKey(config: CvcoreConfig, dataDir: string, log: Logger, o: { reloadOnHup?: boolean } = {}): Promise<{ ring: DataKeyring; stop: () => Promise<void> }> {
  const reloadOnHup = o.reloadOnHup ?? !process.stdin.isTTY;
  const { ring, source, created } = await openDataKeyring(dataDir, config.dataKey.file ?? undefined);
  log.info('data key', { file: ring.path, source, current: ring.currentId, fingerprint: ring.fingerprint(), created });
  if (source === 'default') {
    log.warn('the data key is the default file beside the data: it protects copies and backups of the data folder, not this machine. Set CVCORE_DATA_KEY_FILE or dataKey.file to a key kept elsewhere (cvcore keys init)', { file: ring.path });
  }
  let reloading: Promise<void> | null = null;
  const reload = (why: string): void => {
    if (reloading) return;
    const before = ring.currentId;
    reloading = ring.reload().then(
      () => {
        if (ring.currentId !== before) log.info('data key rotated: new values are sealed under the new key; stores re-seal older ones in the background', { why, previous: before, current: ring.currentId, fingerprint: ring.fingerprint(), ids: ring.ids });
        else log.info('data key file reloaded', { why, current: ring.currentId, ids: ring.ids });
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
    stop: async () => {
      process.removeListener('SIGHUP', onHup);
      unwatchFile(ring.path, onChange);
      await reloading;
    },
  };
}
