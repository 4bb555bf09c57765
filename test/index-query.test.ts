import test from 'ava';
import { openIndex, type SearchQuery, type TrackRecordSummary } from '../search-index/index.js';
import type { ObjectClass } from '../common/messages.js';
import { makeRecord, rng, tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const T0 = 1_700_000_000_000;
const COLOURS = ['red', 'blue', 'white', 'black'];
const CLASSES: ObjectClass[] = ['car', 'person', 'bus', 'truck'];

/** Brute-force reference: the same predicates over the records in memory, in page order. */
function expected(all: TrackRecordSummary[], q: SearchQuery): string[] {
  return all
    .filter((r) => (!q.cameraIds || q.cameraIds.includes(r.cameraId))
      && (!q.classes || q.classes.includes(r.cls))
      && (q.from === undefined || r.start >= q.from)
      && (q.to === undefined || r.start <= q.to)
      && Object.entries(q.attributes ?? {}).every(([k, v]) => r.attributes[k] === v))
    .sort((a, b) => b.start - a.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((r) => r.id);
}

for (const scanBudget of [undefined, 25]) {
test(`index - query by attributes, classes, cameras and time matches a brute-force scan (scan budget ${scanBudget ?? 'default'})`, async (t) => {
  const { dir, cleanup } = tempDir('query');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, batchSize: 100, flushMs: 10, sweepIntervalMs: 0, ...(scanBudget ? { scanBudget } : {}) });
  const rand = rng(7);
  const all: TrackRecordSummary[] = [];
  for (let i = 0; i < 2000; i++) {
    const cls = CLASSES[Math.floor(rand() * CLASSES.length)]!;
    const r = makeRecord({
      id: `r${i}`,
      cameraId: `cam-${Math.floor(rand() * 5)}`,
      cls,
      // Coarse times so many records share a start and the id tie-break matters.
      start: T0 + Math.floor(rand() * 200) * 1000,
      // Most vehicles carry vehicleType = class (what the pipeline writes, indexed through the class range);
      // some carry another type (indexed under the attribute), and both must answer a vehicleType query.
      attributes: cls === 'person'
        ? { gender: rand() < 0.5 ? 'male' : 'female', ageBand: '18-30' }
        : { colour: COLOURS[Math.floor(rand() * 4)]!, vehicleType: rand() < 0.2 ? 'truck' : cls },
    });
    await index.put(r);
    all.push({ ...r, hasThumbnail: false, hasFace: false, hasPlateCrop: false });
  }
  await index.flush();
  t.is(index.stats().records, 2000);
  const queries: SearchQuery[] = [
    {},
    { attributes: { colour: 'red' } },
    { attributes: { colour: 'red', vehicleType: 'bus' } },
    { attributes: { vehicleType: 'truck' } },
    { classes: ['car'], attributes: { vehicleType: 'truck' } },
    { classes: ['person'], attributes: { gender: 'female' } },
    { cameraIds: ['cam-1', 'cam-3'], from: T0 + 50_000, to: T0 + 120_000 },
    { cameraIds: ['cam-2'], classes: ['car', 'truck'], attributes: { colour: 'white' } },
    { from: T0 + 199_000 },
    { to: T0 },
    { cameraIds: ['no-such-camera'] },
    { attributes: { colour: 'purple' } },
  ];
  for (const q of queries) {
    const want = expected(all, q);
    const got: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await index.query({ ...q, limit: 37, ...(cursor ? { cursor } : {}) }, 'all');
      t.true(page.records.length <= 37);
      got.push(...page.records.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 2000);
    t.deepEqual(got, want, JSON.stringify(q));
  }
  await index.close();
});
}

test('index - get returns the whole record and put of the same id replaces it', async (t) => {
  const { dir, cleanup } = tempDir('get');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0 });
  const thumb = new Uint8Array([0xff, 0xd8, 1, 2, 3]);
  const r = makeRecord({ id: 'x1', attributes: { colour: 'red' }, thumbnail: thumb });
  await index.put(r);
  await index.flush();
  const got = await index.get('x1', 'all');
  t.truthy(got);
  t.deepEqual(got?.thumbnail, thumb);
  t.is(got?.embedding, null);
  t.deepEqual(got?.attributes, { colour: 'red' });
  t.deepEqual(await index.thumbnail('x1', 'all'), thumb);
  t.is(await index.get('missing', 'all'), null);
  await index.put({ ...r, attributes: { colour: 'blue' } });
  await index.flush();
  t.is(index.stats().records, 1);
  t.deepEqual((await index.query({ attributes: { colour: 'red' } }, 'all')).records, []);
  t.deepEqual((await index.query({ attributes: { colour: 'blue' } }, 'all')).records.map((x) => x.id), ['x1']);
  await index.close();
  await t.throwsAsync(index.query({}, 'all'), { code: 'INDEX_CLOSED' } as never);
});

test('index - cursors stay stable while new records arrive', async (t) => {
  const { dir, cleanup } = tempDir('cursor');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, batchSize: 50, flushMs: 5, sweepIntervalMs: 0 });
  for (let i = 0; i < 100; i++) await index.put(makeRecord({ id: `a${String(i).padStart(3, '0')}`, start: T0 + i * 1000 }));
  await index.flush();
  const first = await index.query({ limit: 30 }, 'all');
  // Newer records (start after everything) and older ones interleaved with what is still to come.
  for (let i = 0; i < 20; i++) await index.put(makeRecord({ id: `new${i}`, start: T0 + 1_000_000 + i }));
  await index.flush();
  const rest: string[] = [];
  let cursor = first.nextCursor;
  while (cursor) {
    const page = await index.query({ limit: 30, cursor }, 'all');
    rest.push(...page.records.map((r) => r.id));
    cursor = page.nextCursor;
  }
  const ids = [...first.records.map((r) => r.id), ...rest];
  t.is(ids.length, 100);
  t.is(new Set(ids).size, 100);
  t.deepEqual(ids, Array.from({ length: 100 }, (_, i) => `a${String(99 - i).padStart(3, '0')}`));
  await index.close();
});
