/**
 * The watch-list store on disk with the real face models: round trip and restart, a removed entry or deleted
 * list stops matching at once, expiry, plates exact and fuzzy, photos with no face or several, the alarm log
 * (counters, history, states, retention).
 */
import test from 'ava';
import sharp from 'sharp';
import { WatchlistError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { closeFaceEmbedder, embedFacesFromImage } from '../inference/index.js';
import { DEFAULT_FACE_THRESHOLD, openWatchlists, PHOTO_MAX_SIDE, type FaceEntry, type PhotoEmbedder, type WatchlistStore } from '../watchlist/index.js';
import { tempDir } from './support/index-records.js';
import { JPEG_BYTES, astronautPng, gradientPng, messiJpg, twoFacesPng, watchAlarm } from './support/watchlist.js';
import { sharedTestDataKey } from './support/data-key.js';
import type { DataKeyring } from '../common/data-key.js';

const log = createLogger({ level: 'error', sink: () => undefined });
const embedder: PhotoEmbedder = { embedFacesFromImage };
const PS = { departments: ['public-security'] } as const;
const TRAFFIC = { departments: ['traffic'] } as const;

async function faceOf(bytes: Buffer): Promise<Float32Array> {
  const r = await embedFacesFromImage(bytes);
  if (r.faces.length !== 1) throw new Error(`expected one face, found ${r.faces.length}`);
  return r.faces[0]!.embedding;
}

const open = async (dir: string, o: { alarmRetentionMs?: number; dataKey?: DataKeyring } = {}): Promise<WatchlistStore> => openWatchlists({ dir, embedder, log, sweepIntervalMs: 0, dataKey: await sharedTestDataKey(), ...o });

test.after.always(async () => { await closeFaceEmbedder(); });

test('watchlist - store round trip survives a restart; photos are bounded JPEGs; the astronaut matches, messi5 does not', async (t) => {
  const { dir, cleanup } = tempDir('wl-store');
  try {
    let s = await open(dir);
    const faces = await s.createList({ name: 'Wanted', department: 'public-security', kind: 'face', note: 'n' }, 'inv-ps');
    const plates = await s.createList({ name: 'Hot plates', department: 'traffic', kind: 'plate' }, 'inv-traffic');
    const big = await sharp(await astronautPng()).resize(1200, 1200).png().toBuffer();
    const e = await s.addFaceEntry(faces.id, { label: 'astronaut', photos: [await astronautPng(), big] }, 'inv-ps', PS);
    t.truthy(e);
    t.is(e!.photos.length, 2);
    t.is(e!.threshold, DEFAULT_FACE_THRESHOLD);
    const p = await s.addPlateEntry(plates.id, { label: 'stolen', plate: '鲁b·12345', match: 'fuzzy' }, 'inv-traffic', TRAFFIC);
    t.is(p!.plate, '鲁B12345');
    // Another department's list is invisible: null, as if it did not exist.
    t.is(await s.addPlateEntry(plates.id, { label: 'x', plate: '鲁B12345' }, 'inv-ps', PS), null);
    t.is(await s.list(plates.id, PS), null);
    await s.close();

    s = await open(dir);
    t.deepEqual((await s.lists('all')).map((l) => [l.name, l.entries]).sort(), [['Hot plates', 1], ['Wanted', 1]]);
    t.deepEqual((await s.lists(PS)).map((l) => l.id), [faces.id]);
    t.deepEqual(await s.entry(faces.id, e!.id, PS), e);
    for (const n of [0, 1]) {
      const jpeg = await s.entryPhoto(faces.id, e!.id, n, PS);
      const meta = await sharp(jpeg!).metadata();
      t.is(meta.format, 'jpeg');
      t.true(Math.max(meta.width!, meta.height!) <= PHOTO_MAX_SIDE, `${meta.width}x${meta.height}`);
    }
    t.is(await s.entryPhoto(faces.id, e!.id, 2, PS), null);
    const mirror = await faceOf(await sharp(await astronautPng()).flop().png().toBuffer());
    const hits = s.matchFace('public-security', mirror, Date.now());
    t.is(hits.length, 1);
    t.is(hits[0]!.entry, e!.id);
    t.true(hits[0]!.similarity >= DEFAULT_FACE_THRESHOLD);
    t.deepEqual(s.matchFace('public-security', await faceOf(await messiJpg()), Date.now()), []);
    // Lists match within their department only.
    t.deepEqual(s.matchFace('traffic', mirror, Date.now()), []);
    t.true(s.hasFaceEntries('public-security'));
    t.false(s.hasFaceEntries('traffic'));
    t.is(s.matchPlate('traffic', '鲁B12345', Date.now())[0]?.edits, 0);
    await s.close();
  } finally {
    cleanup();
  }
});

test('watchlist - a removed entry and a deleted list stop matching before the call resolves', async (t) => {
  const { dir, cleanup } = tempDir('wl-remove');
  const s = await open(dir);
  try {
    const l = await s.createList({ name: 'L', department: 'public-security', kind: 'face' }, 'a');
    const e = await s.addFaceEntry(l.id, { label: 'astronaut', photos: [await astronautPng()] }, 'a', 'all');
    const q = await faceOf(await sharp(await astronautPng()).extract({ left: 20, top: 10, width: 450, height: 450 }).png().toBuffer());
    t.is(s.matchFace('public-security', q, Date.now()).length, 1);
    // Out of scope: not removed, still matching.
    t.false(await s.removeEntry(l.id, e!.id, TRAFFIC));
    t.is(s.matchFace('public-security', q, Date.now()).length, 1);
    const removing = s.removeEntry(l.id, e!.id, PS);
    // Already before the write lands.
    t.deepEqual(s.matchFace('public-security', q, Date.now()), []);
    t.true(await removing);
    t.is(await s.entry(l.id, e!.id, PS), null);

    const e2 = await s.addFaceEntry(l.id, { label: 'again', photos: [await astronautPng()] }, 'a', PS);
    t.is(s.matchFace('public-security', q, Date.now())[0]?.entry, e2!.id);
    t.true(await s.deleteList(l.id, PS));
    t.deepEqual(s.matchFace('public-security', q, Date.now()), []);
    t.is(await s.list(l.id, 'all'), null);
    t.false(s.hasFaceEntries('public-security'));
  } finally {
    await s.close();
    cleanup();
  }
});

test('watchlist - an expired entry stops matching and stays listed; expiry in the past is refused', async (t) => {
  const { dir, cleanup } = tempDir('wl-expiry');
  const s = await open(dir);
  try {
    const l = await s.createList({ name: 'L', department: 'public-security', kind: 'face' }, 'a');
    const now = Date.now();
    const e = await s.addFaceEntry(l.id, { label: 'astronaut', expiresAt: now + 60_000, photos: [await astronautPng()] }, 'a', PS);
    const q = await faceOf(await astronautPng());
    t.is(s.matchFace('public-security', q, now).length, 1);
    t.deepEqual(s.matchFace('public-security', q, now + 60_001), []);
    t.is(s.bestOf([l.id], q, now + 60_001), null);
    t.is(s.bestOf([l.id], q, now)?.entry, e!.id);
    t.is((await s.entries(l.id, PS))!.items.length, 1);
    const err = await t.throwsAsync(s.addFaceEntry(l.id, { label: 'x', expiresAt: now - 1, photos: [await astronautPng()] }, 'a', PS), { instanceOf: WatchlistError });
    t.is(err!.code, 'WATCHLIST_BAD_ENTRY');
    t.regex(err!.message, /expiresAt/);
    // A later expiry takes effect at once; so does a higher threshold.
    await s.updateEntry(l.id, e!.id, { expiresAt: now + 3600_000 }, PS);
    t.is(s.matchFace('public-security', q, now + 60_001).length, 1);
    await s.updateEntry(l.id, e!.id, { threshold: 1 }, PS);
    t.true(s.matchFace('public-security', q, now).length <= 1);
    const thr = await t.throwsAsync(s.updateEntry(l.id, e!.id, { threshold: 1.5 }, PS), { instanceOf: WatchlistError });
    t.regex(thr!.message, /threshold/);
  } finally {
    await s.close();
    cleanup();
  }
});

test('watchlist - plates: canonical form, exact and one-edit fuzzy, not-a-plate says why', async (t) => {
  const { dir, cleanup } = tempDir('wl-plates');
  const s = await open(dir);
  try {
    const l = await s.createList({ name: 'P', department: 'traffic', kind: 'plate' }, 'a');
    const exact = await s.addPlateEntry(l.id, { label: 'exact', plate: '鲁B12345' }, 'a', TRAFFIC);
    const fuzzy = await s.addPlateEntry(l.id, { label: 'fuzzy', plate: '京A·D1234', match: 'fuzzy' }, 'a', TRAFFIC);
    const at = Date.now();
    t.deepEqual(s.matchPlate('traffic', '鲁B12345', at).map((h) => [h.entry, h.edits]), [[exact!.id, 0]]);
    t.deepEqual(s.matchPlate('traffic', '鲁B12346', at), [], 'exact entries take no edit');
    t.deepEqual(s.matchPlate('traffic', '京AD1234', at).map((h) => [h.entry, h.edits]), [[fuzzy!.id, 0]]);
    t.deepEqual(s.matchPlate('traffic', '京AD1235', at).map((h) => h.edits), [1], 'substitution');
    t.deepEqual(s.matchPlate('traffic', '京AD12345', at).map((h) => h.edits), [1], 'insertion');
    t.deepEqual(s.matchPlate('traffic', '京AD123', at).map((h) => h.edits), [1], 'deletion');
    t.deepEqual(s.matchPlate('traffic', '京AD12', at), [], 'two edits');
    t.deepEqual(s.matchPlate('public-security', '鲁B12345', at), [], 'another department');
    for (const [plate, why] of [['hello', /characters no plate has|7 \(standard\)/], ['鲁B123', /3|5 characters|has \d characters/], ['AB12345', /province/], ['鲁112345', /letter/]] as const) {
      const err = await t.throwsAsync(s.addPlateEntry(l.id, { label: 'x', plate }, 'a', TRAFFIC), { instanceOf: WatchlistError });
      t.is(err!.code, 'WATCHLIST_BAD_PLATE');
      t.regex(err!.message, why);
    }
    const mismatch = await t.throwsAsync(s.addFaceEntry(l.id, { label: 'x', photos: [await astronautPng()] }, 'a', TRAFFIC), { instanceOf: WatchlistError });
    t.is(mismatch!.code, 'WATCHLIST_KIND_MISMATCH');
    t.true(await s.removeEntry(l.id, fuzzy!.id, TRAFFIC));
    t.deepEqual(s.matchPlate('traffic', '京AD1234', at), []);
  } finally {
    await s.close();
    cleanup();
  }
});

test('watchlist - a photo with no face or several faces is refused by name and nothing is stored', async (t) => {
  const { dir, cleanup } = tempDir('wl-photos');
  const s = await open(dir);
  try {
    const l = await s.createList({ name: 'L', department: 'public-security', kind: 'face' }, 'a');
    const none = await t.throwsAsync(s.addFaceEntry(l.id, { label: 'x', photos: [await astronautPng(), await gradientPng()] }, 'a', PS), { instanceOf: WatchlistError });
    t.is(none!.code, 'WATCHLIST_NO_FACE');
    t.regex(none!.message, /photo 2 of 2/);
    const many = await t.throwsAsync(s.addFaceEntry(l.id, { label: 'x', photos: [await twoFacesPng()] }, 'a', PS), { instanceOf: WatchlistError });
    t.is(many!.code, 'WATCHLIST_MANY_FACES');
    t.regex(many!.message, /photo 1 of 1 holds 2 faces/);
    t.is(many!.detail['count'], 2);
    t.is((many!.detail['boxes'] as unknown[]).length, 2);
    const six = await t.throwsAsync(s.addFaceEntry(l.id, { label: 'x', photos: Array(6).fill(JPEG_BYTES) }, 'a', PS), { instanceOf: WatchlistError });
    t.is(six!.code, 'WATCHLIST_BAD_ENTRY');
    const bad = await t.throwsAsync(s.addFaceEntry(l.id, { label: 'x', photos: [new TextEncoder().encode('not an image')] }, 'a', PS));
    t.is((bad as WatchlistError).code, 'INFERENCE_BAD_IMAGE');
    for (const [input, field] of [[{ label: '' }, 'label'], [{ label: 'x'.repeat(129) }, 'label'], [{ label: 'x', threshold: 1.5 }, 'threshold'], [{ label: 'x', note: 'n'.repeat(1001) }, 'note']] as const) {
      const err = await t.throwsAsync(s.addFaceEntry(l.id, { ...input, photos: [await astronautPng()] }, 'a', PS), { instanceOf: WatchlistError });
      t.is(err!.code, 'WATCHLIST_BAD_ENTRY');
      t.is(err!.detail['field'], field);
    }
    t.is((await s.entries(l.id, PS))!.items.length, 0);
    t.false(s.hasFaceEntries('public-security'));
  } finally {
    await s.close();
    cleanup();
  }
});

test('watchlist - alarm log: counters, entry history, states, scope, restart and retention', async (t) => {
  const { dir, cleanup } = tempDir('wl-alarms');
  let s = await open(dir, { alarmRetentionMs: 24 * 3600_000 });
  try {
    const l = await s.createList({ name: 'L', department: 'public-security', kind: 'face' }, 'a');
    const e = (await s.addFaceEntry(l.id, { label: 'astronaut', photos: [await astronautPng()] }, 'a', PS)) as FaceEntry;
    const now = Date.now();
    const old = watchAlarm({ list: l.id, entry: e.id, department: 'public-security', at: now - 2 * 24 * 3600_000 });
    const a1 = watchAlarm({ list: l.id, entry: e.id, department: 'public-security', at: now - 60_000 });
    const a2 = watchAlarm({ list: l.id, entry: e.id, department: 'public-security', at: now - 30_000, camera: 'cam-ps-2' });
    const other = watchAlarm({ list: 'l-traffic', entry: 'e-traffic', department: 'traffic', at: now - 10_000, camera: 'cam-tr-1' });
    await s.recordAlarm(old, { snapshot: JPEG_BYTES, face: null });
    await s.recordAlarm(a1, { snapshot: JPEG_BYTES, face: JPEG_BYTES });
    await s.recordAlarm(a1, { snapshot: JPEG_BYTES, face: JPEG_BYTES });
    await s.recordAlarm(a2, { snapshot: null, face: null });
    await s.recordAlarm(other, { snapshot: null, face: null });
    const entry = await s.entry(l.id, e.id, PS);
    t.is(entry!.matches, 3, 'the repeated alarm counted once');
    t.is(entry!.lastMatchAt, a2.at);
    t.deepEqual((await s.alarms(PS)).items.map((a) => a.alarm.id), [a2.id, a1.id, old.id]);
    t.deepEqual((await s.alarms('all')).items.map((a) => a.alarm.id), [other.id, a2.id, a1.id, old.id]);
    t.deepEqual((await s.alarms(PS, { camera: 'cam-ps-2' })).items.map((a) => a.alarm.id), [a2.id]);
    t.deepEqual((await s.alarms(PS, { from: now - 90_000, to: now - 45_000 })).items.map((a) => a.alarm.id), [a1.id]);
    const p1 = await s.alarms('all', { limit: 2 });
    t.is(p1.items.length, 2);
    const p2 = await s.alarms('all', { limit: 2, cursor: p1.nextCursor! });
    t.deepEqual(p2.items.map((a) => a.alarm.id), [a1.id, old.id]);
    t.is(await s.alarm(other.id, PS), null);
    t.is(await s.alarmImage(other.id, 'snapshot', 'all'), null);
    t.deepEqual(Buffer.from((await s.alarmImage(a1.id, 'face', PS))!), JPEG_BYTES);
    t.deepEqual((await s.entryMatches(l.id, e.id, PS))!.items.map((a) => a.alarm.id), [a2.id, a1.id, old.id]);
    t.is(await s.entryMatches(l.id, e.id, TRAFFIC), null);

    const ack = await s.setAlarmState(a1.id, 'acknowledged', 'inv-ps', 'seen', PS);
    t.is(ack!.state, 'acknowledged');
    t.is(ack!.handledBy, 'inv-ps');
    t.is(await s.setAlarmState(other.id, 'acknowledged', 'inv-ps', null, PS), null);
    const dis = await s.setAlarmState(a1.id, 'dismissed', 'inv-ps', 'false alarm', PS);
    t.is(dis!.state, 'dismissed');
    const final = await t.throwsAsync(s.setAlarmState(a1.id, 'acknowledged', 'admin', null, 'all'), { instanceOf: WatchlistError });
    t.is(final!.code, 'WATCHLIST_ALARM_FINAL');
    t.deepEqual((await s.alarms(PS, { state: 'dismissed' })).items.map((a) => a.alarm.id), [a1.id]);
    await s.close();

    s = await open(dir, { alarmRetentionMs: 24 * 3600_000 });
    // The restart swept the two-day-old alarm with its snapshot and history line; the rest is as it was.
    t.is(await s.alarm(old.id, 'all'), null);
    t.is(await s.alarmImage(old.id, 'snapshot', 'all'), null);
    t.deepEqual((await s.entryMatches(l.id, e.id, PS))!.items.map((a) => a.alarm.id), [a2.id, a1.id]);
    const kept = await s.alarm(a1.id, PS);
    t.is(kept!.state, 'dismissed');
    t.is(kept!.handledNote, 'false alarm');
    t.is((await s.entry(l.id, e.id, PS))!.matches, 3);
    t.is(await s.sweep(now + 2 * 24 * 3600_000), 3);
    t.deepEqual((await s.alarms('all')).items, []);
  } finally {
    await s.close();
    cleanup();
  }
});
