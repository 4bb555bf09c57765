import test from 'ava';
import { startHarness, noisePng, TOKENS, type ApiHarness } from './support/api-app.js';

interface Entry { at: number; tokenId: string; role: string; department: string; action: string; query: Record<string, unknown>; results: string[] | number }

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 5 }); });
test.after.always(async () => { await h?.close(); });

async function readAll(token = TOKENS.admin): Promise<Entry[]> {
  const out: Entry[] = [];
  let cursor: string | null = null;
  do {
    const res = await h.get(`/api/v1/audit?limit=2${cursor ? `&cursor=${cursor}` : ''}`, token);
    if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
    const page = await res.json() as { entries: Entry[]; nextCursor: string | null };
    out.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

test.serial('api - every search, face search, track detail and thumbnail is audited; only admins read the trail', async (t) => {
  const before = Date.now();
  const search = await (await h.get('/api/v1/search?class=car&colour=red', TOKENS.ps)).json() as { records: { id: string }[] };
  const trackId = h.records.traffic[1]!.id;
  t.is((await h.get(`/api/v1/tracks/${encodeURIComponent(trackId)}`, TOKENS.traffic)).status, 200);
  t.is((await h.get(`/api/v1/tracks/${encodeURIComponent(trackId)}/thumbnail`, TOKENS.traffic)).status, 200);
  // A look at a track outside the scope is audited too, as nothing returned.
  t.is((await h.get(`/api/v1/tracks/${encodeURIComponent(trackId)}`, TOKENS.ps)).status, 404);
  const form = new FormData();
  const png = await noisePng(h.faceSeeds['public-security']);
  form.append('image', new Blob([png], { type: 'image/png' }), 'face.png');
  t.is((await fetch(`${h.url}/api/v1/faces/search?k=3`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TOKENS.ps}` } })).status, 200);

  for (const token of [TOKENS.ps, TOKENS.traffic, TOKENS.operator]) t.is((await h.get('/api/v1/audit', token)).status, 403);

  const entries = await readAll();
  t.is(entries.length, 5);
  t.true(entries.every((e) => e.at >= before && e.at <= Date.now()));
  const [s, tr, th, miss, face] = entries;
  t.like(s, { tokenId: 'inv-ps', role: 'investigator', department: 'public-security', action: 'search', results: search.records.map((r) => r.id) });
  t.like(s!.query, { classes: ['car'], attributes: { colour: 'red' } });
  t.like(tr, { tokenId: 'inv-traffic', department: 'traffic', action: 'track', query: { id: trackId }, results: [trackId] });
  t.like(th, { tokenId: 'inv-traffic', action: 'thumbnail', results: [trackId] });
  t.like(miss, { tokenId: 'inv-ps', action: 'track', results: 0 });
  t.like(face, { tokenId: 'inv-ps', action: 'face_search', results: [h.records['public-security'][0]!.id] });
  t.like(face!.query, { k: 3, image: { bytes: png.byteLength, format: 'png' } });
  t.false(JSON.stringify(face).includes(png.toString('base64').slice(0, 40)), 'the image itself stays out of the trail');

  const from = entries[1]!.at;
  const ranged = await (await h.get(`/api/v1/audit?from=${from}&limit=1000`, TOKENS.admin)).json() as { entries: Entry[] };
  t.true(ranged.entries.every((e) => e.at >= from));
});
