import test from 'ava';
import { startHarness, noisePng, flatPng, TOKENS, type ApiHarness } from './support/api-app.js';

let h: ApiHarness;
let noFaces: ApiHarness;
test.before(async () => {
  h = await startHarness({ perDepartment: 3, maxUploadBytes: 64 * 1024 });
  noFaces = await startHarness({ perDepartment: 1, faces: null });
});
test.after.always(async () => { await h?.close(); await noFaces?.close(); });

const code = async (res: Response): Promise<string> => (await res.json() as { code: string }).code;

function upload(base: string, body: Blob | string, opts: { field?: string; token?: string; query?: string } = {}): Promise<Response> {
  const form = new FormData();
  form.append(opts.field ?? 'image', typeof body === 'string' ? new Blob([body], { type: 'text/plain' }) : body, 'upload.bin');
  return fetch(`${base}/api/v1/faces/search${opts.query ?? ''}`, { method: 'POST', body: form, headers: { authorization: `Bearer ${opts.token ?? TOKENS.ps}` } });
}

test('api - a malformed search is 400 with a stable code', async (t) => {
  for (const q of ['from=yesterday-ish', 'class=spaceship', 'limit=100000', 'cursor=%21%21', 'from=2000&to=1000']) {
    const res = await h.get(`/api/v1/search?${q}`, TOKENS.ps);
    t.is(res.status, 400, q);
    t.is(await code(res), 'INDEX_BAD_QUERY', q);
  }
  for (const q of ['colur=red', 'limit=ten']) {
    const res = await h.get(`/api/v1/search?${q}`, TOKENS.ps);
    t.is(res.status, 400, q);
    t.is(await code(res), 'API_BAD_REQUEST', q);
  }
  const audit = await h.get('/api/v1/audit?from=sometime', TOKENS.admin);
  t.is(audit.status, 400);
});

test('api - unknown camera, track, snapshot and route are 404', async (t) => {
  t.is(await code(await h.get('/api/v1/cameras/nope', TOKENS.ps)), 'API_NOT_FOUND');
  t.is(await code(await h.get('/api/v1/tracks/nope', TOKENS.ps)), 'INDEX_NOT_FOUND');
  t.is(await code(await h.get('/api/v1/tracks/nope/thumbnail', TOKENS.ps)), 'INDEX_NOT_FOUND');
  t.is(await code(await h.get('/api/v1/snapshots/nope', TOKENS.ps)), 'API_NOT_FOUND');
  t.is((await h.get('/api/v1/nothing-here', TOKENS.ps)).status, 404);
});

test('api - face search: oversized 413, not an image 415, no face 422, wrong field 400', async (t) => {
  const big = new Blob([Buffer.concat([await noisePng(1), Buffer.alloc(70 * 1024)])], { type: 'image/png' });
  const over = await upload(h.url, big);
  t.is(over.status, 413);
  t.is(await code(over), 'API_PAYLOAD_TOO_LARGE');

  const text = await upload(h.url, 'hello, I am not a picture');
  t.is(text.status, 415);
  t.is(await code(text), 'API_UNSUPPORTED_MEDIA');
  // PNG magic with garbage behind it: sharp has the last word.
  const fake = await upload(h.url, new Blob([Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100, 7)])]));
  t.is(fake.status, 415);
  const svg = await upload(h.url, new Blob(['<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'], { type: 'image/svg+xml' }));
  t.is(svg.status, 415);

  const json = await fetch(`${h.url}/api/v1/faces/search`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${TOKENS.ps}`, 'content-type': 'application/json' } });
  t.is(json.status, 415);
  t.is(await code(json), 'API_UNSUPPORTED_MEDIA');

  const blank = await upload(h.url, new Blob([await flatPng()], { type: 'image/png' }));
  t.is(blank.status, 422);
  const body = await blank.json() as { code: string; message: string };
  t.is(body.code, 'API_NO_FACE');
  t.regex(body.message, /no face/);

  const field = await upload(h.url, new Blob([await noisePng(3)], { type: 'image/png' }), { field: 'photo' });
  t.is(field.status, 400);
  t.is(await code(field), 'API_BAD_REQUEST');

  const badK = await upload(h.url, new Blob([await noisePng(3)], { type: 'image/png' }), { query: '?k=0' });
  t.is(badK.status, 400);
});

test('api - face search without an embedder is 503 API_FACE_UNAVAILABLE', async (t) => {
  const res = await upload(noFaces.url, new Blob([await noisePng(3)], { type: 'image/png' }));
  t.is(res.status, 503);
  t.is(await code(res), 'API_FACE_UNAVAILABLE');
});
