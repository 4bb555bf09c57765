/**
 * Privacy by grant: a token without the face grant (a traffic desk) gets person thumbnails with the head
 * blurred and is refused face search, face crops, watch-list photos and live video; a token with it gets the
 * same thumbnail untouched. Real JPEGs through the real API.
 */
import test from 'ava';
import sharp from 'sharp';
import { makeRecord } from './support/index-records.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 1 }); });
test.after.always(async () => { await h?.close(); });

/** A 60x160 "person": a bright head band on top, a dark body below, with detail in both. */
async function personJpeg(): Promise<Buffer> {
  const w = 60; const hgt = 160;
  const px = Buffer.alloc(w * hgt * 3);
  for (let y = 0; y < hgt; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    const checker = ((x >> 2) + (y >> 2)) % 2 === 0 ? 255 : 0;
    px[i] = checker; px[i + 1] = y < 48 ? 200 : 40; px[i + 2] = checker;
  }
  return sharp(px, { raw: { width: w, height: hgt, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
}

/** Mean absolute difference of two images' rows [from, to), as RGB. */
async function rowDiff(a: Buffer, b: Buffer, from: number, to: number): Promise<number> {
  const ra = await sharp(a).raw().toBuffer({ resolveWithObject: true });
  const rb = await sharp(b).raw().toBuffer();
  const w = ra.info.width; const c = ra.info.channels;
  let sum = 0; let n = 0;
  for (let y = from; y < to; y++) for (let x = 0; x < w * c; x++) { sum += Math.abs(ra.data[y * w * c + x]! - rb[y * w * c + x]!); n++; }
  return sum / n;
}

test('without the face grant a person\'s thumbnail has its head blurred; with it, it is untouched', async (t) => {
  const jpeg = await personJpeg();
  const rec = makeRecord({ cls: 'person', cameraId: 'cam-tr-1', department: 'traffic', thumbnail: jpeg });
  await h.index.put(rec);
  await h.index.flush();
  const url = `/api/v1/tracks/${encodeURIComponent(rec.id)}/thumbnail`;
  const full = Buffer.from(await (await h.get(url, TOKENS.traffic)).arrayBuffer());
  t.deepEqual(full, jpeg);
  const res = await h.get(url, TOKENS.desk);
  t.is(res.status, 200);
  const blurred = Buffer.from(await res.arrayBuffer());
  // The head band (top 30 %) lost its detail; the body below kept it.
  const head = await rowDiff(blurred, jpeg, 0, 40);
  const body = await rowDiff(blurred, jpeg, 60, 160);
  t.log(`mean difference: head ${head.toFixed(1)}, body ${body.toFixed(1)} (JPEG re-encoding alone)`);
  t.true(head > 60, 'the head is blurred');
  t.true(body < head / 4, 'the body is as it was, but for re-encoding');
  // A vehicle's best shot is not a face: as it was.
  const car = makeRecord({ cls: 'car', cameraId: 'cam-tr-1', department: 'traffic', thumbnail: jpeg });
  await h.index.put(car);
  await h.index.flush();
  t.deepEqual(Buffer.from(await (await h.get(`/api/v1/tracks/${encodeURIComponent(car.id)}/thumbnail`, TOKENS.desk)).arrayBuffer()), jpeg);
});

test('without the face grant: face search, face crops, watch-list photos and live video are refused', async (t) => {
  const form = new FormData();
  form.append('image', new Blob([await personJpeg()], { type: 'image/jpeg' }), 'face.jpg');
  const search = await fetch(`${h.url}/api/v1/faces/search`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.desk}` }, body: form });
  t.is(search.status, 403);
  t.is((await search.json() as { code: string }).code, 'API_FACE_GRANT_REQUIRED');
  for (const path of ['/api/v1/alarms/a1/face', '/api/v1/watchlists/w1/entries/e1/photos/0', '/api/v1/cameras/cam-tr-1/live']) {
    const r = await h.get(path, TOKENS.desk);
    t.is(r.status, 403, path);
    t.is((await r.json() as { code: string }).code, 'API_FACE_GRANT_REQUIRED', path);
  }
  // The same desk still searches records of its department.
  t.is((await h.get('/api/v1/search?class=car', TOKENS.desk)).status, 200);
});
