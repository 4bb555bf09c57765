/**
 * A throw-away data key ring for tests that open an index. One fixed key (derived from a constant), so a test
 * that reopens a folder, or a child process that writes one (test/fixtures/index-writer.ts), uses the same key;
 * tests of the key handling itself make their own rings (common/data-key.ts).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { dataKeyringFrom, type DataKeyFile, type DataKeyring } from '../../common/data-key.js';

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
