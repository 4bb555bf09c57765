import test from 'ava';
import { makeRecord } from './support/index-records.js';
import { startHarness, T0, TOKENS, type ApiHarness } from './support/api-app.js';

interface Summary { id: string; department: string; plateMatch?: string; hasPlateCrop: boolean; plateUrl?: string; attributes: Record<string, string | number> }
interface Entry { action: string; tokenId: string; query: Record<string, unknown>; results: string[] | number }

const CROP = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 7, 7, 7, 0xff, 0xd9]);
let h: ApiHarness;

test.before(async () => {
  h = await startHarness({ perDepartment: 3 });
  const plate = (id: string, department: string, cameraId: string, p: string, at: number, crop: boolean): Parameters<ApiHarness['index']['put']>[0] => ({
    ...makeRecord({ id: `${cameraId}:${id}:${T0 + at}`, cameraId, department, cls: 'car', start: T0 + at, attributes: { colour: 'white', plate: p, plateColour: 'blue', plateConfidence: 0.93 } }),
    plateCrop: crop ? new Uint8Array(CROP) : null,
  });
  await h.index.put(plate('1', 'public-security', 'cam-ps-1', '鲁B12345', 100_000, true));
  await h.index.put(plate('2', 'public-security', 'cam-ps-2', '鲁B1234S', 101_000, false));
  await h.index.put(plate('3', 'traffic', 'cam-tr-1', '鲁B12345', 102_000, true));
  await h.index.put({ ...makeRecord({ id: 'cam-ps-1:p:1', cameraId: 'cam-ps-1', department: 'public-security', cls: 'person', start: T0 + 103_000, attributes: { upperColour: 'red', lowerColour: 'black' } }) });
  await h.index.flush();
});
test.after.always(async () => { await h?.close(); });

async function search(qs: string, token: string): Promise<{ status: number; body: { records: Summary[]; nextCursor: string | null; code?: string; message?: string } }> {
  const res = await h.get(`/api/v1/search?${qs}`, token);
  return { status: res.status, body: await res.json() as never };
}

test.serial('api - plate search: exact first, then the OCR confusion, within the caller\'s departments, with plate crop links', async (t) => {
  const { status, body } = await search(`plate=${encodeURIComponent('鲁b·12345')}`, TOKENS.ps);
  t.is(status, 200);
  t.deepEqual(body.records.map((r) => [r.id, r.plateMatch, r.hasPlateCrop]), [['cam-ps-1:1:1700000100000', 'exact', true], ['cam-ps-2:2:1700000101000', 'confusion', false]]);
  t.is(body.records[0]!.attributes['plate'], '鲁B12345');
  t.is(body.records[0]!.plateUrl, `/api/v1/tracks/${encodeURIComponent('cam-ps-1:1:1700000100000')}/plate`);
  t.is(body.records[1]!.plateUrl, undefined);
  const exactOnly = await search(`plate=${encodeURIComponent('鲁B12345')}&plateFuzzy=false`, TOKENS.ps);
  t.deepEqual(exactOnly.body.records.map((r) => r.id), ['cam-ps-1:1:1700000100000']);
  const wild = await search(`plate=${encodeURIComponent('*2345')}&plateColour=blue`, TOKENS.traffic);
  t.deepEqual(wild.body.records.map((r) => r.id), ['cam-tr-1:3:1700000102000']);
  const clothes = await search('upperColour=red&lowerColour=black', TOKENS.ps);
  t.deepEqual(clothes.body.records.map((r) => r.id), ['cam-ps-1:p:1']);
});

test.serial('api - a bad plate, plateFuzzy or colour is 400 INDEX_BAD_QUERY naming the field', async (t) => {
  for (const [qs, field] of [
    [`plate=${encodeURIComponent('鲁B12!45')}`, 'plate'], ['plate=', 'plate'], [`plate=${encodeURIComponent('**')}`, 'plate'],
    [`plate=${encodeURIComponent('鲁B12345')}&plateFuzzy=maybe`, 'plateFuzzy'], ['upperColour=pink', 'attributes.upperColour'], ['plateColour=red', 'attributes.plateColour'],
  ] as const) {
    const { status, body } = await search(qs, TOKENS.ps);
    t.is(status, 400, qs);
    t.is(body.code, 'INDEX_BAD_QUERY', qs);
    t.true(body.message!.startsWith(`${field} `), `${qs}: ${body.message}`);
  }
});

test.serial('api - the plate crop route is scoped like the thumbnail: another department\'s crop answers like a missing one', async (t) => {
  const own = 'cam-ps-1:1:1700000100000';
  const other = 'cam-tr-1:3:1700000102000';
  const ok = await h.get(`/api/v1/tracks/${encodeURIComponent(own)}/plate`, TOKENS.ps);
  t.is(ok.status, 200);
  t.is(ok.headers.get('content-type'), 'image/jpeg');
  t.deepEqual(Buffer.from(await ok.arrayBuffer()), CROP);
  t.is((await h.get(`/api/v1/tracks/${encodeURIComponent(own)}/plate?token=${TOKENS.ps}`)).status, 200);
  const hidden = await h.get(`/api/v1/tracks/${encodeURIComponent(other)}/plate`, TOKENS.ps);
  const missing = await h.get('/api/v1/tracks/cam-tr-1%3A9%3A1/plate', TOKENS.ps);
  const noCrop = await h.get(`/api/v1/tracks/${encodeURIComponent('cam-ps-2:2:1700000101000')}/plate`, TOKENS.ps);
  for (const r of [hidden, missing, noCrop]) t.is(r.status, 404);
  const a = await hidden.json() as { code: string; message: string };
  const b = await missing.json() as { code: string; message: string };
  t.is(a.code, 'INDEX_NOT_FOUND');
  t.is(a.message.replace(other, 'X'), b.message.replace('cam-tr-1:9:1', 'X'));
  t.is((await h.get(`/api/v1/tracks/${encodeURIComponent(other)}/plate`)).status, 401);
  const detail = await (await h.get(`/api/v1/tracks/${encodeURIComponent(own)}`, TOKENS.ps)).json() as Summary & { plateCrop?: unknown };
  t.true(detail.hasPlateCrop);
  t.is(detail.plateCrop, undefined);
  t.truthy(detail.plateUrl);
});

test.serial('api - plate searches and plate crops are audited with the plate asked for', async (t) => {
  const entries: Entry[] = [];
  let cursor: string | null = null;
  do {
    const res = await h.get(`/api/v1/audit?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, TOKENS.admin);
    const page = await res.json() as { entries: Entry[]; nextCursor: string | null };
    entries.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  const plateSearch = entries.find((e) => e.action === 'search' && e.query['plate'] === '鲁B12345' && e.tokenId === 'inv-ps');
  t.truthy(plateSearch);
  t.deepEqual(plateSearch!.results, ['cam-ps-1:1:1700000100000', 'cam-ps-2:2:1700000101000']);
  t.true(entries.some((e) => e.action === 'search' && e.query['plate'] === '*2345' && e.tokenId === 'inv-traffic'));
  const crops = entries.filter((e) => e.action === 'plate');
  t.true(crops.some((e) => e.query['id'] === 'cam-tr-1:3:1700000102000' && e.results === 0 && e.tokenId === 'inv-ps'));
  t.true(crops.some((e) => e.query['id'] === 'cam-ps-1:1:1700000100000' && Array.isArray(e.results)));
});
