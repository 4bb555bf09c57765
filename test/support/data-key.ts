/** A throw-away data key ring for tests of the sealed stores (a fresh key file in a temp folder, removed at exit). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDataKeyFile, loadDataKeyring, type DataKeyring } from '../../common/data-key.js';

const dirs: string[] = [];
process.once('exit', () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A new ring with one key of its own (two calls: two different keys). */
export async function testDataKey(): Promise<DataKeyring> {
  const dir = mkdtempSync(join(tmpdir(), 'cvcore-testkey-'));
  dirs.push(dir);
  const file = join(dir, 'data-key.json');
  await initDataKeyFile(file);
  return loadDataKeyring(file);
}

let shared: Promise<DataKeyring> | null = null;
/** One ring per test process, for tests that only need the stores to open. */
export function sharedTestDataKey(): Promise<DataKeyring> {
  shared ??= testDataKey();
  return shared;
}
