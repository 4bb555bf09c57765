/**
 * The watch-list and alarm routes against a real API with the real store on disk and the real face models:
 * lists and entries, photos refused by name, scope (another department's list is 404 byte for byte like a
 * missing one; operators 403), the alarm log with ack/dismiss, and every call in the audit trail.
 */
import test from 'ava';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { closeFaceEmbedder, embedFacesFromImage } from '../inference/index.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';
import { JPEG_BYTES, astronautPng, gradientPng, messiJpg, twoFacesPng, watchAlarm } from './support/watchlist.js';

interface Entry { at: number; tokenId: string; role: string; department: string; action: string; query: Record<string, unknown>; results: string[] | number }
type Json = Record<string, unknown>;

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 1, watchlists: true }); });
test.after.always(async () => { await h?.close(); await closeFaceEmbedder(); });

const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Json; text: string }> {
  const res = await fetch(h.url + path, {
    method, headers: { ...auth(token), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: Json = {};
  try { json = text ? JSON.parse(text) as Json : {}; } catch { /* images */ }
  return { status: res.status, json, text };
}
async function upload(path: string, token: string, photos: Buffer[], fields: Record<string, string> = {}): Promise<{ status: number; json: Json }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  photos.forEach((p, i) => form.append('photo', new Blob([p]), `p${i}.png`));
  const res = await fetch(h.url + path, { method: 'POST', body: form, headers: auth(token) });
  return { status: res.status, json: await res.json() as Json };
}
async function auditTrail(since: number): Promise<Entry[]> {
  const res = await fetch(`${h.url}/api/v1/audit?from=${since}&limit=1000`, { headers: auth(TOKENS.admin) });
  return ((await res.json()) as { entries: Entry[] }).entries;
}

test.serial('api - watch-lists: create, add the astronaut, refuse bad photos by name, scope and roles, every call audited', async (t) => {
  const since = Date.now();
  // Lists: in the caller's department only; operators may not touch them.
  const created = await call('POST', '/api/v1/watchlists', TOKENS.ps, { name: 'Wanted', department: 'public-security', kind: 'face', note: 'case 17' });
  t.is(created.status, 201, created.text);
  const list = created.json as { id: string; kind: string; entries: number };
  t.like(list, { kind: 'face', entries: 0 });
  const forbidden = await call('POST', '/api/v1/watchlists', TOKENS.ps, { name: 'X', department: 'traffic', kind: 'face' });
  t.is(forbidden.status, 403);
  t.is(forbidden.json['code'], 'API_FORBIDDEN');
  for (const [m, p] of [['GET', '/api/v1/watchlists'], ['GET', `/api/v1/watchlists/${list.id}`], ['GET', '/api/v1/alarms']] as const) {
    const r = await call(m, p, TOKENS.operator);
    t.is(r.status, 403, `${m} ${p}`);
  }
  t.is((await call('POST', '/api/v1/watchlists', TOKENS.admin, { name: 'X', department: 'traffic', kind: 'face', extra: 1 })).status, 400);

  // The astronaut: one face, stored.
  const added = await upload(`/api/v1/watchlists/${list.id}/entries`, TOKENS.ps, [await astronautPng()], { label: 'astronaut', threshold: '0.55', expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
  t.is(added.status, 201, JSON.stringify(added.json));
  const entry = added.json as { id: string; threshold: number; photoUrls: string[]; matchesUrl: string; photos: { box: Json }[]; expiresAt: number };
  t.is(entry.threshold, 0.55);
  t.is(entry.photoUrls.length, 1);
  t.true(entry.expiresAt > Date.now());
  const photo = await fetch(`${h.url}${entry.photoUrls[0]}?token=${TOKENS.ps}`);
  t.is(photo.status, 200);
  t.is(photo.headers.get('content-type'), 'image/jpeg');
  t.is((await sharp(Buffer.from(await photo.arrayBuffer())).metadata()).format, 'jpeg');
  // messi5.jpg holds one face (another person): a second entry. It does not match the astronaut's.
  const messi = await upload(`/api/v1/watchlists/${list.id}/entries`, TOKENS.ps, [await messiJpg()], { label: 'messi' });
  t.is(messi.status, 201, JSON.stringify(messi.json));
  const live = (await embedFacesFromImage(await sharp(await astronautPng()).flop().png().toBuffer())).faces[0]!.embedding;
  t.deepEqual(h.watchlists!.matchFace('public-security', live, Date.now()).map((m) => m.entry), [entry.id]);

  // Bad photos and fields, each by name; nothing stored for any of them.
  const two = await upload(`/api/v1/watchlists/${list.id}/entries`, TOKENS.ps, [await astronautPng(), await twoFacesPng()], { label: 'x' });
  t.is(two.status, 422);
  t.is(two.json['code'], 'WATCHLIST_MANY_FACES');
  t.regex(two.json['message'] as string, /photo 2 of 2 holds 2 faces/);
  const none = await upload(`/api/v1/watchlists/${list.id}/entries`, TOKENS.ps, [await gradientPng()], { label: 'x' });
  t.is(none.status, 422);
  t.is(none.json['code'], 'WATCHLIST_NO_FACE');
  t.regex(none.json['message'] as string, /photo 1 of 1/);
  const notImage = await upload(`/api/v1/watchlists/${list.id}/entries`, TOKENS.ps, [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')], { label: 'x' });
  t.is(notImage.status, 415);
  t.is(notImage.json['code'], 'API_UNSUPPORTED_MEDIA');
  const truncated = await upload(`/api/v1/watchlists/${list.id}/entries`, TOKENS.ps, [(await sharp(await astronautPng()).jpeg().toBuffer()).subarray(0, 600)], { label: 'x' });
  t.is(truncated.status, 415, JSON.stringify(truncated.json));
  for (const [fields, field] of [[{ label: 'x', threshold: '1.5' }, 'threshold'], [{ label: '' }, 'label'], [{ label: 'x', expiresAt: '2001-01-01T00:00:00Z' }, 'expiresAt']] as const) {
    const r = await upload(`/api/v1/watchlists/${list.id}/entries`, TOKENS.ps, [await astronautPng()], fields);
    t.is(r.status, 400, field);
    t.is(r.json['code'], 'WATCHLIST_BAD_ENTRY');
    t.regex(r.json['message'] as string, new RegExp(field));
  }
  const noPhoto = await upload(`/api/v1/watchlists/${list.id}/entries`, TOKENS.ps, [], { label: 'x' });
  t.is(noPhoto.json['code'], 'WATCHLIST_BAD_ENTRY');
  const jsonToFace = await call('POST', `/api/v1/watchlists/${list.id}/entries`, TOKENS.ps, { label: 'x', plate: '鲁B12345' });
  t.is(jsonToFace.status, 400);
  t.is(jsonToFace.json['code'], 'WATCHLIST_KIND_MISMATCH');

  // Plate list in traffic.
  const plates = (await call('POST', '/api/v1/watchlists', TOKENS.traffic, { name: 'Hot', department: 'traffic', kind: 'plate' })).json as { id: string };
  const plate = await call('POST', `/api/v1/watchlists/${plates.id}/entries`, TOKENS.traffic, { label: 'stolen', plate: '鲁b·12345', match: 'fuzzy' });
  t.is(plate.status, 201, plate.text);
  t.like(plate.json, { plate: '鲁B12345', match: 'fuzzy', kind: 'plate' });
  const badPlate = await call('POST', `/api/v1/watchlists/${plates.id}/entries`, TOKENS.traffic, { label: 'x', plate: 'HELLO1' });
  t.is(badPlate.status, 400);
  t.is(badPlate.json['code'], 'WATCHLIST_BAD_PLATE');
  const photoToPlate = await upload(`/api/v1/watchlists/${plates.id}/entries`, TOKENS.traffic, [await astronautPng()], { label: 'x' });
  t.is(photoToPlate.status, 400);
  t.is(photoToPlate.json['code'], 'WATCHLIST_KIND_MISMATCH');

  // Another department's list answers exactly like one that does not exist (the same bytes once it is gone).
  const paths = [`/api/v1/watchlists/${plates.id}`, `/api/v1/watchlists/${plates.id}/entries`, `/api/v1/watchlists/${plates.id}/entries/${(plate.json as { id: string }).id}`];
  const hidden = await Promise.all(paths.map((p) => call('GET', p, TOKENS.ps)));
  const hiddenPatch = await call('PATCH', `/api/v1/watchlists/${plates.id}`, TOKENS.ps, { name: 'mine' });
  const hiddenDelete = await call('DELETE', `/api/v1/watchlists/${plates.id}`, TOKENS.ps);
  t.deepEqual((await call('GET', '/api/v1/watchlists', TOKENS.ps)).json['lists'] && ((await call('GET', '/api/v1/watchlists', TOKENS.ps)).json['lists'] as { id: string }[]).map((l) => l.id), [list.id]);
  t.is((await call('DELETE', `/api/v1/watchlists/${plates.id}`, TOKENS.traffic)).status, 204);
  const gone = await Promise.all(paths.map((p) => call('GET', p, TOKENS.ps)));
  for (let i = 0; i < paths.length; i++) {
    t.is(hidden[i]!.status, 404);
    t.is(hidden[i]!.text, gone[i]!.text, paths[i]);
  }
  t.is(hiddenPatch.text, (await call('PATCH', `/api/v1/watchlists/${plates.id}`, TOKENS.ps, { name: 'mine' })).text);
  t.is(hiddenDelete.text, (await call('DELETE', `/api/v1/watchlists/${plates.id}`, TOKENS.ps)).text);
  t.is(JSON.parse(hidden[0]!.text).code, 'API_NOT_FOUND');

  // Listing, paging, changing and removing entries.
  const page1 = await call('GET', `/api/v1/watchlists/${list.id}/entries?limit=1`, TOKENS.ps);
  t.is((page1.json['entries'] as unknown[]).length, 1);
  const page2 = await call('GET', `/api/v1/watchlists/${list.id}/entries?limit=1&cursor=${page1.json['nextCursor'] as string}`, TOKENS.ps);
  t.deepEqual([...(page1.json['entries'] as { label: string }[]), ...(page2.json['entries'] as { label: string }[])].map((e) => e.label), ['astronaut', 'messi']);
  t.is(page2.json['nextCursor'], null);
  const patched = await call('PATCH', `/api/v1/watchlists/${list.id}/entries/${entry.id}`, TOKENS.ps, { threshold: 0.6, note: 'seen near the port' });
  t.like(patched.json, { threshold: 0.6, note: 'seen near the port' });
  t.is((await call('PATCH', `/api/v1/watchlists/${list.id}/entries/${entry.id}`, TOKENS.ps, { threshold: 1.5 })).json['code'], 'WATCHLIST_BAD_ENTRY');
  t.like((await call('PATCH', `/api/v1/watchlists/${list.id}/entries/${entry.id}`, TOKENS.ps, { expiresAt: null })).json, { expiresAt: null });
  const later = Date.now() + 3_600_000;
  t.like((await call('PATCH', `/api/v1/watchlists/${list.id}/entries/${entry.id}`, TOKENS.ps, { expiresAt: later })).json, { expiresAt: later });
  t.like((await call('PATCH', `/api/v1/watchlists/${list.id}`, TOKENS.ps, { name: 'Wanted (port)' })).json, { name: 'Wanted (port)', entries: 2 });
  const messiId = (messi.json as { id: string }).id;
  t.is((await call('DELETE', `/api/v1/watchlists/${list.id}/entries/${messiId}`, TOKENS.ps)).status, 204);
  t.is((await call('GET', `/api/v1/watchlists/${list.id}/entries/${messiId}`, TOKENS.ps)).status, 404);

  // Removing the astronaut's entry through the API: it no longer matches once the 204 is in.
  t.is((await call('DELETE', `/api/v1/watchlists/${list.id}/entries/${entry.id}`, TOKENS.ps)).status, 204);
  t.deepEqual(h.watchlists!.matchFace('public-security', live, Date.now()), []);

  // Every call that reached a route is in the trail, refusals included, before its answer went out.
  const trail = await auditTrail(since);
  const actions = new Set(trail.map((e) => e.action));
  for (const a of ['watchlist_create', 'watchlist_lists', 'watchlist_get', 'watchlist_update', 'watchlist_delete', 'watchlist_entries', 'watchlist_entry_add', 'watchlist_entry_get', 'watchlist_entry_update', 'watchlist_entry_remove', 'watchlist_entry_photo']) {
    t.true(actions.has(a), a);
  }
  const adds = trail.filter((e) => e.action === 'watchlist_entry_add');
  t.true(adds.some((e) => e.query['error'] === 'WATCHLIST_MANY_FACES' && e.results === 0));
  t.true(adds.some((e) => e.tokenId === 'inv-ps' && Array.isArray(e.results) && e.results[0] === entry.id));
  // Photos are hashed in the trail, never stored there.
  t.true(adds.every((e) => e.query['kind'] !== 'face' || (e.query['photos'] as Json[]).every((p) => typeof p['sha256'] === 'string')));
  t.true(trail.some((e) => e.action === 'watchlist_create' && e.query['error'] === 'API_FORBIDDEN'));
  t.true(trail.some((e) => e.action === 'watchlist_get' && e.tokenId === 'inv-ps' && e.results === 0));
});

test.serial('api - alarms: the log with filters, images, entry history, ack and dismiss audited and kept', async (t) => {
  const since = Date.now();
  const list = (await call('POST', '/api/v1/watchlists', TOKENS.ps, { name: 'Alarmed', department: 'public-security', kind: 'face' })).json as { id: string };
  const entry = (await upload(`/api/v1/watchlists/${list.id}/entries`, TOKENS.ps, [await astronautPng()], { label: 'astronaut' })).json as { id: string; matchesUrl: string };
  const now = Date.now();
  const a1 = watchAlarm({ list: list.id, entry: entry.id, department: 'public-security', at: now - 20_000 });
  const a2 = watchAlarm({ list: list.id, entry: entry.id, department: 'public-security', at: now - 10_000, camera: 'cam-ps-2' });
  const other = watchAlarm({ list: 'l', entry: 'e', department: 'traffic', at: now - 5_000, camera: 'cam-tr-1' });
  await h.watchlists!.recordAlarm(a1, { snapshot: JPEG_BYTES, face: JPEG_BYTES });
  await h.watchlists!.recordAlarm(a2, { snapshot: null, face: null });
  await h.watchlists!.recordAlarm(other, { snapshot: JPEG_BYTES, face: null });

  const all = await call('GET', '/api/v1/alarms?kind=watchlist', TOKENS.ps);
  t.is(all.status, 200, all.text);
  const views = all.json['alarms'] as Array<{ alarm: { id: string }; state: string; snapshotUrl?: string; faceUrl?: string; entryPhotoUrl?: string; entryLabel?: string | null }>;
  t.deepEqual(views.map((v) => v.alarm.id).filter((id) => [a1.id, a2.id, other.id].includes(id)), [a2.id, a1.id]);
  const v1 = views.find((v) => v.alarm.id === a1.id)!;
  t.is(v1.snapshotUrl, `/api/v1/alarms/${a1.id}/snapshot`);
  t.is(v1.faceUrl, `/api/v1/alarms/${a1.id}/face`);
  t.is(v1.entryPhotoUrl, `/api/v1/watchlists/${list.id}/entries/${entry.id}/photos/0`);
  // The label is for the investigator beside the alarm; the wire alarm names only the entry's id.
  t.is(v1.entryLabel, 'astronaut');
  t.is(views.find((v) => v.alarm.id === a2.id)!.entryLabel, 'astronaut');
  t.is(views.find((v) => v.alarm.id === a2.id)!.snapshotUrl, undefined);
  t.deepEqual(((await call('GET', '/api/v1/alarms?camera=cam-ps-2', TOKENS.ps)).json['alarms'] as typeof views).map((v) => v.alarm.id), [a2.id]);
  t.is((await call('GET', '/api/v1/alarms?from=yesterday', TOKENS.ps)).status, 400);
  t.is((await call('GET', '/api/v1/alarms?kind=crowd', TOKENS.ps)).status, 400);
  const snap = await fetch(`${h.url}${v1.snapshotUrl}?token=${TOKENS.ps}`);
  t.is(snap.status, 200);
  t.deepEqual(Buffer.from(await snap.arrayBuffer()), JPEG_BYTES);
  // The traffic alarm is invisible to public-security, byte for byte like a missing one.
  const hidden = await call('GET', `/api/v1/alarms/${other.id}`, TOKENS.ps);
  t.is(hidden.status, 404);
  t.is((await call('GET', `/api/v1/alarms/${other.id}/snapshot`, TOKENS.ps)).status, 404);
  t.is((await call('POST', `/api/v1/alarms/${other.id}/ack`, TOKENS.ps, {})).status, 404);
  t.is((await call('GET', `/api/v1/alarms/${other.id}`, TOKENS.traffic)).status, 200);

  const history = await call('GET', `${entry.matchesUrl}?limit=1`, TOKENS.ps);
  t.deepEqual((history.json['alarms'] as typeof views).map((v) => v.alarm.id), [a2.id]);
  const history2 = await call('GET', `${entry.matchesUrl}?cursor=${history.json['nextCursor'] as string}`, TOKENS.ps);
  t.deepEqual((history2.json['alarms'] as typeof views).map((v) => v.alarm.id), [a1.id]);
  t.like((await call('GET', `/api/v1/watchlists/${list.id}/entries/${entry.id}`, TOKENS.ps)).json, { matches: 2, lastMatchAt: a2.at });

  const ack = await call('POST', `/api/v1/alarms/${a1.id}/ack`, TOKENS.ps, { note: 'on it' });
  t.is(ack.status, 200, ack.text);
  t.like(ack.json, { state: 'acknowledged', handledBy: 'inv-ps', handledNote: 'on it' });
  const dismiss = await fetch(`${h.url}/api/v1/alarms/${a1.id}/dismiss`, { method: 'POST', headers: auth(TOKENS.admin) });
  t.is(dismiss.status, 200);
  t.like(await dismiss.json() as Json, { state: 'dismissed', handledBy: 'admin' });
  const again = await call('POST', `/api/v1/alarms/${a1.id}/ack`, TOKENS.ps, {});
  t.is(again.status, 409);
  t.is(again.json['code'], 'WATCHLIST_ALARM_FINAL');
  t.like((await call('GET', `/api/v1/alarms/${a1.id}`, TOKENS.ps)).json, { state: 'dismissed', handledBy: 'admin' });
  t.deepEqual(((await call('GET', '/api/v1/alarms?state=dismissed', TOKENS.ps)).json['alarms'] as typeof views).map((v) => v.alarm.id), [a1.id]);

  const trail = await auditTrail(since);
  const ackLine = trail.find((e) => e.action === 'alarm_ack' && e.tokenId === 'inv-ps' && Array.isArray(e.results));
  t.like(ackLine, { query: { id: a1.id, note: 'on it' }, results: [a1.id] });
  t.truthy(trail.find((e) => e.action === 'alarm_dismiss' && e.tokenId === 'admin'));
  t.truthy(trail.find((e) => e.action === 'alarm_ack' && e.query['error'] === 'WATCHLIST_ALARM_FINAL'));
  for (const a of ['alarms', 'alarm', 'alarm_snapshot', 'watchlist_entry_matches']) t.true(trail.some((e) => e.action === a), a);
});

test.serial('api - the live WebSocket sends alarms of the caller\'s departments to investigators and admins only', async (t) => {
  interface WsClient { on(ev: 'message', fn: (d: Buffer) => void): void; on(ev: 'open', fn: () => void): void; on(ev: 'error', fn: (e: Error) => void): void; close(): void }
  const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => WsClient;
  const connect = (token: string): Promise<{ ws: WsClient; messages: Json[] }> => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/v1/live?token=${token}`);
    const messages: Json[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Json));
    ws.on('error', reject);
    ws.on('open', () => resolve({ ws, messages }));
  });
  const clients = { ps: await connect(TOKENS.ps), traffic: await connect(TOKENS.traffic), operator: await connect(TOKENS.operator), admin: await connect(TOKENS.admin) };
  t.teardown(() => { for (const c of Object.values(clients)) c.ws.close(); });
  const end = Date.now() + 5000;
  while (h.events.listeners < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  const a = watchAlarm({ list: 'l', entry: 'e', department: 'public-security', at: Date.now() });
  h.events.emit({ type: 'alarm', alarm: a });
  h.events.emit({ type: 'zone_count', count: { cameraId: 'cam-ps-1', zoneId: 'plaza', count: 3, density: null, at: Date.now() } });
  // Everyone gets the zone count after the alarm: by then whoever should have the alarm has it.
  const until = Date.now() + 5000;
  while (Object.entries(clients).some(([k, c]) => k !== 'traffic' && !c.messages.some((m) => m['type'] === 'zone_count')) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  const alarms = (k: keyof typeof clients): string[] => clients[k].messages.filter((m) => m['type'] === 'alarm').map((m) => (m['alarm'] as { id: string }).id);
  t.deepEqual(alarms('ps'), [a.id]);
  t.deepEqual(alarms('admin'), [a.id]);
  t.deepEqual(alarms('operator'), []);
  t.deepEqual(alarms('traffic'), []);
});

test('api - without a watch-list store the routes answer 503 API_WATCHLIST_UNAVAILABLE; the OpenAPI document lists them', async (t) => {
  const bare = await startHarness({ perDepartment: 1 });
  try {
    for (const p of ['/api/v1/watchlists', '/api/v1/alarms', '/api/v1/alarms/x']) {
      const res = await bare.get(p, TOKENS.ps);
      t.is(res.status, 503, p);
      t.is(((await res.json()) as Json)['code'], 'API_WATCHLIST_UNAVAILABLE');
    }
    t.is((await bare.get('/api/v1/watchlists', TOKENS.operator)).status, 403);
    const doc = (await (await bare.get('/api/v1/openapi.json')).json()) as { paths: Record<string, Record<string, Json>> };
    for (const [p, m] of [
      ['/api/v1/watchlists', 'get'], ['/api/v1/watchlists', 'post'], ['/api/v1/watchlists/{id}', 'patch'], ['/api/v1/watchlists/{id}', 'delete'],
      ['/api/v1/watchlists/{id}/entries', 'post'], ['/api/v1/watchlists/{id}/entries/{entry}', 'patch'], ['/api/v1/watchlists/{id}/entries/{entry}/photos/{n}', 'get'],
      ['/api/v1/watchlists/{id}/entries/{entry}/matches', 'get'], ['/api/v1/alarms', 'get'], ['/api/v1/alarms/{id}/snapshot', 'get'], ['/api/v1/alarms/{id}/ack', 'post'], ['/api/v1/alarms/{id}/dismiss', 'post'],
    ] as const) t.truthy(doc.paths[p]?.[m], `${m} ${p}`);
    const body = doc.paths['/api/v1/watchlists/{id}/entries']!['post']!['requestBody'] as { content: Record<string, unknown> };
    t.deepEqual(Object.keys(body.content).sort(), ['application/json', 'multipart/form-data']);
  } finally {
    await bare.close();
  }
});
