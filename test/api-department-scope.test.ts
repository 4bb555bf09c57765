import test from 'ava';
import { startHarness, noisePng, TOKENS, type ApiHarness } from './support/api-app.js';

interface Page { records: { id: string; department: string; cameraId: string }[]; nextCursor: string | null }

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 30 }); });
test.after.always(async () => { await h?.close(); });

async function allPages(path: string, token: string): Promise<Page['records']> {
  const out: Page['records'] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await h.get(`${path}${sep}limit=7${cursor ? `&cursor=${cursor}` : ''}`, token);
    if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
    const page = await res.json() as Page;
    out.push(...page.records);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

test('api - an investigator pages through only their department\'s records', async (t) => {
  const ps = await allPages('/api/v1/search', TOKENS.ps);
  t.is(ps.length, 30);
  t.true(ps.every((r) => r.department === 'public-security'));
  const tr = await allPages('/api/v1/search', TOKENS.traffic);
  t.is(tr.length, 30);
  t.true(tr.every((r) => r.department === 'traffic'));
  // Naming another department's camera gives nothing, exactly as a camera that does not exist.
  t.deepEqual(await allPages('/api/v1/search?camera=cam-tr-1', TOKENS.ps), []);
  t.deepEqual(await allPages('/api/v1/search?camera=no-such-camera', TOKENS.ps), []);
  const admin = await allPages('/api/v1/search', TOKENS.admin);
  t.is(admin.length, 60);
});

test('api - camera lists and camera detail are scoped; another department\'s camera looks like none', async (t) => {
  const list = await (await h.get('/api/v1/cameras', TOKENS.traffic)).json() as { cameras: { id: string; url: string }[] };
  t.deepEqual(list.cameras.map((c) => c.id), ['cam-tr-1']);
  t.false(list.cameras[0]!.url.includes('pw'), 'credentials are masked');
  const hidden = await h.get('/api/v1/cameras/cam-ps-1', TOKENS.traffic);
  const missing = await h.get('/api/v1/cameras/cam-ps-9', TOKENS.traffic);
  t.is(hidden.status, 404);
  t.is(missing.status, 404);
  const hb = await hidden.json() as { code: string; message: string };
  const mb = await missing.json() as { code: string; message: string };
  t.is(hb.code, mb.code);
  t.deepEqual(Object.keys(hb).sort(), Object.keys(mb).sort());
  t.is(hb.message.replace('cam-ps-1', 'X'), mb.message.replace('cam-ps-9', 'X'));
  t.is((await h.get('/api/v1/cameras/cam-ps-1', TOKENS.ps)).status, 200);
});

test('api - track detail and thumbnail of another department answer like a missing track', async (t) => {
  const own = h.records['public-security'][3]!.id;
  const other = h.records.traffic[3]!.id;
  const ok = await h.get(`/api/v1/tracks/${encodeURIComponent(own)}`, TOKENS.ps);
  t.is(ok.status, 200);
  const body = await ok.json() as { id: string; hasThumbnail: boolean; thumbnailUrl: string };
  t.is(body.id, own);
  t.true(body.hasThumbnail);
  t.is((await h.get(body.thumbnailUrl, TOKENS.ps)).headers.get('content-type'), 'image/jpeg');
  // <img> cannot send headers: the thumbnail also takes ?token=.
  t.is((await h.get(`${body.thumbnailUrl}?token=${TOKENS.ps}`)).status, 200);

  for (const path of [`/api/v1/tracks/${encodeURIComponent(other)}`, `/api/v1/tracks/${encodeURIComponent(other)}/thumbnail`]) {
    const hidden = await h.get(path, TOKENS.ps);
    const missing = await h.get(path.replace(other, 'traffic-999'), TOKENS.ps);
    t.is(hidden.status, 404, path);
    t.is(missing.status, 404);
    const a = await hidden.json() as { code: string; message: string };
    const b = await missing.json() as { code: string; message: string };
    t.is(a.code, 'INDEX_NOT_FOUND');
    t.is(a.code, b.code);
    t.is(a.message.replace(other, 'X'), b.message.replace('traffic-999', 'X'));
  }
  t.is((await h.get(`/api/v1/tracks/${encodeURIComponent(other)}`, TOKENS.traffic)).status, 200);
});

test('api - face search finds a face in the caller\'s department only', async (t) => {
  const search = async (seed: number, token: string): Promise<{ status: number; body: { matches: { record: { id: string; department: string }; similarity: number }[] } }> => {
    const form = new FormData();
    form.append('image', new Blob([await noisePng(seed)], { type: 'image/png' }), 'face.png');
    const res = await fetch(`${h.url}/api/v1/faces/search?k=5`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() as never };
  };
  const own = await search(h.faceSeeds['public-security'], TOKENS.ps);
  t.is(own.status, 200);
  t.is(own.body.matches[0]?.record.id, h.records['public-security'][0]!.id);
  t.true(own.body.matches[0]!.similarity > 0.99);
  // The traffic face, searched by public security: never returned, however similar.
  const other = await search(h.faceSeeds.traffic, TOKENS.ps);
  t.is(other.status, 200);
  t.true(other.body.matches.every((m) => m.record.department === 'public-security'));
  t.false(other.body.matches.some((m) => m.record.id === h.records.traffic[0]!.id));
  const theirs = await search(h.faceSeeds.traffic, TOKENS.traffic);
  t.is(theirs.body.matches[0]?.record.id, h.records.traffic[0]!.id);
});
