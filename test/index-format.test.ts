/**
 * An index folder written with another key layout is refused with INDEX_FORMAT (and the folder is left as it
 * was), rather than read with the wrong layout and answering wrongly.
 */
import test from 'ava';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CvcoreError } from '../common/errors.js';
import { openIndex } from '../search-index/index.js';
import { makeRecord, tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const require = createRequire(import.meta.url);

test('index - a folder of another key layout is refused with INDEX_FORMAT and left untouched', async (t) => {
  const { dir, cleanup } = tempDir('format');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
  await index.put(makeRecord({ id: 'a' }));
  await index.close();
  // Layout 1 had no format key: remove it, as an index written by the earlier version would look.
  const { RocksLevel } = require('@nxtedition/rocksdb') as { RocksLevel: new (p: string, o: object) => { open(): Promise<void>; del(k: string): Promise<void>; close(): Promise<void> } };
  const raw = new RocksLevel(join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await raw.open();
  await raw.del('M\x00format');
  await raw.close();
  const err = await t.throwsAsync(openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 }));
  t.true(err instanceof CvcoreError);
  t.is((err as CvcoreError).code, 'INDEX_FORMAT');
  t.regex(err!.message, /layout 1/);
  // Refusing did not write: a second attempt is refused the same way.
  const again = await t.throwsAsync(openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 }));
  t.is((again as CvcoreError).code, 'INDEX_FORMAT');
});
