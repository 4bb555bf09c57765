import test from 'ava';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { appendFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openExports, verifyExport, type ExportStore, type OpenExportsOptions } from '../evidence/index.js';
import { tempDir } from './support/index-records.js';
import { sharedTestDataKey, freshTestDataKey } from './support/data-key.js';
import { openSealedFile, SEALED_FILE_MAGIC } from '../common/sealed-file.js';
import { DataKeyError } from '../common/errors.js';
import { rotateDataKeyFile } from '../common/data-key.js';

const DAY = 86_400_000;

/** The clear zip of a stored export (sealed at rest), written beside the data folder for verifyExport. */
async function clearZip(s: ExportStore, id: string, dir: string): Promise<string> {
  const f = await s.open(id);
  if (!f) throw new Error(`no export ${id}`);
  const out = join(dir, `${id}.clear.zip`);
  await pipeline(f.read(), createWriteStream(out));
  return out;
}
const limits = { maxTracks: 50, maxCameras: 8, maxRangeMs: 600_000 };

test('evidence - exports survive a restart; retention removes the old ones but not those on hold', async (t) => {
  const { dir, cleanup } = tempDir('evidence-store');
  t.teardown(cleanup);
  const opts: OpenExportsOptions = { dataDir: dir, node: 'node-a', retentionDays: 30, limits, sweepIntervalMs: 0, dataKey: await sharedTestDataKey() };
  const s1 = await openExports(opts);
  const a = await s1.create({ createdBy: 'inv-ps', departments: ['public-security', 'public-security'], request: { trackIds: ['t1'] }, files: [{ name: 'records/t1.json', data: Buffer.from('{"id":"t1"}') }] });
  const b = await s1.create({ createdBy: 'inv-tr', departments: ['traffic'], request: { trackIds: ['t2'] }, files: [{ name: 'records/t2.json', data: Buffer.from('{"id":"t2"}') }] });
  t.deepEqual(a.departments, ['public-security']);
  const zipA = await clearZip(s1, a.id, dir);
  t.is(a.sha256, createHash('sha256').update(await readFile(zipA)).digest('hex'));
  t.is(a.bytes, (await readFile(zipA)).length);
  t.is(a.files, 4, 'the record, the key, the manifest and its signature');
  t.true((await verifyExport(zipA)).ok);
  t.is((await s1.setHold(b.id, 'case 2026-114', 'inv-tr'))!.hold!.note, 'case 2026-114');
  t.is(await s1.setHold('exp-nosuch-00000000', 'x', 'y'), null);
  await s1.close();

  // A crash mid-append leaves a torn last line: it is skipped, the rest is read.
  await appendFile(join(dir, 'exports', 'index.jsonl'), '{"op":"put","info":{"id":"exp-tor');
  // A zip without an index line (crash between the rename and the append) is nobody's export.
  await writeFile(join(dir, 'exports', 'exp-orphan-00000000.zip'), 'x');
  const s2 = await openExports(opts);
  t.deepEqual(s2.list().map((e) => e.id), [b.id, a.id], 'newest first');
  t.is(s2.get(a.id)!.sha256, a.sha256);
  t.is(s2.get(b.id)!.hold!.by, 'inv-tr');
  t.false(existsSync(join(dir, 'exports', 'exp-orphan-00000000.zip')));
  t.is(s2.get('../../etc/passwd'), null);

  t.deepEqual(await s2.sweep(a.createdAt + 29 * DAY), [], 'within retention');
  t.deepEqual(await s2.sweep(a.createdAt + 31 * DAY), [a.id], 'the held one stays');
  t.false(existsSync(a.path));
  t.true(existsSync(b.path));
  await s2.setHold(b.id, null, 'admin');
  await s2.close();

  const s3 = await openExports(opts);
  t.deepEqual(s3.list().map((e) => e.id), [b.id], 'the removal and the release were kept');
  t.is(s3.get(b.id)!.hold, null);
  t.deepEqual(await s3.sweep(b.createdAt + 31 * DAY), [b.id]);
  await s3.close();
  t.deepEqual((await openExports(opts)).list(), []);
});

test('evidence - exports asked for at once all complete (two are written at a time, the rest wait) and each verifies', async (t) => {
  const { dir, cleanup } = tempDir('evidence-store-many');
  t.teardown(cleanup);
  const s = await openExports({ dataDir: dir, node: 'n', retentionDays: 30, limits, sweepIntervalMs: 0, dataKey: await sharedTestDataKey() });
  t.teardown(() => s.close());
  const made = await Promise.all(Array.from({ length: 6 }, (_, i) => s.create({
    createdBy: 'inv', departments: ['d'], request: { i }, files: [{ name: `records/r${i}.json`, data: Buffer.from(JSON.stringify({ i })) }],
  })));
  t.is(new Set(made.map((e) => e.id)).size, 6);
  for (const e of made) t.true((await verifyExport(await clearZip(s, e.id, dir))).ok, e.id);
  t.is(s.list().length, 6);
});

test('evidence - a stored zip is sealed at rest: no entry in clear on disk, ranges read the clear zip, another key refuses', async (t) => {
  const { dir, cleanup } = tempDir('evidence-store-sealed');
  t.teardown(cleanup);
  const secret = Buffer.from(JSON.stringify({ id: 't9', face: 'x'.repeat(200_000) }));
  const s = await openExports({ dataDir: dir, node: 'n', retentionDays: 30, limits, sweepIntervalMs: 0, dataKey: await sharedTestDataKey() });
  // Stored in the zip uncompressed (a .jpg name), so the clear zip holds the bytes as they are.
  const e = await s.create({ createdBy: 'inv', departments: ['d'], request: {}, files: [{ name: 'records/t9.jpg', data: secret }] });
  await s.close();
  const onDisk = await readFile(e.path);
  t.true(onDisk.subarray(0, 4).equals(SEALED_FILE_MAGIC));
  t.false(onDisk.includes(secret.subarray(0, 64)), 'the entry is not on disk in clear');
  t.false(onDisk.includes(Buffer.from('manifest.json')), 'not even the zip directory');

  const s2 = await openExports({ dataDir: dir, node: 'n', retentionDays: 30, limits, sweepIntervalMs: 0, dataKey: await sharedTestDataKey() });
  const zip = await readFile(await clearZip(s2, e.id, dir));
  t.true(zip.includes(secret), 'the clear zip holds the entry');
  const f = (await s2.open(e.id))!;
  t.is(f.size, e.bytes);
  for (const [a, b] of [[0, 0], [100, 65_535], [65_530, 140_000], [zip.length - 10, zip.length - 1]] as const) {
    const parts: Buffer[] = [];
    for await (const c of f.read({ start: a, end: b })) parts.push(c as Buffer);
    t.deepEqual(Buffer.concat(parts), zip.subarray(a, b + 1), `range ${a}-${b}`);
  }
  await s2.close();

  // Another key refuses at open (the folder's verifier), before any export is listed or served.
  const err = await t.throwsAsync(openExports({ dataDir: dir, node: 'n', retentionDays: 30, limits, sweepIntervalMs: 0, dataKey: await freshTestDataKey() }));
  t.true(err instanceof DataKeyError && err.code === 'DATA_KEY_UNKNOWN_ID', String(err));

  // A folder from before sealing (clear zip, no verifier) is sealed at open and serves the same bytes.
  const ring = await sharedTestDataKey();
  await pipeline((await openSealedFile(ring, e.path, `export:${e.id}`)).read(), createWriteStream(`${e.path}.clear`));
  await rename(`${e.path}.clear`, e.path);
  await rm(join(dir, 'exports', 'data-key.verifier'));
  const s3 = await openExports({ dataDir: dir, node: 'n', retentionDays: 30, limits, sweepIntervalMs: 0, dataKey: ring });
  t.true((await readFile(e.path)).subarray(0, 4).equals(SEALED_FILE_MAGIC), 'sealed at open');
  t.deepEqual(await readFile(await clearZip(s3, e.id, dir)), zip);
  await s3.close();
});

test('evidence - after a data key rotation the next open re-seals each zip\'s header under the new key; the zip is unchanged', async (t) => {
  const { dir, cleanup } = tempDir('evidence-store-rotate');
  t.teardown(cleanup);
  const ring = await freshTestDataKey();
  const opts = { dataDir: dir, node: 'n', retentionDays: 30, limits, sweepIntervalMs: 0, dataKey: ring };
  const s = await openExports(opts);
  const e = await s.create({ createdBy: 'inv', departments: ['d'], request: {}, files: [{ name: 'records/r.json', data: Buffer.from('{"r":1}') }] });
  const before = await readFile(await clearZip(s, e.id, dir));
  await s.close();
  const old = ring.currentId;
  await rotateDataKeyFile(ring.path);
  await ring.reload();
  const s2 = await openExports(opts);
  const f = (await s2.open(e.id))!;
  t.not(f.keyId, old);
  t.is(f.keyId, ring.currentId);
  t.deepEqual(await readFile(await clearZip(s2, e.id, dir)), before);
  await s2.close();
});
