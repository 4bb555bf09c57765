/**
 * Privacy by grant for whole frames: a crowd alert's frame and an alarm's frame, served to a caller without the
 * face grant, have the heads of the frame's people blurred and the rest of the scene kept; a frame that does not
 * carry its people is blurred whole; a caller with the grant gets the stored bytes. Real frames: vtest.avi frame
 * 0 with the person boxes the detector finds in it (test/fixtures/centernet-vtest-frame0.json), through the real
 * API, the real search index and the real alarm log.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { peopleOf, withPeople } from '../common/frame-people.js';
import type { Box } from '../common/messages.js';
import { HEAD_SHARE } from '../api/privacy.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';
import { vtestFrames } from './support/media.js';
import { watchAlarm } from './support/watchlist.js';

const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/centernet-vtest-frame0.json', import.meta.url)), 'utf8')) as { detections: Array<{ cls: string; box: Box }> };
const PEOPLE = fixture.detections.filter((d) => d.cls === 'person').map((d) => d.box);

let h: ApiHarness;
let plain: Buffer;
let marked: Buffer;
test.before(async () => {
  h = await startHarness({ perDepartment: 1, watchlists: true });
  const f = vtestFrames(1, 1)[0]!;
  plain = await sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  marked = withPeople(plain, PEOPLE);
});
test.after.always(async () => { await h?.close(); });

/** The frame in grey, and its high frequencies: each pixel less its neighbourhood (Gaussian, sigma 1.5). */
interface Raw { data: Buffer; fine: Int16Array; width: number }
async function raw(jpeg: Buffer): Promise<Raw> {
  const { data, info } = await sharp(jpeg).removeAlpha().greyscale().raw().toBuffer({ resolveWithObject: true });
  const smooth = await sharp(data, { raw: { width: info.width, height: info.height, channels: 1 } }).blur(1.5).toColourspace('b-w').raw().toBuffer();
  const fine = new Int16Array(data.length);
  for (let i = 0; i < data.length; i++) fine[i] = data[i]! - smooth[i]!;
  return { data, fine, width: info.width };
}

/** Mean high-frequency energy inside a region: the detail a face is made of (a blurred region has next to none). */
function detail(img: Raw, r: { x: number; y: number; w: number; h: number }): number {
  let sum = 0; let n = 0;
  for (let y = Math.ceil(r.y); y < Math.floor(r.y + r.h); y++) {
    for (let x = Math.ceil(r.x); x < Math.floor(r.x + r.w); x++) { sum += Math.abs(img.fine[y * img.width + x]!); n++; }
  }
  return sum / Math.max(1, n);
}

const head = (b: Box): Box => ({ x: b.x, y: b.y, w: b.w, h: b.h * HEAD_SHARE });
/** Far from every person: the top-left quarter of vtest frame 0 holds only the square and the shop fronts. */
const SCENE = { x: 20, y: 20, w: 200, h: 80 };

async function check(t: import('ava').ExecutionContext, served: Buffer, what: string): Promise<void> {
  const a = await raw(marked);
  const b = await raw(served);
  t.is(peopleOf(served), null, `${what}: the served frame carries no comment segment`);
  for (const p of PEOPLE) {
    const before = detail(a, head(p));
    const after = detail(b, head(p));
    t.log(`${what}: head at ${Math.round(p.x)},${Math.round(p.y)} detail ${before.toFixed(1)} -> ${after.toFixed(1)}`);
    t.true(after < before * 0.5, `${what}: the head at ${Math.round(p.x)},${Math.round(p.y)} lost its detail`);
  }
  const sceneBefore = detail(a, SCENE);
  const sceneAfter = detail(b, SCENE);
  t.log(`${what}: scene detail ${sceneBefore.toFixed(1)} -> ${sceneAfter.toFixed(1)}`);
  t.true(sceneAfter > sceneBefore * 0.8, `${what}: the scene away from people keeps its detail`);
}

test('frames - the people\'s boxes survive in the JPEG and read back', (t) => {
  t.is(PEOPLE.length >= 3, true);
  const back = peopleOf(marked)!;
  t.is(back.length, PEOPLE.length);
  back.forEach((b, i) => t.true(Math.abs(b.x - PEOPLE[i]!.x) <= 1 && Math.abs(b.h - PEOPLE[i]!.h) <= 1));
  t.is(peopleOf(plain), null);
  t.is(peopleOf(Buffer.from('not a jpeg')), null);
});

test('frames - a crowd alert frame: heads blurred without the face grant, as stored with it', async (t) => {
  await h.index.putAlarmFrame!({ id: 'cam-tr-1-7', cameraId: 'cam-tr-1', department: 'traffic', at: Date.now(), jpeg: marked });
  const full = await h.get('/api/v1/snapshots/cam-tr-1-7', TOKENS.traffic);
  t.is(full.status, 200);
  t.deepEqual(Buffer.from(await full.arrayBuffer()), marked);
  const res = await h.get('/api/v1/snapshots/cam-tr-1-7', TOKENS.desk);
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'image/jpeg');
  await check(t, Buffer.from(await res.arrayBuffer()), 'crowd frame');
});

test('frames - an alarm frame: heads blurred without the face grant; its face crop stays refused', async (t) => {
  const alarm = watchAlarm({ list: 'l1', entry: 'e1', department: 'traffic', at: Date.now() - 1000, camera: 'cam-tr-1', id: 'frame-alarm-1' });
  await h.watchlists!.recordAlarm(alarm, { snapshot: marked, face: plain });
  const full = await h.get(`/api/v1/alarms/${alarm.id}/snapshot`, TOKENS.traffic);
  t.is(full.status, 200);
  t.deepEqual(Buffer.from(await full.arrayBuffer()), marked);
  const res = await h.get(`/api/v1/alarms/${alarm.id}/snapshot`, TOKENS.desk);
  t.is(res.status, 200);
  await check(t, Buffer.from(await res.arrayBuffer()), 'alarm frame');
  t.is((await h.get(`/api/v1/alarms/${alarm.id}/face`, TOKENS.desk)).status, 403);
});

test('frames - evidence exports (clips, frames and faces as they are) need the face grant to be made or fetched', async (t) => {
  const make = await fetch(`${h.url}/api/v1/exports`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.desk}`, 'content-type': 'application/json' }, body: JSON.stringify({ alarmIds: ['frame-alarm-1'] }) });
  t.is(make.status, 403);
  t.is(((await make.json()) as { code: string }).code, 'API_FACE_GRANT_REQUIRED');
  const download = await h.get('/api/v1/exports/x/download', TOKENS.desk);
  t.is(download.status, 403);
  t.is(((await download.json()) as { code: string }).code, 'API_FACE_GRANT_REQUIRED');
});

test('frames - a frame that does not carry its people is blurred whole without the face grant', async (t) => {
  await h.index.putAlarmFrame!({ id: 'cam-tr-1-8', cameraId: 'cam-tr-1', department: 'traffic', at: Date.now(), jpeg: plain });
  const res = await h.get('/api/v1/snapshots/cam-tr-1-8', TOKENS.desk);
  t.is(res.status, 200);
  const a = await raw(plain);
  const b = await raw(Buffer.from(await res.arrayBuffer()));
  const whole = { x: 0, y: 0, w: a.width, h: a.data.length / a.width };
  for (const [name, r] of [['whole frame', whole], ['scene', SCENE], ...PEOPLE.map((p, i) => [`head ${i}`, head(p)] as const)] as const) {
    const before = detail(a, r);
    const after = detail(b, r);
    t.log(`${name}: detail ${before.toFixed(1)} -> ${after.toFixed(1)}`);
    t.true(after < before * 0.5, `${name} lost its detail`);
  }
});
