/**
 * Encryption at rest of the search index (search-index/sealing.ts), on a real RocksDB on disk: no thumbnail,
 * plate crop, embedding or alarm frame bytes in any file of the folder (SST, WAL, anything), and no graph file;
 * another key refuses before anything changes; a rotation while the index is open keeps reads working and the
 * re-seal sweep moves every value to the new key; `cvcore keys` init/rotate/status/retire.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataKeyringFrom, initDataKeyFile, loadDataKeyring, rotateDataKeyFile } from '../common/data-key.js';
import { CvcoreError } from '../common/errors.js';
import { indexDataKeyUsage, openIndex, type LocalIndex } from '../search-index/index.js';
import { ROCKS_OPEN_OPTIONS, createRocks, readRange } from '../search-index/rocks.js';
import { makeRecord, rng, tempDir, unitVector } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const BIN = fileURLToPath(new URL('../../bin/cvcore.js', import.meta.url));
const D = 1024;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** Files of the folder holding `needle`. */
function holding(dir: string, needle: Buffer): string[] {
  return filesUnder(dir).filter((f) => readFileSync(f).includes(needle));
}

const open = (dir: string, dataKey = testDataKey()): Promise<LocalIndex> =>
  openIndex({ dataKey, dir, sweepIntervalMs: 0, batchSize: 64, flushMs: 20 });

/** Bytes with a recognisable head, so a grep of the files cannot miss nor hit by chance. */
function marked(tag: string, n: number): Uint8Array {
  const b = randomBytes(n);
  Buffer.from(`MARK-${tag}-`).copy(b, 0);
  return new Uint8Array(b);
}

test('encryption - no thumbnail, plate crop, trajectory, embedding or alarm frame bytes reach the files; summaries stay readable', async (t) => {
  const { dir, cleanup } = tempDir('enc-disk');
  t.teardown(cleanup);
  const index = await open(dir);
  const rand = rng(7);
  const thumb = marked('thumb', 1500);
  const plate = marked('plate', 600);
  const emb = unitVector(rand, D);
  const frame = marked('frame', 3000);
  const rec = { ...makeRecord({ id: 'person-enc-1', cls: 'person', thumbnail: thumb, embedding: emb, attributes: { colour: 'red' } }), plateCrop: plate,
    trajectory: [{ t: 1_700_000_000_000, x: 1111, y: 2222, w: 33, h: 44 }, { t: 1_700_000_000_500, x: 1112, y: 2223, w: 33, h: 44 }] };
  await index.put(rec);
  for (let i = 0; i < 200; i++) await index.put(makeRecord({ cls: 'person', thumbnail: marked('other', 800), embedding: unitVector(rand, D) }));
  await index.putAlarmFrame({ id: 'frame-enc-1', cameraId: 'cam-1', department: 'police', at: 1_700_000_000_000, jpeg: frame });
  await index.settle();
  // Reads give the bytes back.
  const got = await index.get('person-enc-1', 'all');
  t.deepEqual(Buffer.from(got!.thumbnail!), Buffer.from(thumb));
  t.deepEqual(Buffer.from(got!.plateCrop!), Buffer.from(plate));
  t.is(got!.trajectory?.[1]?.x, 1112);
  t.true(Math.abs(got!.embedding![5]! - emb[5]!) < 1e-6);
  t.deepEqual(Buffer.from((await index.alarmFrame('frame-enc-1', 'all'))!.jpeg), Buffer.from(frame));
  const [best] = await index.faceSearch(emb, { k: 1 }, 'all');
  t.is(best?.record.id, 'person-enc-1');
  await index.close();

  // The stored embedding is the unit vector's float32 bytes; any 64 of them would do.
  const embBytes = Buffer.from(new Float32Array(emb).buffer).subarray(256, 320);
  const traj = Buffer.alloc(4);
  traj.writeInt16LE(1111, 0);
  traj.writeInt16LE(2222, 2);
  for (const [what, needle] of [['thumbnail', Buffer.from(thumb).subarray(0, 64)], ['plate crop', Buffer.from(plate).subarray(0, 64)], ['alarm frame', Buffer.from(frame).subarray(0, 64)], ['embedding', embBytes], ['trajectory', traj]] as const) {
    t.deepEqual(holding(dir, needle), [], `${what} bytes found in clear`);
  }
  // The grep finds what is meant to be clear (the summary's id, the attribute index), so it looks where the data is.
  t.true(holding(dir, Buffer.from('person-enc-1')).length > 0);
  t.deepEqual(filesUnder(dir).filter((f) => f.includes('.usearch')), [], 'no face graph file');
});

test('encryption - another key refuses with DATA_KEY_WRONG (same id) or DATA_KEY_UNKNOWN_ID and changes nothing', async (t) => {
  const { dir, cleanup } = tempDir('enc-wrong');
  t.teardown(cleanup);
  const rand = rng(8);
  let index = await open(dir);
  for (let i = 0; i < 50; i++) await index.put(makeRecord({ id: `w${i}`, cls: 'person', thumbnail: marked('w', 300), embedding: unitVector(rand, D) }));
  await index.close();
  // What the database holds, key by key (RocksDB's own files change on any open: it replays its log into a table).
  const content = async (): Promise<string> => {
    const db = createRocks(join(dir, 'db'));
    await db.open(ROCKS_OPEN_OPTIONS);
    const h = createHash('sha256');
    try {
      for (const [k, v] of await readRange(db, {})) h.update(k).update('\0').update(v ?? Buffer.alloc(0)).update('\0');
    } finally {
      await db.close();
    }
    return h.digest('hex');
  };
  const before = await content();
  const sameId = dataKeyringFrom({ v: 1, current: testDataKey().currentId, keys: [{ id: testDataKey().currentId, key: randomBytes(32).toString('base64'), created: '' }] });
  const otherId = dataKeyringFrom({ v: 1, current: 'kother', keys: [{ id: 'kother', key: randomBytes(32).toString('base64'), created: '' }] });
  for (const [ring, code] of [[sameId, 'DATA_KEY_WRONG'], [otherId, 'DATA_KEY_UNKNOWN_ID']] as const) {
    const err = await t.throwsAsync(open(dir, ring));
    t.true(err instanceof CvcoreError);
    t.is((err as CvcoreError).code, code, err?.message);
  }
  t.is(await content(), before);
  index = await open(dir);
  t.is((await index.get('w7', 'all'))?.id, 'w7');
  t.is((await index.query({}, 'all')).records.length, 50);
  await index.close();
});

test('encryption - a rotation while the index is open: reads keep working, the sweep moves every value to the new key, the old key retires', async (t) => {
  const { dir, cleanup } = tempDir('enc-rotate');
  t.teardown(cleanup);
  const keyFile = join(dir, 'keys', 'data-key.json');
  const first = await initDataKeyFile(keyFile);
  const ring = await loadDataKeyring(keyFile);
  const rand = rng(9);
  const embs: Float32Array[] = [];
  const index = await openIndex({ dataKey: ring, dir: join(dir, 'index'), sweepIntervalMs: 0, batchSize: 64, flushMs: 20 });
  t.teardown(() => index.close());
  for (let i = 0; i < 700; i++) {
    embs.push(unitVector(rand, D));
    await index.put(makeRecord({ id: `r${i}`, cls: i % 2 ? 'person' : 'car', thumbnail: Buffer.from(`thumb-${i}`), embedding: i % 2 ? embs[i]! : null }));
  }
  await index.putAlarmFrame({ id: 'f1', cameraId: 'cam-1', department: 'police', at: 1_700_000_000_000, jpeg: Buffer.from('frame-1') });
  await index.flush();

  const rotated = await rotateDataKeyFile(keyFile);
  await ring.reload();
  t.is(ring.currentId, rotated.id);
  for (let i = 700; i < 720; i++) await index.put(makeRecord({ id: `r${i}`, thumbnail: Buffer.from(`thumb-${i}`) }));
  // Reads see a record once its batch is written.
  await index.flush();
  // The sweep and reads at once: every read sees its bytes, whichever key they are under at that moment.
  const sweeping = index.reseal();
  for (let i = 0; i < 720; i += 37) t.is(Buffer.from((await index.thumbnail(`r${i}`, 'all'))!).toString(), `thumb-${i}`);
  const [hit] = await index.faceSearch(embs[301]!, { k: 1 }, 'all');
  t.is(hit?.record.id, 'r301');
  await sweeping;
  // 700 records with bytes, 350 faces, the frame and the verifier were under the first key (the sweep may have
  // been started by the index's own check of the ring before this call: the status counts the whole sweep).
  t.true(index.dataKeyStatus().done);
  t.is(index.dataKeyStatus().resealed, 700 + 350 + 1 + 1);
  t.is(Buffer.from((await index.alarmFrame('f1', 'all'))!.jpeg).toString(), 'frame-1');
  await index.close();

  const usage = await indexDataKeyUsage(join(dir, 'index'));
  t.deepEqual(usage.values, { [rotated.id]: 720 + 350 + 1 + 1 });
  t.is(usage.values[first.id], undefined);
  // Without the old key the index still opens and reads.
  const r = await cli('retire', first.id, '--file', keyFile, '--data-dir', dir);
  t.is(r.code, 0, r.stderr);
  const after = await openIndex({ dataKey: await loadDataKeyring(keyFile), dir: join(dir, 'index'), sweepIntervalMs: 0 });
  t.is(Buffer.from((await after.thumbnail('r5', 'all'))!).toString(), 'thumb-5');
  t.is((await after.get('r301', 'all'))?.embedding?.length, D);
  await after.close();
});

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env['CVCORE_DATA_KEY_FILE'];
    execFile(process.execPath, [BIN, 'keys', ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('encryption - cvcore keys: init (0600, never replaced), rotate --stage/--promote, status with counts, retire refused while in use', async (t) => {
  const { dir, cleanup } = tempDir('enc-cli');
  t.teardown(cleanup);
  let r = await cli('init', '--data-dir', dir, '--json');
  t.is(r.code, 0, r.stderr);
  const made = JSON.parse(r.stdout) as { path: string; id: string; fingerprint: string };
  t.is(made.path, join(dir, 'keys', 'data-key.json'));
  t.is(statSync(made.path).mode & 0o777, 0o600);
  r = await cli('init', '--file', made.path);
  t.is(r.code, 2);
  t.regex(r.stderr, /^error DATA_KEY_EXISTS: /);

  // An index sealed under the first key.
  const index = await openIndex({ dataKey: await loadDataKeyring(made.path), dir: join(dir, 'index'), sweepIntervalMs: 0 });
  for (let i = 0; i < 30; i++) await index.put(makeRecord({ id: `c${i}`, thumbnail: Buffer.from(`t${i}`) }));
  await index.close();

  r = await cli('rotate', '--data-dir', dir, '--stage', '--json');
  t.is(r.code, 0, r.stderr);
  const staged = JSON.parse(r.stdout) as { id: string; previous: string };
  t.is(staged.previous, made.id);
  r = await cli('status', '--data-dir', dir, '--json');
  t.is(r.code, 0, r.stderr);
  let st = JSON.parse(r.stdout) as { current: string; keys: Array<{ id: string; current: boolean; indexValues: number }> };
  t.is(st.current, made.id, 'a staged key is not current');
  t.deepEqual(st.keys.map((k) => [k.id, k.indexValues]), [[made.id, 31], [staged.id, 0]]);
  r = await cli('rotate', '--data-dir', dir, '--promote', staged.id);
  t.is(r.code, 0, r.stderr);
  r = await cli('retire', made.id, '--data-dir', dir);
  t.is(r.code, 2);
  t.regex(r.stderr, /^error DATA_KEY_IN_USE: 31 values/);
  // The core's next start re-seals (its sweep resumes on open); then the old key can go.
  const again = await openIndex({ dataKey: await loadDataKeyring(made.path), dir: join(dir, 'index'), sweepIntervalMs: 0 });
  t.is(await again.reseal(), 31);
  await again.close();
  r = await cli('status', '--data-dir', dir);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`\\* ${staged.id} +[0-9a-f]{16} +31 index values`));
  t.regex(r.stdout, /re-seal: done/);
  r = await cli('retire', made.id, '--data-dir', dir);
  t.is(r.code, 0, r.stderr);
  st = JSON.parse((await cli('status', '--data-dir', dir, '--json')).stdout) as typeof st;
  t.deepEqual(st.keys.map((k) => k.id), [staged.id]);
  r = await cli('retire', staged.id, '--data-dir', dir);
  t.is(r.code, 2);
  t.regex(r.stderr, /^error DATA_KEY_IN_USE: /);
});

test('encryption - a re-seal stopped by a close resumes where it stopped on the next open', async (t) => {
  const { dir, cleanup } = tempDir('enc-resume');
  t.teardown(cleanup);
  const keyFile = join(dir, 'k.json');
  const first = await initDataKeyFile(keyFile);
  const ring = await loadDataKeyring(keyFile);
  let index = await openIndex({ dataKey: ring, dir: join(dir, 'index'), sweepIntervalMs: 0, batchSize: 256 });
  for (let i = 0; i < 2000; i++) await index.put(makeRecord({ id: `s${String(i).padStart(5, '0')}`, thumbnail: Buffer.from(`t${i}`) }));
  await index.flush();
  const second = await rotateDataKeyFile(keyFile);
  await ring.reload();
  const sweeping = index.reseal();
  // Stop as soon as the first batches are done: close lets the batch in progress finish, then the sweep stops.
  await waitUntil(() => index.dataKeyStatus().resealed > 0);
  await index.close();
  await sweeping;
  const mid = await indexDataKeyUsage(join(dir, 'index'));
  t.false(mid.reseal!.done);
  t.true((mid.values[first.id] ?? 0) > 0 && (mid.values[second.id] ?? 0) > 0, JSON.stringify(mid.values));
  index = await openIndex({ dataKey: ring, dir: join(dir, 'index'), sweepIntervalMs: 0 });
  await index.reseal();
  t.true(index.dataKeyStatus().done);
  t.is(index.dataKeyStatus().resealed, 2001);
  await index.close();
  t.deepEqual((await indexDataKeyUsage(join(dir, 'index'))).values, { [second.id]: 2001 });
});

async function waitUntil(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 6000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
}

test('encryption - a folder of layout 2 (thumbnails and embeddings in clear) is refused with INDEX_FORMAT saying what to do, untouched', async (t) => {
  const { dir, cleanup } = tempDir('enc-layout2');
  t.teardown(cleanup);
  const db = createRocks(join(dir, 'db'));
  await db.open(ROCKS_OPEN_OPTIONS);
  await db.batch([
    { type: 'put', key: 'M\x00format', value: Buffer.from('2') },
    { type: 'put', key: 'M\x00counts', value: Buffer.from(JSON.stringify({ records: 0, faces: 0, faceSeq: 1, prefixes: {} })) },
  ]);
  await db.close();
  const err = await t.throwsAsync(open(dir));
  t.is((err as CvcoreError).code, 'INDEX_FORMAT');
  t.regex(err!.message, /layout 2 stored thumbnails and embeddings unencrypted; move it aside and start a new index/);
  const again = createRocks(join(dir, 'db'));
  await again.open(ROCKS_OPEN_OPTIONS);
  const rows = await readRange(again, {});
  await again.close();
  t.deepEqual(rows.map(([k]) => k), ['M\x00counts', 'M\x00format']);
});
