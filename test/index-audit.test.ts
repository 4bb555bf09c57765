import test from 'ava';
import { openIndex, type AuditEntry } from '../search-index/index.js';
import { tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

test('index - audit entries are appended in time order, survive reopen and page with cursors', async (t) => {
  const { dir, cleanup } = tempDir('audit');
  t.teardown(cleanup);
  let index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0 });
  const entry = (at: number, i: number): AuditEntry => ({
    at, tokenId: `tok-${i}`, role: 'investigator', department: 'police', action: 'search',
    query: { attributes: { colour: 'red' }, i }, results: [`cam-1:${i}:0`],
  });
  // Several entries in one millisecond must all be kept, in the order they were appended.
  for (let i = 0; i < 5; i++) await index.appendAudit(entry(1000, i));
  for (let i = 5; i < 25; i++) await index.appendAudit(entry(1000 + i, i));
  await index.close();
  index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0 });
  await index.appendAudit({ ...entry(5000, 25), results: 3 });

  const all: AuditEntry[] = [];
  let cursor: string | null = null;
  do {
    const page = await index.readAudit({ limit: 4, ...(cursor ? { cursor } : {}) });
    all.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  t.is(all.length, 26);
  t.deepEqual(all.map((e) => e.tokenId), Array.from({ length: 26 }, (_, i) => `tok-${i}`));
  t.deepEqual(all[0], entry(1000, 0));
  t.is(all[25]!.results, 3);

  const window = await index.readAudit({ from: 1010, to: 1014 });
  t.deepEqual(window.entries.map((e) => e.at), [1010, 1011, 1012, 1013, 1014]);
  t.is(window.nextCursor, null);
  await t.throwsAsync(index.readAudit({ from: 10, to: 5 }), { code: 'INDEX_BAD_QUERY' } as never);
  await t.throwsAsync(index.readAudit({ cursor: 'nope!' }), { code: 'INDEX_BAD_QUERY' } as never);
  await index.close();
});
