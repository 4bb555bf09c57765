/**
 * POST /api/v1/erasures through the real API harness: real RocksDB index and watch-list store, real face
 * embeddings (faceres on tfjs), an audit chain signed by a node key. Erasure by ids and by a face photo within an
 * admin's departments, the receipt, what goes (records, faces, thumbnails, plate crops, crowd frames, alarms,
 * watch-list entries), what stays (other departments'), the audit entry, the chain still verifying, a restart.
 */
import test from 'ava';
import sharp from 'sharp';
import { join } from 'node:path';
import { loadNodeKey } from '../common/node-key.js';
import { closeFaceEmbedder, embedFaceFromImage } from '../inference/index.js';
import { openIndex, verifyIndex } from '../search-index/index.js';
import { startHarness, TOKENS, T0, type ApiHarness } from './support/api-app.js';
import { makeRecord, tempDir } from './support/index-records.js';
import { encodePng, flip, loadImage } from './support/media.js';
import { JPEG_BYTES, astronautPng, watchAlarm } from './support/watchlist.js';
import { testDataKey } from './support/data-key.js';
import { openTokenStore, type TokenStore } from '../api/index.js';

interface Receipt {
  id: string; dryRun: boolean; by: string; reason: string; caseRef: string;
  match: { by: string; threshold?: number; matches?: number };
  counts: Record<string, number>; tracks: string[]; notFound: string[]; alarms: string[];
  alarmFrames: { blanked: string[]; deleted: string[] };
  watchlistEntries: Array<{ list: string; entry: string }>; watchlistEntriesNotFound: Array<{ list: string; entry: string }>;
}

let h: ApiHarness;
let dir: { dir: string; cleanup: () => void };
let tokens: TokenStore;
let astronaut: Float32Array;
let mirrored: Uint8Array;
const START = T0 + 200_000;
const FRAME = { width: 320, height: 240 };
const BOX = { x: 100, y: 50, w: 40, h: 80 };
const lists: Record<string, string> = {};
const entries: Record<string, string> = {};

async function noiseJpeg(seed: number): Promise<Buffer> {
  const px = Buffer.alloc(FRAME.width * FRAME.height * 3);
  let a = seed;
  for (let i = 0; i < px.length; i++) { a = (a * 1664525 + 1013904223) >>> 0; px[i] = a >>> 24; }
  return sharp(px, { raw: { ...FRAME, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/** Spread of the grey values inside a box of a JPEG (0: one flat colour). */
async function spread(jpeg: Uint8Array, b: { x: number; y: number; w: number; h: number }): Promise<number> {
  const px = await sharp(jpeg).extract({ left: b.x, top: b.y, width: b.w, height: b.h }).greyscale().raw().toBuffer();
  return Math.max(...px) - Math.min(...px);
}

test.before(async () => {
  dir = tempDir('api-erasure');
  const key = await loadNodeKey(join(dir.dir, 'node'));
  tokens = await openTokenStore({ dir: join(dir.dir, 'tokens') });
  h = await startHarness({ perDepartment: 3, faces: { embedFaceFromImage }, watchlists: true, indexDir: join(dir.dir, 'index'), audit: { key, node: 'api-1', checkpointEvery: 5, checkpointIntervalMs: 0 }, tokenStore: tokens });
  const img = await loadImage('astronaut.png');
  astronaut = (await embedFaceFromImage(await encodePng(img)))!.embedding;
  mirrored = await encodePng(flip(img));
  const trajectory = [0, 500, 1000, 1500, 2000].map((dt) => ({ t: START + dt, x: BOX.x, y: BOX.y, w: BOX.w, h: BOX.h }));
  const thumb = await noiseJpeg(5);
  const person = (id: string, cameraId: string, department: string, start: number, extra: Record<string, unknown> = {}) =>
    ({ ...makeRecord({ id, cameraId, department, cls: 'person', start, end: start + 6000, embedding: astronaut, thumbnail: thumb }), trajectory, frame: FRAME, ...extra });
  await h.index.put(person('astro-ps-1', 'cam-ps-1', 'public-security', START));
  await h.index.put(person('astro-ps-2', 'cam-ps-2', 'public-security', START + 100_000, { plateCrop: new Uint8Array(JPEG_BYTES) }));
  await h.index.put(person('astro-tr-1', 'cam-tr-1', 'traffic', START));
  await h.index.flush();
  // Crowd frames: one while the box is measured (blanked), one long after the last box (deleted), one of another camera.
  for (const [id, cameraId, department, at] of [['cam-ps-1-1', 'cam-ps-1', 'public-security', START + 1250], ['cam-ps-1-2', 'cam-ps-1', 'public-security', START + 4500], ['cam-ps-2-1', 'cam-ps-2', 'public-security', START + 1250], ['cam-tr-1-1', 'cam-tr-1', 'traffic', START + 1250]] as const) {
    await h.index.putAlarmFrame!({ id, cameraId, department, at, jpeg: await noiseJpeg(at % 97) });
  }
  const w = h.watchlists!;
  for (const dept of ['public-security', 'traffic']) {
    const l = await w.createList({ name: `wanted-${dept}`, department: dept, kind: 'face' }, 'setup');
    lists[dept] = l.id;
    entries[dept] = (await w.addFaceEntry(l.id, { label: 'astronaut', photos: [await astronautPng()] }, 'setup', 'all'))!.id;
  }
  // A watch-list alarm about astro-ps-1, with its frame and face crop.
  await w.recordAlarm({ ...watchAlarm({ list: lists['public-security']!, entry: entries['public-security']!, department: 'public-security', at: START + 1500, id: 'alarm-astro-1' }), track: 'astro-ps-1' }, { snapshot: JPEG_BYTES, face: JPEG_BYTES });
  await w.recordAlarm({ ...watchAlarm({ list: lists['traffic']!, entry: entries['traffic']!, department: 'traffic', at: START + 1500, camera: 'cam-tr-1', id: 'alarm-astro-tr' }), track: 'astro-tr-1' }, { snapshot: JPEG_BYTES, face: JPEG_BYTES });
});
test.after.always(async () => { await h?.close(); await tokens?.close(); await closeFaceEmbedder(); dir?.cleanup(); });

function postJson(body: unknown, token: string): Promise<Response> {
  return fetch(`${h.url}/api/v1/erasures`, { method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
}

function postPhoto(photo: Uint8Array, fields: Record<string, string>, token: string): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('photo', new Blob([photo], { type: 'image/png' }), 'face.png');
  return fetch(`${h.url}/api/v1/erasures`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
}

async function faceIds(token: string): Promise<string[]> {
  const form = new FormData();
  form.append('image', new Blob([mirrored], { type: 'image/png' }), 'face.png');
  const res = await fetch(`${h.url}/api/v1/faces/search?k=10`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { matches: { record: { id: string }; similarity: number }[] }).matches.filter((m) => m.similarity > 0.6).map((m) => m.record.id);
}

test.serial('api - erasure is for admins only and a bad request names its field', async (t) => {
  const body = { trackIds: ['astro-ps-1'], reason: 'subject request', caseRef: 'DSR-1' };
  t.is((await postJson(body, TOKENS.ps)).status, 403);
  t.is((await postJson(body, TOKENS.operator)).status, 403);
  const noReason = await postJson({ trackIds: ['astro-ps-1'], reason: ' ', caseRef: 'DSR-1' }, TOKENS.adminPs);
  t.is(noReason.status, 400);
  t.like(await noReason.json(), { code: 'API_ERASURE_BAD_REQUEST' });
  const none = await postJson({ trackIds: [], reason: 'r', caseRef: 'c' }, TOKENS.adminPs);
  const noneBody = await none.json() as Record<string, unknown>;
  t.like(noneBody, { code: 'API_ERASURE_BAD_REQUEST' }, JSON.stringify(noneBody));
  // An admin without the face grant erases by track ids, not by a face photo (that is a face search).
  const issued = await fetch(`${h.url}/api/v1/tokens`, { method: 'POST', body: JSON.stringify({ person: 'Desk Admin', role: 'admin', departments: ['public-security'], faces: false }), headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' } });
  t.is(issued.status, 201);
  const noGrant = await postPhoto(mirrored, { reason: 'r', caseRef: 'c', dryRun: 'true' }, ((await issued.json()) as { secret: string }).secret);
  t.is(noGrant.status, 403);
  t.is(((await noGrant.json()) as { code: string }).code, 'API_FACE_GRANT_REQUIRED');
  const badThreshold = await postPhoto(mirrored, { reason: 'r', caseRef: 'c', threshold: '2' }, TOKENS.adminPs);
  t.is(badThreshold.status, 400);
  const bt = await badThreshold.json() as { code: string; message: string };
  t.is(bt.code, 'API_ERASURE_BAD_REQUEST');
  t.regex(bt.message, /threshold/);
  t.truthy(await h.index.get('astro-ps-1', 'all'), 'nothing erased');
});

test.serial('api - erasure by ids within the admin\'s department: dry run, receipt, what goes and what stays, audit', async (t) => {
  t.timeout(60_000);
  const ask = { trackIds: ['astro-ps-1', 'astro-tr-1', 'no-such-track'], reason: 'data subject request', caseRef: 'DSR-2026-17' };
  const dry = await postJson({ ...ask, dryRun: true }, TOKENS.adminPs);
  t.is(dry.status, 200, dry.status === 200 ? '' : await dry.clone().text());
  const d = await dry.json() as Receipt;
  t.true(d.dryRun);
  t.deepEqual(d.tracks, ['astro-ps-1']);
  // Another department's track and a missing one are one list: the answer does not tell them apart.
  t.deepEqual(d.notFound.sort(), ['astro-tr-1', 'no-such-track']);
  t.deepEqual(d.alarmFrames, { blanked: ['cam-ps-1-1'], deleted: ['cam-ps-1-2'] });
  t.deepEqual(d.alarms, ['alarm-astro-1']);
  t.truthy(await h.index.get('astro-ps-1', 'all'), 'a dry run changes nothing');
  const frameBefore = (await h.index.alarmFrame!('cam-ps-1-1', 'all'))!.jpeg;

  const res = await postJson(ask, TOKENS.adminPs);
  t.is(res.status, 200);
  const r = await res.json() as Receipt;
  t.false(r.dryRun);
  t.is(r.by, 'admin-ps');
  t.deepEqual(r.tracks, ['astro-ps-1']);
  t.deepEqual(r.notFound.sort(), ['astro-tr-1', 'no-such-track']);
  t.like(r.counts, { records: 1, faces: 1, thumbnails: 1, trajectories: 1, alarmFramesBlanked: 1, alarmFramesDeleted: 1, alarms: 1, watchlistEntries: 0 });

  t.is((await h.get('/api/v1/tracks/astro-ps-1', TOKENS.admin)).status, 404);
  t.is((await h.get('/api/v1/tracks/astro-ps-1/thumbnail', TOKENS.admin)).status, 404);
  t.is((await h.get('/api/v1/tracks/astro-tr-1', TOKENS.traffic)).status, 200, 'another department\'s track stays');
  const found = await faceIds(TOKENS.admin);
  t.false(found.includes('astro-ps-1'), found.join());
  t.true(found.includes('astro-ps-2') && found.includes('astro-tr-1'), found.join());
  // The crowd frame keeps its place with the person's box flat; the one whose box is unknown is gone.
  const blanked = (await h.index.alarmFrame!('cam-ps-1-1', 'all'))!.jpeg;
  t.true(await spread(frameBefore, { x: BOX.x + 5, y: BOX.y + 5, w: BOX.w - 10, h: BOX.h - 10 }) > 100);
  t.true(await spread(blanked, { x: BOX.x + 5, y: BOX.y + 5, w: BOX.w - 10, h: BOX.h - 10 }) < 24);
  t.true(await spread(blanked, { x: 250, y: 150, w: 40, h: 40 }) > 100, 'the rest of the frame is kept');
  t.is(await h.index.alarmFrame!('cam-ps-1-2', 'all'), null);
  t.truthy(await h.index.alarmFrame!('cam-ps-2-1', 'all'));
  t.truthy(await h.index.alarmFrame!('cam-tr-1-1', 'all'));
  t.is((await h.get('/api/v1/alarms/alarm-astro-1', TOKENS.admin)).status, 404);
  t.is((await h.get('/api/v1/alarms/alarm-astro-tr', TOKENS.admin)).status, 200);

  // The trail: who, why, how many; never the erased ids.
  const audit = await (await h.get('/api/v1/audit?limit=1000', TOKENS.admin)).json() as { entries: Array<{ action: string; tokenId: string; query: Record<string, unknown>; results: unknown }> };
  // The refused attempts of the test before are in the trail too, with their error code.
  t.is(audit.entries.filter((x) => x.action === 'erasure' && x.query['error'] === 'API_ERASURE_BAD_REQUEST').length, 3);
  const e = audit.entries.filter((x) => x.action === 'erasure' && x.query['error'] === undefined);
  t.is(e.length, 1);
  t.is(e[0]!.tokenId, 'admin-ps');
  t.like(e[0]!.query, { reason: 'data subject request', caseRef: 'DSR-2026-17', by: 'trackIds', counts: { records: 1, alarms: 1 } });
  t.is(e[0]!.results, 1);
  t.false(JSON.stringify(e[0]).includes('astro'), JSON.stringify(e[0]));
  t.is(audit.entries.filter((x) => x.action === 'erasure_dry_run' && x.query['error'] === undefined).length, 1);
  t.is(audit.entries.filter((x) => x.action === 'erasure_dry_run' && x.query['error'] === 'API_FACE_GRANT_REQUIRED').length, 1, 'the refusal without the face grant is audited');
  const verify = await h.index.verifyAudit!();
  t.true(verify.ok, JSON.stringify(verify.problems));
});

test.serial('api - erasure by a face photo finds the person\'s tracks and watch-list entries in scope; earlier audit entries can be redacted', async (t) => {
  t.timeout(120_000);
  // An investigator looked at the track before: that look names it in the trail.
  t.is((await h.get('/api/v1/tracks/astro-ps-2', TOKENS.ps)).status, 200);
  const fields = { reason: 'data subject request', caseRef: 'DSR-2026-18', redactAudit: 'true' };
  const dry = await postPhoto(mirrored, { ...fields, dryRun: 'true' }, TOKENS.adminPs);
  t.is(dry.status, 200);
  const d = await dry.json() as Receipt;
  t.deepEqual(d.tracks, ['astro-ps-2']);
  t.deepEqual(d.watchlistEntries, [{ list: lists['public-security'], entry: entries['public-security'] }]);
  t.true(d.counts['auditRedacted']! >= 1);

  const res = await postPhoto(mirrored, fields, TOKENS.adminPs);
  t.is(res.status, 200);
  const r = await res.json() as Receipt;
  t.like(r, { match: { by: 'face', threshold: 0.6, matches: 1 }, counts: { records: 1, faces: 1, plateCrops: 1, watchlistEntries: 1 } });
  t.deepEqual(r.tracks, ['astro-ps-2']);
  t.deepEqual(await faceIds(TOKENS.admin), ['astro-tr-1']);
  t.deepEqual(await faceIds(TOKENS.traffic), ['astro-tr-1'], 'traffic still finds its own');
  t.is((await h.get(`/api/v1/watchlists/${lists['public-security']}/entries/${entries['public-security']}`, TOKENS.ps)).status, 404);
  t.is((await h.get(`/api/v1/watchlists/${lists['traffic']}/entries/${entries['traffic']}`, TOKENS.traffic)).status, 200);
  const audit = await (await h.get('/api/v1/audit?limit=1000', TOKENS.admin)).json() as { entries: Array<{ action: string; query: unknown; results: unknown }> };
  t.false(audit.entries.some((x) => JSON.stringify(x).includes('astro-ps-2')), 'no entry names the erased track');
  t.true(audit.entries.some((x) => x.action === 'redacted'));
  const verify = await h.index.verifyAudit!();
  t.true(verify.ok, JSON.stringify(verify.problems));
  t.true(verify.redacted >= 1);
});

test.serial('api - nothing erased comes back after a restart', async (t) => {
  t.timeout(60_000);
  const indexDir = join(dir.dir, 'index');
  await h.close();
  t.deepEqual((await verifyIndex(indexDir)).problems, []);
  const index = await openIndex({ dataKey: testDataKey(), dir: indexDir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
  t.teardown(() => index.close());
  await index.settle();
  for (const id of ['astro-ps-1', 'astro-ps-2']) t.is(await index.get(id, 'all'), null);
  const matches = (await index.faceSearch(astronaut, { k: 10 }, 'all')).filter((m) => m.similarity > 0.6).map((m) => m.record.id);
  t.deepEqual(matches, ['astro-tr-1']);
  t.is(await index.alarmFrame('cam-ps-1-2', 'all'), null);
});
