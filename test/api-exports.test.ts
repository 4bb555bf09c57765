import test from 'ava';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyExport } from '../evidence/index.js';
import { JPEG_THUMB, startHarness, T0, TOKENS, type ApiHarness } from './support/api-app.js';
import { tempDir } from './support/index-records.js';
import { readZip } from './support/zips.js';

interface ExportView {
  id: string; createdBy: string; departments: string[]; bytes: number; files: number; sha256: string; downloadRef: string; path?: string;
  request: { trackIds: string[]; cameras: string[]; records: string[]; missing: { cameraId: string; from: number; to: number; code: string }[] };
  hold: { note: string; by: string } | null;
}
interface ErrorBody { code: string; message: string }

let h: ApiHarness;
let tmp: ReturnType<typeof tempDir>;
test.before(async () => {
  h = await startHarness({ perDepartment: 8, exports: { maxTracks: 3, maxRangeMs: 60_000 } });
  tmp = tempDir('api-exports-dl');
});
test.after.always(async () => { await h?.close(); tmp?.cleanup(); });

const enc = encodeURIComponent;
const post = (path: string, token: string, body: unknown): Promise<Response> =>
  fetch(h.url + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function auditOf(action: string): Promise<{ tokenId: string; action: string; query: Record<string, unknown>; results: string[] | number }[]> {
  const page = await h.index.readAudit({ limit: 1000 });
  return page.entries.filter((e) => e.action === action) as never;
}

async function download(ref: string, token: string, range?: string): Promise<Response> {
  return fetch(h.url + ref, { headers: { authorization: `Bearer ${token}`, ...(range ? { range } : {}) } });
}

test.serial('api - an investigator exports their tracks: records, thumbnails, clips listed as missing without recordings; the zip verifies', async (t) => {
  const [a, b] = [h.records['public-security'][2]!, h.records['public-security'][3]!];
  const res = await post('/api/v1/exports', TOKENS.ps, { trackIds: [a.id, b.id], note: 'case 114' });
  t.is(res.status, 201, await res.clone().text());
  const e = await res.json() as ExportView;
  t.regex(e.id, /^exp-/);
  t.is(e.path, undefined, 'the server path stays on the server');
  t.is(e.createdBy, 'inv-ps');
  t.deepEqual(e.departments, ['public-security']);
  t.deepEqual(e.request.records, [a.id, b.id]);
  t.deepEqual(e.request.missing.map((m) => [m.cameraId, m.from, m.to, m.code]), [
    [a.cameraId, a.start - 3000, a.end + 3000, 'RECORDING_OFF'], [b.cameraId, b.start - 3000, b.end + 3000, 'RECORDING_OFF'],
  ]);
  t.is(e.downloadRef, `/api/v1/exports/${e.id}/download`);

  const dl = await download(e.downloadRef, TOKENS.ps);
  t.is(dl.status, 200);
  t.is(dl.headers.get('content-type'), 'application/zip');
  t.is(dl.headers.get('accept-ranges'), 'bytes');
  const zip = Buffer.from(await dl.arrayBuffer());
  t.is(zip.length, e.bytes);
  t.is(sha(zip), e.sha256);
  const file = join(tmp.dir, `${e.id}.zip`);
  await writeFile(file, zip);
  const v = await verifyExport(file);
  t.true(v.ok);
  const key = await (await h.get('/api/v1/exports/key', TOKENS.operator)).json() as { fingerprint: string; publicKeyPem: string; algorithm: string };
  t.is(key.algorithm, 'ed25519');
  t.is(v.keyFingerprint, key.fingerprint, 'signed by this node\'s key');
  t.true((await verifyExport(file, { trustedKeyPem: key.publicKeyPem })).ok);

  const entries = await readZip(file);
  const seg = (id: string): string => id.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  t.deepEqual([...entries.keys()].sort(), ['manifest.json', 'manifest.sig', 'node-key.pem', `records/${seg(a.id)}.jpg`, `records/${seg(a.id)}.json`, `records/${seg(b.id)}.jpg`, `records/${seg(b.id)}.json`, 'request.json'].sort());
  // The record as the track API answers it.
  const api = await (await h.get(`/api/v1/tracks/${enc(a.id)}`, TOKENS.ps)).json();
  t.deepEqual(JSON.parse(entries.get(`records/${seg(a.id)}.json`)!.toString('utf8')), api);
  t.deepEqual(entries.get(`records/${seg(a.id)}.jpg`), JPEG_THUMB);
  const manifest = JSON.parse(entries.get('manifest.json')!.toString('utf8')) as { createdBy: string; node: string; request: { note: string; missing: unknown[] } };
  t.is(manifest.createdBy, 'inv-ps');
  t.is(manifest.node, 'test-node');
  t.is(manifest.request.note, 'case 114');
  t.is(manifest.request.missing.length, 2, 'the manifest\'s request notes name the missing clips');

  // Audited: who exported what, with the zip's digest; and the download.
  const created = (await auditOf('export_create')).filter((x) => x.query['id'] === e.id);
  t.is(created.length, 1);
  t.like(created[0]!, { tokenId: 'inv-ps', query: { sha256: e.sha256, trackIds: [a.id, b.id] } });
  t.deepEqual(created[0]!.results, [e.id, a.id, b.id]);
  const downloads = (await auditOf('export_download')).filter((x) => x.query['id'] === e.id);
  t.is(downloads.length, 1);
  t.like(downloads[0]!, { tokenId: 'inv-ps', query: { sha256: e.sha256 } });
});

test.serial('api - downloads take ranges; the ranges of one viewing are audited once, every whole download is', async (t) => {
  const res = await post('/api/v1/exports', TOKENS.ps, { trackIds: [h.records['public-security'][4]!.id] });
  const e = await res.json() as ExportView;
  const whole = Buffer.from(await (await download(e.downloadRef, TOKENS.ps)).arrayBuffer());
  const part = await download(e.downloadRef, TOKENS.ps, 'bytes=10-109');
  t.is(part.status, 206);
  t.is(part.headers.get('content-range'), `bytes 10-109/${whole.length}`);
  t.deepEqual(Buffer.from(await part.arrayBuffer()), whole.subarray(10, 110));
  const tail = await download(e.downloadRef, TOKENS.ps, 'bytes=-20');
  t.is(tail.status, 206);
  t.deepEqual(Buffer.from(await tail.arrayBuffer()), whole.subarray(whole.length - 20));
  const rest = await download(e.downloadRef, TOKENS.ps, `bytes=${whole.length - 5}-`);
  t.deepEqual(Buffer.from(await rest.arrayBuffer()), whole.subarray(whole.length - 5));
  const outside = await download(e.downloadRef, TOKENS.ps, `bytes=${whole.length}-`);
  t.is(outside.status, 416);
  t.is(outside.headers.get('content-range'), `bytes */${whole.length}`);
  t.is((await outside.json() as ErrorBody).code, 'API_RANGE_NOT_SATISFIABLE');
  // <a href> downloads cannot send headers: ?token= works too.
  t.is((await fetch(`${h.url}${e.downloadRef}?token=${TOKENS.ps}`)).status, 200);
  const lines = (await auditOf('export_download')).filter((x) => x.query['id'] === e.id);
  t.is(lines.length, 3, 'two whole downloads and the first of the ranges');
  t.is(lines.filter((l) => l.query['range'] !== null).length, 1);
});

test.serial('api - another department\'s track or camera answers exactly like a missing one, and nothing is exported', async (t) => {
  const other = h.records.traffic[1]!.id;
  const own = h.records['public-security'][1]!.id;
  const hidden = await post('/api/v1/exports', TOKENS.ps, { trackIds: [own, other] });
  const missing = await post('/api/v1/exports', TOKENS.ps, { trackIds: [own, 'traffic-999'] });
  t.is(hidden.status, 404);
  t.is(missing.status, 404);
  const hb = await hidden.json() as ErrorBody;
  const mb = await missing.json() as ErrorBody;
  t.is(hb.code, 'INDEX_NOT_FOUND');
  t.is(hb.code, mb.code);
  t.is(hb.message.replace(other, 'X'), mb.message.replace('traffic-999', 'X'));
  t.deepEqual(Object.keys(hb).sort(), Object.keys(mb).sort());

  const camHidden = await post('/api/v1/exports', TOKENS.ps, { cameras: ['cam-tr-1'], from: T0, to: T0 + 10_000 });
  const camMissing = await post('/api/v1/exports', TOKENS.ps, { cameras: ['cam-xx-9'], from: T0, to: T0 + 10_000 });
  t.is(camHidden.status, 404);
  const ch = await camHidden.json() as ErrorBody;
  const cm = await camMissing.json() as ErrorBody;
  t.is(ch.code, cm.code);
  t.is(ch.message.replace('cam-tr-1', 'X'), cm.message.replace('cam-xx-9', 'X'));
  const refused = (await auditOf('export_create')).filter((x) => x.tokenId === 'inv-ps' && x.results === 0);
  t.true(refused.some((x) => (x.query['trackIds'] as string[]).includes(other) && x.query['error'] === 'INDEX_NOT_FOUND'), 'the refused attempt is in the trail');
  t.true((await (await h.get('/api/v1/exports', TOKENS.ps)).json() as { exports: ExportView[] }).exports.every((e) => !e.request.trackIds.includes(other)));
});

test.serial('api - exports are visible only to callers of all their departments', async (t) => {
  const res = await post('/api/v1/exports', TOKENS.traffic, { trackIds: [h.records.traffic[2]!.id] });
  t.is(res.status, 201);
  const e = await res.json() as ExportView;
  t.deepEqual(e.departments, ['traffic']);
  const ids = async (token: string): Promise<string[]> => ((await (await h.get('/api/v1/exports', token)).json()) as { exports: ExportView[] }).exports.map((x) => x.id);
  t.true((await ids(TOKENS.traffic)).includes(e.id));
  t.true((await ids(TOKENS.admin)).includes(e.id));
  t.false((await ids(TOKENS.ps)).includes(e.id));
  t.true((await ids(TOKENS.traffic)).every((id) => id === e.id || !id), 'traffic sees none of public security\'s');
  for (const path of [`/api/v1/exports/${e.id}`, `/api/v1/exports/${e.id}/download`]) {
    const hidden = await h.get(path, TOKENS.ps);
    const missing = await h.get(path.replace(e.id, 'exp-zzzzzzzz-00000000'), TOKENS.ps);
    t.is(hidden.status, 404, path);
    t.is(missing.status, 404);
    const a = await hidden.json() as ErrorBody;
    const b = await missing.json() as ErrorBody;
    t.is(a.code, 'EVIDENCE_NOT_FOUND');
    t.is(a.message.replace(e.id, 'X'), b.message.replace('exp-zzzzzzzz-00000000', 'X'));
  }
  t.is((await h.get(`/api/v1/exports/${e.id}`, TOKENS.admin)).status, 200);
});

test.serial('api - a camera range exports the camera\'s records in it; a range with neither records nor recordings is EVIDENCE_EMPTY', async (t) => {
  const inRange = h.records['public-security'].filter((r) => r.cameraId === 'cam-ps-1' && r.start >= T0 && r.start <= T0 + 5_000);
  t.true(inRange.length >= 2);
  const res = await post('/api/v1/exports', TOKENS.ps, { cameras: ['cam-ps-1'], from: T0, to: T0 + 5_000 });
  t.is(res.status, 201, await res.clone().text());
  const e = await res.json() as ExportView;
  t.deepEqual([...e.request.records].sort(), inRange.map((r) => r.id).sort());
  t.deepEqual(e.request.missing.map((m) => [m.cameraId, m.from, m.to, m.code]), [['cam-ps-1', T0, T0 + 5_000, 'RECORDING_OFF']]);
  const empty = await post('/api/v1/exports', TOKENS.ps, { cameras: ['cam-ps-1'], from: T0 - 50_000, to: T0 - 40_000 });
  t.is(empty.status, 404);
  t.is((await empty.json() as ErrorBody).code, 'EVIDENCE_EMPTY');
  // ISO times are taken as well as epoch ms.
  const iso = await post('/api/v1/exports', TOKENS.ps, { cameras: ['cam-ps-1'], from: new Date(T0).toISOString(), to: new Date(T0 + 5_000).toISOString() });
  t.is(iso.status, 201);
});

test.serial('api - operators may not export, list or download (403), but may read the node key', async (t) => {
  const mine = ((await (await h.get('/api/v1/exports', TOKENS.ps)).json()) as { exports: ExportView[] }).exports[0]!;
  for (const [method, path] of [['POST', '/api/v1/exports'], ['GET', '/api/v1/exports'], ['GET', `/api/v1/exports/${mine.id}`], ['GET', mine.downloadRef], ['POST', `/api/v1/exports/${mine.id}/hold`]] as const) {
    const res = method === 'POST' ? await post(path, TOKENS.operator, { trackIds: [h.records['public-security'][0]!.id], note: 'x' }) : await h.get(path, TOKENS.operator);
    t.is(res.status, 403, `${method} ${path}`);
    t.is((await res.json() as ErrorBody).code, 'API_FORBIDDEN');
  }
  t.is((await h.get('/api/v1/exports/key', TOKENS.opTraffic)).status, 200);
  t.is((await h.get('/api/v1/exports/key')).status, 401);
});

test.serial('api - bad export requests are typed and name the field', async (t) => {
  const ids = h.records['public-security'].map((r) => r.id);
  const cases: [unknown, number, string, string][] = [
    [{}, 400, 'EVIDENCE_BAD_REQUEST', 'trackIds'],
    [{ trackIds: [] }, 400, 'EVIDENCE_BAD_REQUEST', 'trackIds'],
    [{ trackIds: ids.slice(0, 4) }, 400, 'EVIDENCE_BAD_REQUEST', 'trackIds'],
    [{ cameras: ['cam-ps-1'] }, 400, 'EVIDENCE_BAD_REQUEST', 'from'],
    [{ cameras: ['cam-ps-1'], from: T0 }, 400, 'EVIDENCE_BAD_REQUEST', 'to'],
    [{ cameras: ['cam-ps-1'], from: T0, to: T0 }, 400, 'EVIDENCE_BAD_REQUEST', 'to'],
    [{ cameras: ['cam-ps-1'], from: T0, to: T0 + 60_001 }, 400, 'EVIDENCE_BAD_REQUEST', 'to'],
    [{ cameras: ['cam-ps-1'], from: 'yesterday', to: T0 }, 400, 'EVIDENCE_BAD_REQUEST', 'from'],
    [{ trackIds: [ids[0]], from: T0, to: T0 + 1 }, 400, 'EVIDENCE_BAD_REQUEST', 'from'],
    [{ trackIds: [ids[0]], colour: 'red' }, 400, 'EVIDENCE_BAD_REQUEST', 'colour'],
    [{ trackIds: [ids[0]], note: 'x'.repeat(1001) }, 400, 'EVIDENCE_BAD_REQUEST', 'note'],
    [{ trackIds: 'one' }, 400, 'EVIDENCE_BAD_REQUEST', 'trackIds'],
    [{ trackIds: [42] }, 400, 'EVIDENCE_BAD_REQUEST', 'trackIds[0]'],
    [{ trackIds: [ids[0]], note: 5 }, 400, 'EVIDENCE_BAD_REQUEST', 'note'],
    [[ids[0]], 400, 'API_BAD_REQUEST', ''],
  ];
  for (const [body, status, code, field] of cases) {
    const res = await post('/api/v1/exports', TOKENS.ps, body);
    t.is(res.status, status, JSON.stringify(body).slice(0, 80));
    const b = await res.json() as ErrorBody;
    t.is(b.code, code, JSON.stringify(body).slice(0, 80));
    if (field) t.true(b.message.startsWith(`${field}: `), b.message);
  }
  const notJson = await fetch(h.url + '/api/v1/exports', { method: 'POST', headers: { authorization: `Bearer ${TOKENS.ps}`, 'content-type': 'application/json' }, body: '{' });
  t.is(notJson.status, 400);
});

test.serial('api - a legal hold on an export needs a note, is audited, and is released', async (t) => {
  const e = ((await (await h.get('/api/v1/exports', TOKENS.ps)).json()) as { exports: ExportView[] }).exports[0]!;
  const noNote = await post(`/api/v1/exports/${e.id}/hold`, TOKENS.ps, {});
  t.is(noNote.status, 400);
  t.is((await noNote.json() as ErrorBody).code, 'EVIDENCE_BAD_REQUEST');
  const held = await post(`/api/v1/exports/${e.id}/hold`, TOKENS.ps, { note: 'court order 7' });
  t.is(held.status, 200);
  t.like(await held.json() as ExportView, { hold: { note: 'court order 7', by: 'inv-ps' } });
  t.not(h.exports!.get(e.id)!.hold, null);
  const released = await post(`/api/v1/exports/${e.id}/release`, TOKENS.admin, {});
  t.is((await released.json() as ExportView).hold, null);
  t.is((await auditOf('export_hold')).filter((x) => x.query['id'] === e.id && Array.isArray(x.results)).length, 1);
  t.is((await auditOf('export_release')).filter((x) => x.query['id'] === e.id).length, 1);
  t.is((await post('/api/v1/exports/exp-zzzzzzzz-00000000/hold', TOKENS.ps, { note: 'x' })).status, 404);
});

test('api - a core without an export store answers 503 on the export routes', async (t) => {
  const bare = await startHarness({ perDepartment: 1 });
  t.teardown(() => bare.close());
  const res = await bare.get('/api/v1/exports', TOKENS.ps);
  t.is(res.status, 503);
  t.is((await res.json() as ErrorBody).code, 'API_EXPORTS_UNAVAILABLE');
});

test('api - an alarm exports with its frame, its face and its clip\'s place; another department\'s alarm answers like a missing one', async (t) => {
  const { watchAlarm } = await import('./support/watchlist.js');
  const w = await startHarness({ perDepartment: 1, exports: true, watchlists: true });
  t.teardown(() => w.close());
  const mine = watchAlarm({ list: 'l-ps', entry: 'e-ps', department: 'public-security', at: T0 + 9_000, camera: 'cam-ps-1' });
  const theirs = watchAlarm({ list: 'l-tr', entry: 'e-tr', department: 'traffic', at: T0 + 9_000, camera: 'cam-tr-1' });
  await w.watchlists!.recordAlarm(mine, { snapshot: JPEG_THUMB, face: Buffer.from([0xff, 0xd8, 0xff, 0xd9]) });
  await w.watchlists!.recordAlarm(theirs, { snapshot: JPEG_THUMB, face: null });
  const send = (token: string, body: unknown): Promise<Response> =>
    fetch(w.url + '/api/v1/exports', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const res = await send(TOKENS.ps, { alarmIds: [mine.id] });
  t.is(res.status, 201, await res.clone().text());
  const e = await res.json() as ExportView & { request: { alarms: string[] } };
  t.deepEqual(e.request.alarms, [mine.id]);
  t.deepEqual(e.departments, ['public-security']);
  t.deepEqual(e.request.missing.map((m) => [m.cameraId, m.from, m.to]), [['cam-ps-1', mine.at - 5_000, mine.at + 5_000]]);
  const file = join(tmp.dir, 'alarm.zip');
  await writeFile(file, Buffer.from(await (await fetch(`${w.url}${e.downloadRef}`, { headers: { authorization: `Bearer ${TOKENS.ps}` } })).arrayBuffer()));
  t.true((await verifyExport(file)).ok);
  const entries = await readZip(file);
  const seg = mine.id.replace('!', '%21');
  const view = await (await w.get(`/api/v1/alarms/${enc(mine.id)}`, TOKENS.ps)).json();
  t.deepEqual(JSON.parse(entries.get(`alarms/${seg}.json`)!.toString('utf8')), view, 'the alarm as the alarm API answers it');
  t.deepEqual(entries.get(`alarms/${seg}.jpg`), JPEG_THUMB);
  t.true(entries.has(`alarms/${seg}-face.jpg`));

  const hidden = await send(TOKENS.ps, { alarmIds: [theirs.id] });
  const missing = await send(TOKENS.ps, { alarmIds: ['alarm!nosuch'] });
  t.is(hidden.status, 404);
  const a = await hidden.json() as ErrorBody;
  const b = await missing.json() as ErrorBody;
  t.is(a.code, b.code);
  t.is(a.message.replace(theirs.id, 'X'), b.message.replace('alarm!nosuch', 'X'));
  t.is((await send(TOKENS.traffic, { alarmIds: [theirs.id] })).status, 201);
  // A core without watch-lists has no alarms to export.
  const none = await post('/api/v1/exports', TOKENS.ps, { alarmIds: [mine.id] });
  t.is(none.status, 503);
  t.is((await none.json() as ErrorBody).code, 'API_WATCHLIST_UNAVAILABLE');
});
