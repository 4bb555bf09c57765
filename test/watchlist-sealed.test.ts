/**
 * The watch-list store seals photos, embeddings and alarm images at rest with the data key: nothing of them is in
 * the RocksDB files, a wrong key refuses before anything is read, a rotation re-seals on open, and a clear store
 * from before sealing (format 1) is migrated into a fresh RocksDB that leaves no clear copy behind.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { dataKeyringFrom, rotateDataKeyFile, type DataKeyring } from '../common/data-key.js';
import { DataKeyError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { createRocks, readRange } from '../common/rocks.js';
import { closeFaceEmbedder, embedFacesFromImage } from '../inference/index.js';
import { openWatchlists, type FaceEntry, type WatchlistStore } from '../watchlist/index.js';
import { tempDir } from './support/index-records.js';
import { freshTestDataKey } from './support/data-key.js';
import { astronautPng, messiJpg, watchAlarm } from './support/watchlist.js';

const log = createLogger({ level: 'error', sink: () => undefined });
const PS = { departments: ['public-security'] } as const;
const open = (dir: string, dataKey: DataKeyring): Promise<WatchlistStore> => openWatchlists({ dir, embedder: { embedFacesFromImage }, log, sweepIntervalMs: 0, dataKey });
const SEALED = ['p!', 'v!', 'as!', 'af!'];

test.after.always(async () => { await closeFaceEmbedder(); });

async function allBytes(dir: string): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(await readFile(join(e.parentPath, e.name)));
  return Buffer.concat(out);
}

async function rawValues(dir: string): Promise<Array<[string, Buffer]>> {
  const db = createRocks(dir);
  await db.open({ createIfMissing: false });
  try {
    return (await readRange(db, {})).map(([k, v]) => [k, v!]);
  } finally {
    await db.close();
  }
}

/** A store with one face entry and one alarm with both images; returns the clear bytes to look for. */
async function fill(dir: string, ring: DataKeyring): Promise<{ entry: FaceEntry; list: string; snapshot: Buffer; face: Buffer; photo: Buffer }> {
  const s = await open(dir, ring);
  const l = await s.createList({ name: 'Wanted', department: 'public-security', kind: 'face' }, 'inv');
  const entry = (await s.addFaceEntry(l.id, { label: 'astronaut', photos: [await astronautPng()] }, 'inv', PS)) as FaceEntry;
  const snapshot = await messiJpg();
  const face = await sharp(await astronautPng()).resize(112, 112).jpeg().toBuffer();
  await s.recordAlarm(watchAlarm({ list: l.id, entry: entry.id, department: 'public-security', at: Date.now(), id: 'al-1' }), { snapshot, face });
  const photo = Buffer.from((await s.entryPhoto(l.id, entry.id, 0, PS))!);
  await s.close();
  return { entry, list: l.id, snapshot, face, photo };
}

const window = (b: Buffer): Buffer => b.subarray(Math.floor(b.length / 2), Math.floor(b.length / 2) + 48);

test('watchlist sealed - photos, embeddings and alarm images are not on disk in clear; another key refuses before reading; a rotation re-seals on open', async (t) => {
  const { dir, cleanup } = tempDir('wl-sealed');
  t.teardown(cleanup);
  const ring = await freshTestDataKey();
  const f = await fill(dir, ring);

  const raw = await rawValues(dir);
  const vector = raw.find(([k]) => k.startsWith('v!'))!;
  const embedding = ring.open(vector[1], vector[0]);
  t.is(embedding.length, 1024 * 4);
  for (const [k, v] of raw) if (SEALED.some((p) => k.startsWith(p))) t.is(ring.keyIdOf(v), ring.currentId, `${k} is sealed`);
  const disk = await allBytes(dir);
  t.false(disk.includes(window(f.photo)), 'the stored photo');
  t.false(disk.includes(window(f.snapshot)), 'the alarm frame');
  t.false(disk.includes(window(f.face)), 'the alarm face');
  t.false(disk.includes(window(embedding)), 'the embedding');

  // Another key file: refused with a typed error, nothing opened; the same id holding another key: refused too.
  const other = await t.throwsAsync(open(dir, await freshTestDataKey()));
  t.true(other instanceof DataKeyError && other.code === 'DATA_KEY_UNKNOWN_ID', String(other));
  const forged = dataKeyringFrom({ v: 1, current: ring.currentId, keys: [{ id: ring.currentId, key: randomBytes(32).toString('base64'), created: new Date().toISOString() }] });
  const wrong = await t.throwsAsync(open(dir, forged));
  t.true(wrong instanceof DataKeyError && wrong.code === 'DATA_KEY_WRONG', String(wrong));

  // The right key reads everything back, and the embedding still matches a face.
  const s = await open(dir, ring);
  t.deepEqual(Buffer.from((await s.entryPhoto(f.list, f.entry.id, 0, PS))!), f.photo);
  t.deepEqual(Buffer.from((await s.alarmImage('al-1', 'snapshot', PS))!), f.snapshot);
  t.deepEqual(Buffer.from((await s.alarmImage('al-1', 'face', PS))!), f.face);
  const mirror = (await embedFacesFromImage(await sharp(await astronautPng()).flop().png().toBuffer())).faces[0]!.embedding;
  t.is(s.matchFace('public-security', mirror, Date.now())[0]?.entry, f.entry.id);
  await s.close();

  // Rotation: the next open re-seals every value under the new key; the old one is no longer needed.
  const old = ring.currentId;
  await rotateDataKeyFile(ring.path);
  await ring.reload();
  t.not(ring.currentId, old);
  await (await open(dir, ring)).close();
  for (const [k, v] of await rawValues(dir)) if (SEALED.some((p) => k.startsWith(p)) || k === 'meta!dataKey') t.is(ring.keyIdOf(v), ring.currentId, `${k} re-sealed`);
});

test('watchlist sealed - a clear store from before sealing (format 1) is migrated into a fresh RocksDB with no clear copy left', async (t) => {
  const { dir, cleanup } = tempDir('wl-migrate');
  t.teardown(cleanup);
  const ring = await freshTestDataKey();
  const f = await fill(dir, ring);
  // Turn it into what a core before sealing wrote: the same layout with the values in clear, format 1, no verifier.
  const db = createRocks(dir);
  await db.open({ createIfMissing: false });
  const rows = await readRange(db, {});
  await db.batch([
    ...rows.filter(([k]) => SEALED.some((p) => k.startsWith(p))).map(([k, v]) => ({ type: 'put' as const, key: k, value: ring.open(v!, k) })),
    { type: 'put', key: 'meta!format', value: Buffer.from('1') },
    { type: 'del', key: 'meta!dataKey' },
  ]);
  await db.close();
  t.true((await allBytes(dir)).includes(window(f.photo)), 'the clear store holds the photo in clear');

  const s = await open(dir, ring);
  t.deepEqual(Buffer.from((await s.entryPhoto(f.list, f.entry.id, 0, PS))!), f.photo);
  t.deepEqual(Buffer.from((await s.alarmImage('al-1', 'snapshot', PS))!), f.snapshot);
  t.is((await s.entries(f.list, PS))!.items.length, 1);
  await s.close();
  const disk = await allBytes(dir);
  t.false(disk.includes(window(f.photo)), 'no clear photo after the migration');
  t.false(disk.includes(window(f.snapshot)), 'no clear alarm frame after the migration');
  t.false(existsSync(`${dir}.sealing`) || existsSync(`${dir}.clear`), 'the migration left no folder behind');
  const raw = await rawValues(dir);
  t.is(raw.find(([k]) => k === 'meta!format')![1].toString(), '2');
});
