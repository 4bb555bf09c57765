/**
 * A throw-away data key ring for tests that open an index. One fixed key (derived from a constant), so a test
 * that reopens a folder, or a child process that writes one (test/fixtures/index-writer.ts), uses the same key;
 * tests of the key handling itself make their own rings (common/data-key.ts). Tests of the sealed stores that need
 * a key of their own (a wrong key, a rotation) take `freshTestDataKey()`: a new key file in a temp folder.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { dataKeyringFrom, initDataKeyFile, loadDataKeyring, type DataKeyFile, type DataKeyring } from '../../common/data-key.js';

export const TEST_DATA_KEY_FILE: DataKeyFile = {
  v: 1,
  current: 'ktest0001',
  keys: [{ id: 'ktest0001', key: createHash('sha256').update('cvcore test data key').digest('base64'), created: '2026-01-01T00:00:00.000Z' }],
};

let ring: DataKeyring | null = null;

/** The tests' ring (the same key in every process). */
export function testDataKey(): DataKeyring {
  ring ??= dataKeyringFrom(TEST_DATA_KEY_FILE, '<test data key>');
  return ring;
}

/** Writes the tests' key as a key file (mode 0600), for a CLI or a core that reads `CVCORE_DATA_KEY_FILE`. */
export function writeTestDataKeyFile(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(TEST_DATA_KEY_FILE, null, 2)}\n`, { mode: 0o600 });
  return path;
}

const dirs: string[] = [];
process.once('exit', () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A new ring with one key of its own (two calls: two different keys). */
export async function freshTestDataKey(): Promise<DataKeyring> {
  const dir = mkdtempSync(join(tmpdir(), 'cvcore-testkey-'));
  dirs.push(dir);
  const file = join(dir, 'data-key.json');
  await initDataKeyFile(file);
  return loadDataKeyring(file);
}

let shared: Promise<DataKeyring> | null = null;
/** One ring per test process, for tests that only need the stores to open. */
export function sharedTestDataKey(): Promise<DataKeyring> {
  shared ??= freshTestDataKey();
  return shared;
}
