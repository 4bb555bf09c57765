import test from 'ava';
import { openIndex } from '../search-index/index.js';
import { makeRecord, rng, tempDir, unitVector } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

test('index - the sweep deletes faces after faceDays and tracks after trackDays, with their entries', async (t) => {
  const { dir, cleanup } = tempDir('retention');
  t.teardown(cleanup);
  const D = 16;
  let index = await openIndex({ dataKey: testDataKey(),  dir, dimensions: D, retention: { trackDays: 30, faceDays: 7 }, sweepIntervalMs: 0 });
  const rand = rng(11);
  const face = unitVector(rand, D);
  const at = (days: number): number => NOW - days * DAY;
  await index.put(makeRecord({ id: 'face-old', start: at(10), end: at(10), embedding: face, thumbnail: new Uint8Array([1]), attributes: { gender: 'female' }, cls: 'person' }));
  await index.put(makeRecord({ id: 'face-new', start: at(2), end: at(2), embedding: face, cls: 'person', attributes: { gender: 'female' } }));
  await index.put(makeRecord({ id: 'car-10d', start: at(10), end: at(10), attributes: { colour: 'red' } }));
  await index.put(makeRecord({ id: 'car-40d', start: at(40), end: at(40), attributes: { colour: 'red' }, thumbnail: new Uint8Array([2]) }));
  await index.flush();
  t.like(index.stats(), { records: 4, faces: 2, pendingWrites: 0 });

  t.is(await index.sweep(NOW), 2);
  t.like(index.stats(), { records: 2, faces: 1, pendingWrites: 0 });
  for (const id of ['face-old', 'car-40d']) {
    t.is(await index.get(id, 'all'), null);
    t.is(await index.thumbnail(id, 'all'), null);
  }
  t.deepEqual((await index.query({}, 'all')).records.map((r) => r.id), ['face-new', 'car-10d']);
  t.deepEqual((await index.query({ attributes: { colour: 'red' } }, 'all')).records.map((r) => r.id), ['car-10d']);
  t.deepEqual((await index.faceSearch(face, { k: 5 }, 'all')).map((m) => m.record.id), ['face-new']);
  t.is(await index.sweep(NOW), 0);

  // The removed vector stays gone after a reopen (saved graph or rebuild alike).
  await index.close();
  index = await openIndex({ dataKey: testDataKey(),  dir, dimensions: D, retention: { trackDays: 30, faceDays: 7 }, sweepIntervalMs: 0 });
  t.deepEqual((await index.faceSearch(face, { k: 5 }, 'all')).map((m) => m.record.id), ['face-new']);
  t.like(index.stats(), { records: 2, faces: 1, pendingWrites: 0 });
  await index.close();
});

test('index - retention options are checked and name the option', async (t) => {
  await t.throwsAsync(openIndex({ dataKey: testDataKey(),  dir: '/tmp/never', retention: { trackDays: 0, faceDays: 7 } }), { instanceOf: RangeError, message: /retention\.trackDays/ });
  await t.throwsAsync(openIndex({ dataKey: testDataKey(),  dir: '/tmp/never', batchSize: 0 }), { instanceOf: RangeError, message: /batchSize/ });
});
