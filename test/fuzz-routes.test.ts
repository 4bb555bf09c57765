/**
 * Property-based fuzzing of every API route (issue 20, "Fuzzing the surfaces"): the real app over a real RocksDB
 * index with records of two departments, a real watch-list store with lists, entries and alarms of both, real
 * exports and the audit chain. The routes come from the app's own OpenAPI document, so a route added later is
 * fuzzed without editing this file. For each: random and malformed query strings, headers, JSON bodies, multipart
 * uploads, path tricks in ids, cursors from other queries and scopes. Every answer: no 5xx but the documented 503s,
 * no stack trace or internal path, the `{ code, message }` error shape with a known code, nothing of a department
 * outside the caller's scope; and the process answers /health after every request.
 *
 * Seed: FUZZ_SEED (default 20, printed on failure); more runs: FUZZ_RUNS=10. Each input that once broke something is
 * in REGRESSIONS and runs first, every time.
 */
import test from 'ava';
import fc from 'fast-check';
import { createLogger } from '../common/log.js';
import { loadNodeKey } from '../common/node-key.js';
import { openRecordings, type RecordingServiceExt } from '../recording/index.js';
import { startHarness, TOKENS, JPEG_THUMB, T0, type ApiHarness } from './support/api-app.js';
import { tempDir } from './support/index-records.js';
import { astronautPng, watchAlarm } from './support/watchlist.js';
import { FUZZ_SEED, check, makeUploads, requestArb, routesOf, runs, send, type FuzzRequest, type Owned, type Pools, type Route, type UploadName } from './support/fuzz.js';
import { testDataKey } from './support/data-key.js';

const DEPTS: Record<string, readonly string[]> = {
  [TOKENS.ps]: ['public-security'], [TOKENS.traffic]: ['traffic'], [TOKENS.operator]: ['*'], [TOKENS.opTraffic]: ['traffic'], [TOKENS.admin]: ['*'], [TOKENS.desk]: ['traffic'],
};
const deptsOf = (secret: string): readonly string[] | null => DEPTS[secret] ?? null;

/** Inputs that once broke something: each runs first in its route's property, on every run. */
const REGRESSIONS: readonly FuzzRequest[] = [
  // A plain GET of a WebSocket route: @fastify/websocket answered 404 with an empty body (fixed in api/server.ts).
  { method: 'GET', route: '/api/v1/live', params: [], encode: false, query: '', headers: { authorization: `Bearer ${TOKENS.ps}` }, body: { kind: 'none' } },
  { method: 'GET', route: '/api/v1/cameras/:id/live', params: ['cam-ps-1'], encode: true, query: '', headers: { authorization: `Bearer ${TOKENS.admin}` }, body: { kind: 'none' } },
  // A path id over fastify's maxParamLength: the router answered 414 with its own { error, code: FST_ERR_... } body.
  { method: 'POST', route: '/api/v1/cluster/nodes/:id/drain', params: ['a'.repeat(300)], encode: false, query: '', headers: { authorization: `Bearer ${TOKENS.admin}` }, body: { kind: 'none' } },
  { method: 'GET', route: '/api/v1/tracks/:id', params: ['a'.repeat(5000)], encode: false, query: '', headers: { authorization: `Bearer ${TOKENS.ps}` }, body: { kind: 'none' } },
  { method: 'GET', route: '/api/v1/tracks/:id', params: ['%zz'], encode: false, query: '', headers: { authorization: `Bearer ${TOKENS.ps}` }, body: { kind: 'none' } },
  // Malformed multipart bodies: busboy's plain Errors (no boundary, cut short, a boundary over 256 characters) were 500s.
  { method: 'POST', route: '/api/v1/watchlists/:id/entries', params: ['a\u0000b'], encode: true, query: '', headers: { authorization: `Bearer ${TOKENS.ps}` }, body: { kind: 'multipart', parts: [], contentType: 'multipart/form-data; boundary=other' } },
  { method: 'POST', route: '/api/v1/faces/search', params: [], encode: true, query: '', headers: { authorization: `Bearer ${TOKENS.ps}` }, body: { kind: 'multipart', parts: [], contentType: 'multipart/form-data' } },
  { method: 'POST', route: '/api/v1/faces/search', params: [], encode: true, query: '', headers: { authorization: `Bearer ${TOKENS.ps}` }, body: { kind: 'multipart', parts: [], contentType: `multipart/form-data; boundary=${'b'.repeat(300)}` } },
  { method: 'POST', route: '/api/v1/faces/search', params: [], encode: true, query: '', headers: { authorization: `Bearer ${TOKENS.ps}` }, body: { kind: 'multipart', parts: [{ name: 'image', file: 'noise' }], contentType: 'multipart/form-data; boundary=fuzzBoundary7MA4YWxkTrZu0gW', truncate: 0.5 } },
  // A person's thumbnail for a token without the face grant, stored as a JPEG that does not decode: blurHead threw, a 500.
  { method: 'GET', route: '/api/v1/tracks/:id/thumbnail', params: ['traffic-000'], encode: false, query: '', headers: { authorization: `Bearer ${TOKENS.desk}` }, body: { kind: 'none' } },
  // A truncated PNG through the test's face embedder: a plain sharp error, a 500 (the embedder now throws INFERENCE_BAD_IMAGE as the real one).
  { method: 'POST', route: '/api/v1/faces/search', params: [], encode: true, query: '', headers: { authorization: `Bearer ${TOKENS.ps}` }, body: { kind: 'multipart', parts: [{ name: 'image', file: 'truncPng' }], contentType: 'multipart/form-data; boundary=fuzzBoundary7MA4YWxkTrZu0gW' } },
  // Not a defect, a check that was too strict: an error message that echoes the caller's own input ("file:///...").
  { method: 'PATCH', route: '/api/v1/watchlists/:id/entries/:entry', params: ['a\u0000b', ' '], encode: true, query: '', headers: { authorization: `Bearer ${TOKENS.ps}` }, body: { kind: 'text', contentType: 'application/json', text: '{"expiresAt":"file:///etc/passwd"}' } },
];

let h: ApiHarness;
let keyDir: { dir: string; cleanup: () => void };
let recDir: { dir: string; cleanup: () => void };
let rec: RecordingServiceExt;
let routes: Route[];
let uploads: Record<UploadName, Buffer>;
const owned: Owned = { 'public-security': [], traffic: [] };
const pools: Pools = { ids: [], cursors: [], hot: {} };

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

test.before(async () => {
  keyDir = tempDir('fuzz-key');
  recDir = tempDir('fuzz-rec');
  // A real recording service that records nothing (no camera given to it): its routes answer ranges, gaps and holds.
  rec = await openRecordings({ dir: recDir.dir, settings: { segmentSeconds: 4, totalQuotaBytes: 0, minFreeBytes: 0, maxClipMs: 60_000, clipCacheMs: 600_000, retentionIntervalMs: 3_600_000 }, log: createLogger({ level: 'error', sink: () => undefined }), dataKey: testDataKey() });
  h = await startHarness({ perDepartment: 4, watchlists: true, exports: true, recordings: rec, audit: { key: await loadNodeKey(keyDir.dir), node: 'fuzz', checkpointEvery: 200, checkpointIntervalMs: 0 } });
  const app = h.server.app;
  uploads = await makeUploads();
  routes = await routesOf(app);
  const w = h.watchlists!;
  const face = await astronautPng();
  for (const [dept, camera, token] of [['public-security', 'cam-ps-1', TOKENS.ps], ['traffic', 'cam-tr-1', TOKENS.traffic]] as const) {
    const ids = owned[dept]!;
    ids.push(...h.records[dept].map((r) => r.id));
    const scope = { departments: [dept] };
    const faces = await w.createList({ name: `faces ${dept}`, department: dept, kind: 'face' }, 'seed');
    const plates = await w.createList({ name: `plates ${dept}`, department: dept, kind: 'plate' }, 'seed');
    const fe = await w.addFaceEntry(faces.id, { label: `face ${dept}`, photos: [face] }, 'seed', scope);
    const pe = await w.addPlateEntry(plates.id, { label: `plate ${dept}`, plate: dept === 'traffic' ? '鲁B12345' : '京A54321' }, 'seed', scope);
    ids.push(faces.id, plates.id, fe!.id, pe!.id);
    (pools.hot['/api/v1/watchlists/:id/entries'] ??= []).push([faces.id], [plates.id]);
    (pools.hot['/api/v1/watchlists/:id/entries/:entry'] ??= []).push([faces.id, fe!.id], [plates.id, pe!.id]);
    for (let i = 0; i < 3; i++) {
      const a = watchAlarm({ list: faces.id, entry: fe!.id, department: dept, at: T0 + i * 1000, camera, id: `alarm-${dept}-${i}` });
      await w.recordAlarm(a, { snapshot: JPEG_THUMB, face: JPEG_THUMB });
      ids.push(a.id);
    }
    const frame = `${camera}-7`;
    await h.index.putAlarmFrame!({ id: frame, cameraId: camera, department: dept, at: T0, jpeg: JPEG_THUMB });
    ids.push(frame);
    const ex = await app.inject({ method: 'POST', url: '/api/v1/exports', headers: bearer(token), payload: { trackIds: [h.records[dept][1]!.id], note: 'fuzz seed' } });
    if (ex.statusCode !== 201) throw new Error(`seed export: ${ex.statusCode} ${ex.body}`);
    ids.push((ex.json() as { id: string }).id);
  }
  pools.ids.push(...owned['public-security']!, ...owned['traffic']!, 'cam-ps-1', 'cam-ps-2', 'cam-tr-1', '0', '1', '4');
  // Cursors from other queries and other scopes: every token's first page of every paged route.
  const [psFaces, trFaces] = [await w.lists({ departments: ['public-security'] }), await w.lists({ departments: ['traffic'] })];
  const paged = ['/api/v1/search?limit=1', '/api/v1/search?limit=1&class=car', '/api/v1/alarms?limit=1', '/api/v1/audit?limit=1',
    ...[...psFaces, ...trFaces].map((l) => `/api/v1/watchlists/${l.id}/entries?limit=1`)];
  for (const url of paged) {
    for (const t of [TOKENS.ps, TOKENS.traffic, TOKENS.admin]) {
      const res = await app.inject({ method: 'GET', url, headers: bearer(t) });
      const c = res.statusCode === 200 ? (res.json() as { nextCursor?: string | null }).nextCursor : null;
      if (c) pools.cursors.push(c);
    }
  }
});

test.after.always(async () => {
  await h?.close();
  await rec?.close();
  keyDir?.cleanup();
  recDir?.cleanup();
});

/** Answers by route and status: how deep the fuzzer got (a route that only ever answers 401 is not fuzzed). */
const statuses = new Map<string, Map<number, number>>();

/** One request through every check, then a health probe: the process is still up and answering. */
async function probe(r: FuzzRequest): Promise<void> {
  const app = h.server.app;
  const a = await send(app, r, uploads);
  if (a) {
    const byStatus = statuses.get(`${r.method} ${r.route}`) ?? new Map<number, number>();
    byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
    statuses.set(`${r.method} ${r.route}`, byStatus);
    const problems = check(r, a, owned, deptsOf);
    if (problems.length) throw new Error(`${r.method} ${r.route} -> ${a.status}: ${problems.join('; ')}`);
    // A camera the fuzzer managed to add is removed again: nothing must start a decoder.
    if (a.status === 201 && r.route === '/api/v1/cameras') {
      const id = (JSON.parse(a.body) as { id: string }).id;
      await app.inject({ method: 'DELETE', url: `/api/v1/cameras/${encodeURIComponent(id)}`, headers: bearer(TOKENS.admin) });
    }
  }
  if (({} as Record<string, unknown>)['polluted'] !== undefined) throw new Error(`${r.method} ${r.route}: Object.prototype was polluted`);
  const health = await app.inject({ method: 'GET', url: '/health' });
  if (health.statusCode !== 200) throw new Error(`${r.method} ${r.route}: /health answers ${health.statusCode} afterwards`);
}

test.serial('fuzz - the routes come from the app itself, and there are many', (t) => {
  t.true(routes.length >= 40, `${routes.length} routes`);
  for (const want of ['GET /api/v1/search', 'POST /api/v1/faces/search', 'POST /api/v1/watchlists/:id/entries', 'GET /api/v1/exports/:id/download', 'GET /health']) {
    t.true(routes.some((r) => `${r.method} ${r.url}` === want), want);
  }
  t.true(pools.cursors.length >= 6, `${pools.cursors.length} cursors harvested`);
});

test.serial('fuzz - every route: no 500, no stack trace, stable error shape, nothing out of scope, still up', async (t) => {
  t.timeout(10 * 60_000);
  for (const route of routes) {
    const examples = REGRESSIONS.filter((r) => r.route === route.url).map((r) => [r] as [FuzzRequest]);
    // Upload routes get more runs: their inputs have the most moving parts.
    const numRuns = runs(route.multipart ? 40 : route.method === 'GET' ? 12 : 30);
    try {
      await fc.assert(fc.asyncProperty(requestArb(route, pools), probe), { seed: FUZZ_SEED, numRuns, examples, includeErrorInReport: true });
    } catch (err) {
      t.log(`${route.method} ${route.url}: re-run with FUZZ_SEED=${FUZZ_SEED}`);
      throw err;
    }
  }
  // Every declared route got past authentication into its own code at least once (an answer other than 401/403/429).
  const shallow = routes.filter((r) => ![...(statuses.get(`${r.method} ${r.url}`) ?? new Map<number, number>()).keys()].some((s) => ![401, 403, 429].includes(s)));
  t.deepEqual(shallow.map((r) => `${r.method} ${r.url}`), []);
  const total = new Map<number, number>();
  for (const m of statuses.values()) for (const [s, n] of m) total.set(s, (total.get(s) ?? 0) + n);
  t.log(`answers by status: ${[...total].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`).join(', ')}`);
});

test.serial('fuzz - an id of another department answers exactly like a missing one', async (t) => {
  t.timeout(5 * 60_000);
  const app = h.server.app;
  const idRoutes = routes.filter((r) => r.method === 'GET' && r.params.length > 0 && !r.public);
  const callers = [['public-security', TOKENS.ps], ['traffic', TOKENS.traffic], ['traffic', TOKENS.opTraffic]] as const;
  const property = fc.asyncProperty(
    fc.constantFrom(...idRoutes), fc.constantFrom(...callers), fc.nat(), fc.nat(),
    async (route, [dept, token], i, j) => {
      const foreign = Object.entries(owned).filter(([d]) => d !== dept).flatMap(([, ids]) => ids);
      const theirs = foreign[i % foreign.length]!;
      // The same length and character classes, so a message that echoes the id compares byte for byte.
      const missing = theirs.replace(/[a-z]/g, 'q').replace(/[0-9]/g, '9');
      const mine = owned[dept]!;
      // Other path parameters (the entry under a list, the photo number): one of the caller's own ids.
      const url = (id: string): string => {
        let k = 0;
        return route.url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => (k++ === 0 ? encodeURIComponent(id) : name === 'n' ? '0' : encodeURIComponent(mine[j % mine.length]!)));
      };
      const a = await app.inject({ method: 'GET', url: url(theirs), headers: bearer(token) });
      const b = await app.inject({ method: 'GET', url: url(missing), headers: bearer(token) });
      if (a.statusCode !== b.statusCode || a.body.split(theirs).join(missing) !== b.body) {
        throw new Error(`${route.url} as ${dept}: ${theirs} -> ${a.statusCode} ${a.body.slice(0, 200)}; missing ${missing} -> ${b.statusCode} ${b.body.slice(0, 200)}`);
      }
      if (a.statusCode < 400 && a.statusCode !== 101) throw new Error(`${route.url} as ${dept}: ${theirs} of another department answered ${a.statusCode}`);
    },
  );
  await fc.assert(property, { seed: FUZZ_SEED, numRuns: runs(150), includeErrorInReport: true });
  t.pass();
});

test.serial('fuzz - decompression bombs, huge declared sizes and lies about the type: a typed 4xx or an answer, never a 500', async (t) => {
  t.timeout(5 * 60_000);
  const app = h.server.app;
  const lists = await h.watchlists!.lists({ departments: ['public-security'] });
  const faceList = lists.find((l) => l.kind === 'face')!;
  const seen = new Map<string, number>();
  for (const file of ['bombPng', 'bombJpeg', 'hugeDimsPng', 'overBoundPng', 'zeroDimsPng', 'pngJpegMix', 'truncPng', 'truncJpeg', 'svg', 'gif', 'fakeWebp', 'empty', 'text'] as const) {
    for (const [route, params, field] of [['/api/v1/faces/search', [], 'image'], ['/api/v1/watchlists/:id/entries', [faceList.id], 'photo']] as const) {
      const parts = route === '/api/v1/faces/search' ? [{ name: field, file }] : [{ name: 'label', text: 'bomb' }, { name: field, file }];
      const r: FuzzRequest = { method: 'POST', route, params, encode: true, query: '', headers: { authorization: `Bearer ${TOKENS.ps}` }, body: { kind: 'multipart', parts } };
      await probe(r);
      const a = await send(app, r, uploads);
      seen.set(`${file} ${route}`, a!.status);
    }
  }
  // A declared 10 Gpx is refused before any pixel is decoded: over the 40 Mpx bound (413), or past sharp's own input
  // limit already when its header is read (415). The 36 Mpx bombs are decoded within the bound and hold no face (422).
  for (const route of ['/api/v1/faces/search', '/api/v1/watchlists/:id/entries']) t.true([413, 415].includes(seen.get(`hugeDimsPng ${route}`)!), route);
  for (const route of ['/api/v1/faces/search', '/api/v1/watchlists/:id/entries']) t.is(seen.get(`overBoundPng ${route}`), 413, route);
  t.is(seen.get('bombPng /api/v1/faces/search'), 422);
  for (const f of ['svg', 'gif', 'text', 'empty', 'fakeWebp', 'zeroDimsPng']) t.is(seen.get(`${f} /api/v1/faces/search`), 415, f);
  t.log([...seen].map(([k, v]) => `${k}: ${v}`).join('\n'));
});
