import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNodeKey } from '../common/node-key.js';
import { openIndex, type AuditEntry } from '../search-index/index.js';
import { ROCKS_OPEN_OPTIONS, createRocks, readRange } from '../search-index/rocks.js';
import { auditPrefix, auditSeqOf, prefixEnd } from '../search-index/keys.js';
import { startHarness, TOKENS } from './support/api-app.js';
import { tempDir } from './support/index-records.js';
import { testDataKey, writeTestDataKeyFile } from './support/data-key.js';

const BIN = fileURLToPath(new URL('../../bin/cvcore.js', import.meta.url));
const T0 = 1_700_000_000_000;
const entry = (i: number): AuditEntry => ({ at: T0 + i * 1000, tokenId: 'inv-ps', role: 'investigator', department: 'public-security', action: 'search', query: { i }, results: [`r${i}`] });

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'audit', ...args], { env: { ...process.env, CVCORE_TOKEN: '' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('audit - cvcore audit verify, export, checkpoint on a data folder; tampering exits 1 and names the sequence; key errors exit 2', async (t) => {
  const { dir, cleanup } = tempDir('audit-cli');
  t.teardown(cleanup);
  const key = await loadNodeKey(dir);
  const index = await openIndex({ dataKey: testDataKey(),  dir: join(dir, 'index'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0, audit: { key, node: 'n1', checkpointEvery: 50, checkpointIntervalMs: 0 } });
  for (let i = 0; i < 120; i++) await index.appendAudit(entry(i));
  await index.close();
  // The CLI opens the index with the folder's data key file (<data>/keys/data-key.json), as the core does.
  writeTestDataKeyFile(join(dir, 'keys', 'data-key.json'));

  let r = await cli('verify', '--data-dir', dir, '--fingerprint', key.fingerprint);
  t.is(r.code, 0, r.stderr + r.stdout);
  t.regex(r.stdout, /^ok: .*120 chained entries/m);
  r = await cli('checkpoint', '--data-dir', dir);
  t.is(r.code, 0, r.stderr);
  t.is((JSON.parse(r.stdout) as { seq: number }).seq, 120);
  const file = join(dir, 'range.jsonl');
  r = await cli('export', '--data-dir', dir, '--from', String(T0 + 60_000), '--to', new Date(T0 + 69_000).toISOString(), '-o', file);
  t.is(r.code, 0, r.stderr);
  r = await cli('verify', '--file', file, '--fingerprint', key.fingerprint, '--json');
  t.is(r.code, 0, r.stdout);
  // Entries 61..70 in full, 51..60 and 71..100 as digests: from checkpoint 50 to checkpoint 100.
  t.is((JSON.parse(r.stdout) as { chained: number }).chained, 50);
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace('"query":{"i":65}', '"query":{"i":66}'));
  r = await cli('verify', '--file', file);
  t.is(r.code, 1);
  t.regex(r.stdout, /first broken sequence 66/);

  // Key files: missing, short, another node's.
  r = await cli('verify', '--data-dir', dir, '--key', join(dir, 'nope.pem'));
  t.is(r.code, 2);
  t.regex(r.stderr, /^error AUDIT_KEY: /);
  await writeFile(join(dir, 'short.pem'), key.publicPem.slice(0, 50));
  r = await cli('verify', '--data-dir', dir, '--key', join(dir, 'short.pem'));
  t.is(r.code, 2);
  t.regex(r.stderr, /^error AUDIT_KEY: /);
  const other = await loadNodeKey(join(dir, 'other'));
  await writeFile(join(dir, 'other.pem'), other.publicPem);
  r = await cli('verify', '--data-dir', dir, '--key', join(dir, 'other.pem'));
  t.is(r.code, 2);
  t.regex(r.stderr, /^error AUDIT_KEY: .*signed none/);

  // An entry deleted on disk: exit 1, named.
  const db = createRocks(join(dir, 'index', 'db'));
  await db.open(ROCKS_OPEN_OPTIONS);
  const rows = await readRange(db, { gte: auditPrefix, lt: prefixEnd(auditPrefix), values: false });
  await db.batch([{ type: 'del', key: rows.find(([k]) => auditSeqOf(k) === 33)![0] }]);
  await db.close();
  r = await cli('verify', '--data-dir', dir);
  t.is(r.code, 1);
  t.regex(r.stdout, /first broken sequence 33/);
  t.regex(r.stdout, /33 {2}removed/);
  r = await cli('verify', '--data-dir', join(dir, 'nothing-here'));
  t.is(r.code, 2);
  // A core holding the index: RocksDB admits one process; the CLI says to go through the API.
  const held = await openIndex({ dataKey: testDataKey(),  dir: join(dir, 'index'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
  r = await cli('verify', '--data-dir', dir);
  await held.close();
  t.is(r.code, 2);
  t.regex(r.stderr, /error INDEX_IO: .*held by a running core; use --api/);
});

test('audit - through the API: admins verify, export and sign; investigators are refused', async (t) => {
  const { dir, cleanup } = tempDir('audit-api');
  t.teardown(cleanup);
  const key = await loadNodeKey(dir);
  const h = await startHarness({ audit: { key, node: 'api-1', checkpointEvery: 10, checkpointIntervalMs: 0 } });
  t.teardown(() => h.close());
  for (let i = 0; i < 25; i++) await h.index.appendAudit(entry(i));
  t.is((await h.get('/api/v1/audit/verify', TOKENS.ps)).status, 403);
  let r = await cli('verify', '--api', h.url, '--token', TOKENS.admin, '--fingerprint', key.fingerprint);
  t.is(r.code, 0, r.stderr + r.stdout);
  r = await cli('checkpoint', '--api', h.url, '--token', TOKENS.admin);
  t.is(r.code, 0, r.stderr);
  t.is((JSON.parse(r.stdout) as { seq: number; keyFingerprint: string }).keyFingerprint, key.fingerprint);
  const file = join(dir, 'api.jsonl');
  r = await cli('export', '--api', h.url, '--token', TOKENS.admin, '--from', String(T0), '--to', String(T0 + 5_000), '-o', file);
  t.is(r.code, 0, r.stderr);
  r = await cli('verify', '--file', file, '--fingerprint', key.fingerprint);
  t.is(r.code, 0, r.stdout);
  // The export is itself in the trail, and the trail still verifies.
  const page = await (await h.get('/api/v1/audit?limit=1000', TOKENS.admin)).json() as { entries: AuditEntry[] };
  t.true(page.entries.some((e) => e.action === 'audit_export'));
  r = await cli('verify', '--api', h.url, '--token', TOKENS.admin, '--fingerprint', 'ab'.repeat(32));
  t.is(r.code, 2);
  t.regex(r.stderr, /AUDIT_KEY/);
});
