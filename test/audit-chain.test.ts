import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { loadNodeKey } from '../common/node-key.js';
import { openIndex, auditKeyFromPem, verifyAuditLines, type AuditEntry, type AuditVerifyReport, type LocalIndex } from '../search-index/index.js';
import { AUDIT_SEQ } from '../search-index/audit.js';
import { chainEntry, redactEntry, type ChainedEntry } from '../search-index/audit-chain.js';
import { waitFor } from './support/wait.js';
import { auditCheckpointKey, auditKey, auditPrefix, auditSeqOf, prefixEnd } from '../search-index/keys.js';
import { ROCKS_OPEN_OPTIONS, createRocks, readRange, type RocksDb } from '../search-index/rocks.js';
import { tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const T0 = 1_700_000_000_000;
const entry = (i: number): AuditEntry => ({
  at: T0 + i * 10, tokenId: `tok-${i % 5}`, role: 'investigator', department: 'police', action: 'search',
  query: { attributes: { colour: 'red' }, i }, results: [`cam-1:${i}:0`],
});

async function openTrail(dir: string, every = 500): Promise<LocalIndex> {
  return openIndex({ dataKey: testDataKey(),  dir: join(dir, 'index'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0, dimensions: 8, audit: { key: await loadNodeKey(dir), node: 'n1', checkpointEvery: every, checkpointIntervalMs: 0 } });
}

async function appendMany(index: LocalIndex, from: number, to: number): Promise<void> {
  // Concurrent appends, as concurrent requests make them: they share synced batches, in sequence order.
  for (let i = from; i < to; i += 100) await Promise.all(Array.from({ length: Math.min(100, to - i) }, (_, k) => index.appendAudit(entry(i + k))));
}

/** Opens the index's RocksDB directly, as an attacker with the disk would, changes it, and closes it. */
async function tamper(dir: string, fn: (db: RocksDb, rows: Map<number, [string, Buffer]>) => Promise<void>): Promise<void> {
  const db = createRocks(join(dir, 'index', 'db'));
  await db.open(ROCKS_OPEN_OPTIONS);
  try {
    const rows = new Map<number, [string, Buffer]>();
    for (const [k, v] of await readRange(db, { gte: auditPrefix, lt: prefixEnd(auditPrefix) })) rows.set(auditSeqOf(k), [k, v!]);
    await fn(db, rows);
  } finally {
    await db.close();
  }
}

async function verifyClosed(dir: string): Promise<AuditVerifyReport> {
  const index = await openTrail(dir);
  try {
    return await index.verifyAudit();
  } finally {
    await index.close();
  }
}

test('audit - a chain of thousands verifies; an edited, removed, swapped entry, a forged checkpoint and a cut tail are named', async (t) => {
  const { dir, cleanup } = tempDir('audit-chain');
  t.teardown(cleanup);
  const index = await openTrail(dir);
  await appendMany(index, 0, 3000);
  const ok = await index.verifyAudit();
  t.true(ok.ok, JSON.stringify(ok.problems));
  t.is(ok.chained, 3000);
  t.is(ok.unchained, 0);
  t.is(ok.firstSeq, 1);
  t.is(ok.lastSeq, 3000);
  t.is(ok.checkpoints, 7); // genesis + every 500
  t.is(ok.uncovered, 0);
  await index.appendAudit(entry(3000));
  await index.close(); // a clean stop signs the head (3001)
  const after = await verifyClosed(dir);
  t.true(after.ok);
  t.is(after.lastCheckpointSeq, 3001);

  // Edited: one byte of entry 1234's query.
  let saved: [string, Buffer] | undefined;
  await tamper(dir, async (db, rows) => {
    saved = rows.get(1234)!;
    const v = Buffer.from(saved[1].toString('utf8').replace('"colour":"red"', '"colour":"rud"'));
    t.not(v.toString(), saved[1].toString());
    await db.batch([{ type: 'put', key: saved[0], value: v }]);
  });
  let r = await verifyClosed(dir);
  t.false(r.ok);
  t.is(r.firstBroken, 1234);
  t.is(r.problems[0]!.kind, 'edited');
  await tamper(dir, (db) => db.batch([{ type: 'put', key: saved![0], value: saved![1] }]));
  t.true((await verifyClosed(dir)).ok);

  // Removed: entry 777 deleted.
  await tamper(dir, async (db, rows) => {
    saved = rows.get(777)!;
    await db.batch([{ type: 'del', key: saved[0] }]);
  });
  r = await verifyClosed(dir);
  t.false(r.ok);
  t.is(r.firstBroken, 777);
  t.true(r.problems.every((p) => p.kind === 'removed' && p.seq === 777), JSON.stringify(r.problems));
  await tamper(dir, (db) => db.batch([{ type: 'put', key: saved![0], value: saved![1] }]));

  // Reordered: the values of entries 100 and 200 swapped.
  await tamper(dir, async (db, rows) => {
    const [a, b] = [rows.get(100)!, rows.get(200)!];
    await db.batch([{ type: 'put', key: a[0], value: b[1] }, { type: 'put', key: b[0], value: a[1] }]);
  });
  r = await verifyClosed(dir);
  t.false(r.ok);
  t.is(r.firstBroken, 100);
  t.deepEqual(r.problems.map((p) => [p.seq, p.kind]), [[100, 'reordered'], [200, 'reordered']]);
  await tamper(dir, async (db, rows) => {
    const [a, b] = [rows.get(100)!, rows.get(200)!];
    await db.batch([{ type: 'put', key: a[0], value: b[1] }, { type: 'put', key: b[0], value: a[1] }]);
  });
  t.true((await verifyClosed(dir)).ok);

  // Rewritten and re-hashed from 2600 on (an attacker who knows the hash but not the key): every link holds, but
  // the entry the checkpoint at 3000 signed is not there any more.
  const original = new Map<number, [string, Buffer]>();
  await tamper(dir, async (db, rows) => {
    let prev = (JSON.parse(rows.get(2599)![1].toString()) as ChainedEntry).hash;
    const ops = [];
    for (let s = 2600; s <= 3001; s++) {
      const [k, v] = rows.get(s)!;
      original.set(s, [k, v]);
      const e = JSON.parse(v.toString()) as ChainedEntry;
      const forged = chainEntry(s === 2600 ? { ...e, results: [] } : e, s, prev);
      prev = forged.hash;
      ops.push({ type: 'put' as const, key: k, value: Buffer.from(JSON.stringify(forged)) });
    }
    await db.batch(ops);
  });
  r = await verifyClosed(dir);
  t.false(r.ok);
  t.deepEqual(r.problems.map((p) => [p.seq, p.kind]), [[3000, 'edited'], [3001, 'edited']]);
  t.regex(r.problems[0]!.message, /after checkpoint 2500/);
  await tamper(dir, (db) => db.batch([...original.values()].map(([key, value]) => ({ type: 'put' as const, key, value }))));
  t.true((await verifyClosed(dir)).ok);

  // A forged checkpoint signature: checkpoint 1000's signature changed.
  let cpSaved: Buffer | undefined;
  await tamper(dir, async (db) => {
    const [v] = await db.getMany([auditCheckpointKey(1000)]);
    cpSaved = v!;
    const c = JSON.parse(v!.toString()) as { signature: string; at: number };
    c.at += 1; // the content changes, the signature stays: it no longer verifies
    await db.batch([{ type: 'put', key: auditCheckpointKey(1000), value: Buffer.from(JSON.stringify(c)) }]);
  });
  r = await verifyClosed(dir);
  t.false(r.ok);
  t.deepEqual(r.problems.map((p) => [p.seq, p.kind]), [[1000, 'checkpoint']]);
  await tamper(dir, (db) => db.batch([{ type: 'put', key: auditCheckpointKey(1000), value: cpSaved! }]));

  // Truncated: the last 20 entries and the counter rolled back; the signed checkpoint at 3001 still says 3001.
  await tamper(dir, async (db, rows) => {
    const ops = [];
    for (let s = 2982; s <= 3001; s++) ops.push({ type: 'del' as const, key: rows.get(s)![0] });
    await db.batch([...ops, { type: 'put', key: AUDIT_SEQ, value: Buffer.from('2981') }]);
  });
  const idx = await openIndex({ dataKey: testDataKey(),  dir: join(dir, 'index'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0, dimensions: 8 });
  r = await idx.verifyAudit({ key: auditKeyFromPem((await loadNodeKey(dir)).publicPem, 'node key') });
  await idx.close();
  t.false(r.ok);
  t.true(r.problems.some((p) => p.kind === 'truncated' && p.seq === 2982), JSON.stringify(r.problems));
});

test('audit - a wrong, short or foreign key is AUDIT_KEY; an index without a key cannot verify', async (t) => {
  const { dir, cleanup } = tempDir('audit-keys');
  t.teardown(cleanup);
  const index = await openTrail(dir, 10);
  await appendMany(index, 0, 25);
  const pem = (await loadNodeKey(dir)).publicPem;
  t.throws(() => auditKeyFromPem(pem.slice(0, 40), 'short.pem'), { code: 'AUDIT_KEY' });
  t.throws(() => auditKeyFromPem('', 'empty.pem'), { code: 'AUDIT_KEY' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  t.throws(() => auditKeyFromPem(rsa, 'rsa.pem'), { code: 'AUDIT_KEY' });
  t.throws(() => auditKeyFromPem(pem, 'node.pem', 'ab'.repeat(32)), { code: 'AUDIT_KEY' });
  const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await t.throwsAsync(index.verifyAudit({ key: auditKeyFromPem(other, 'other.pem') }), { code: 'AUDIT_KEY' });
  t.true((await index.verifyAudit({ key: auditKeyFromPem(pem, 'node.pem') })).ok);
  await index.close();
  const bare = await openIndex({ dataKey: testDataKey(),  dir: join(dir, 'index'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0, dimensions: 8 });
  await t.throwsAsync(bare.verifyAudit(), { code: 'AUDIT_KEY' });
  await bare.close();
});

test('audit - an export of a range verifies on its own; a changed byte fails it', async (t) => {
  const { dir, cleanup } = tempDir('audit-export');
  t.teardown(cleanup);
  const index = await openTrail(dir, 100);
  await appendMany(index, 0, 450);
  // Entries 120..179 (times T0+1200 .. T0+1790), between checkpoints 100 and 200.
  const lines = await index.exportAudit({ from: T0 + 1200, to: T0 + 1790 });
  await index.close();
  const text = lines.join('\n') + '\n';
  const r = verifyAuditLines(text);
  t.true(r.ok, JSON.stringify(r.problems));
  t.is(lines.filter((l) => l.includes('"type":"entry"')).length, 60);
  // Neighbours are digests only: nothing of entry 101's body (its token, its query) is in the file.
  t.false(text.includes('"i":101'));
  // The tail of the trail: the export signs the head first, so the last entries are covered too.
  const idx2 = await openTrail(dir, 100);
  const tail = await idx2.exportAudit({ from: T0 + 4400, to: T0 + 9999 });
  await idx2.close();
  t.true(verifyAuditLines(tail.join('\n')).ok);

  const i = text.indexOf('cam-1:150:0');
  const changed = text.slice(0, i) + 'cam-1:151:0' + text.slice(i + 'cam-1:150:0'.length);
  const bad = verifyAuditLines(changed);
  t.false(bad.ok);
  t.is(bad.firstBroken, 151); // entry i is sequence i + 1
  // A link line dropped is a removal.
  const dropped = lines.filter((l) => !l.includes('"type":"link","seq":105,')).join('\n');
  const rd = verifyAuditLines(dropped);
  t.false(rd.ok);
  t.is(rd.firstBroken, 105);
  t.throws(() => verifyAuditLines('not json\n'), { code: 'AUDIT_BAD_FILE' });
  // Pinned to another fingerprint: the file's key is refused.
  t.throws(() => verifyAuditLines(text, { pin: 'cd'.repeat(32) }), { code: 'AUDIT_KEY' });
});

test('audit - entries written before the chain are reported as unchained, not as tampering', async (t) => {
  const { dir, cleanup } = tempDir('audit-legacy');
  t.teardown(cleanup);
  // An old index: its trail written by the previous version (plain JSON, no chain fields).
  let index = await openIndex({ dataKey: testDataKey(),  dir: join(dir, 'index'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0, dimensions: 8 });
  await index.close();
  const db = createRocks(join(dir, 'index', 'db'));
  await db.open(ROCKS_OPEN_OPTIONS);
  const ops = [];
  for (let s = 1; s <= 40; s++) ops.push({ type: 'put' as const, key: auditKey(entry(s).at, s), value: Buffer.from(JSON.stringify(entry(s))) });
  await db.batch([...ops, { type: 'put', key: AUDIT_SEQ, value: Buffer.from('40') }]);
  await db.close();
  index = await openTrail(dir, 50);
  await appendMany(index, 41, 141);
  const r = await index.verifyAudit();
  t.true(r.ok, JSON.stringify(r.problems));
  t.is(r.unchained, 40);
  t.is(r.chained, 100);
  t.is(r.firstSeq, 41);
  const page = await index.readAudit({ limit: 2 });
  t.deepEqual(page.entries[0], entry(1));
  await index.close();
});

test('audit - an erased entry keeps its digest and the chain still verifies; a timer signs the head', async (t) => {
  const { dir, cleanup } = tempDir('audit-erase');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir: join(dir, 'index'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0, dimensions: 8, audit: { key: await loadNodeKey(dir), node: 'n1', checkpointEvery: 1000, checkpointIntervalMs: 300 } });
  await appendMany(index, 0, 30);
  // No 1000 entries yet: the timer signs the head (bounded wait; the timer fires every 300 ms).
  const r = await waitFor('a timer checkpoint', 20_000, async () => { const v = await index.verifyAudit(); return v.uncovered === 0 ? v : null; });
  t.is(r.lastCheckpointSeq, 30);
  await index.close();
  await tamper(dir, async (db, rows) => {
    const [k, v] = rows.get(12)!;
    await db.batch([{ type: 'put', key: k, value: Buffer.from(JSON.stringify(redactEntry(JSON.parse(v.toString()) as ChainedEntry))) }]);
  });
  const after = await verifyClosed(dir);
  t.true(after.ok, JSON.stringify(after.problems));
  t.is(after.redacted, 1);
  const idx = await openTrail(dir);
  const page = await idx.readAudit({ limit: 20 });
  t.is(page.entries[11]!.action, 'redacted');
  t.is(page.entries[11]!.tokenId, '');
  // An export over the erased entry carries its digest only, and verifies.
  t.true(verifyAuditLines((await idx.exportAudit({ from: T0, to: T0 + 1000 })).join('\n')).ok);
  await idx.close();
  // A redacted entry whose digest is not the erased body's is an edit.
  await tamper(dir, async (db, rows) => {
    const [k, v] = rows.get(12)!;
    await db.batch([{ type: 'put', key: k, value: Buffer.from(JSON.stringify({ ...(JSON.parse(v.toString()) as object), digest: 'f'.repeat(64) })) }]);
  });
  const forged = await verifyClosed(dir);
  t.is(forged.firstBroken, 12);
});
