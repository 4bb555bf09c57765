import test from 'ava';
import { openIndex, type Scope } from '../search-index/index.js';
import { makeRecord, rng, tempDir, unitVector } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const T0 = 1_700_000_000_000;
const D = 32;

test('index - department scope hides other departments in get, query, paging and face search', async (t) => {
  const { dir, cleanup } = tempDir('scope');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, dimensions: D, batchSize: 64, flushMs: 5, sweepIntervalMs: 0 });
  const rand = rng(3);
  const face = unitVector(rand, D);
  // Police own cam-p*, traffic own cam-t*; both saw the same face.
  for (let i = 0; i < 60; i++) {
    const police = i % 2 === 0;
    await index.put(makeRecord({
      id: `${police ? 'p' : 't'}${i}`,
      cameraId: police ? `cam-p${i % 3}` : `cam-t${i % 3}`,
      department: police ? 'police' : 'traffic',
      cls: 'person',
      start: T0 + i * 1000,
      attributes: { gender: 'male' },
      thumbnail: new Uint8Array([i]),
      embedding: i < 20 ? face : unitVector(rand, D),
    }));
  }
  await index.flush();
  const traffic: Scope = { departments: ['traffic'] };
  const nobody: Scope = { departments: [] };

  t.truthy(await index.get('p0', 'all'));
  t.is(await index.get('p0', traffic), null);
  t.is(await index.thumbnail('p0', traffic), null);
  t.truthy(await index.thumbnail('t1', traffic));

  // Paging through everything in scope returns only traffic records.
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await index.query({ limit: 7, ...(cursor ? { cursor } : {}) }, traffic);
    seen.push(...page.records.map((r) => r.id));
    cursor = page.nextCursor;
  } while (cursor);
  t.is(seen.length, 30);
  t.true(seen.every((id) => id.startsWith('t')));

  // A police camera named by a traffic user looks exactly like a camera that does not exist.
  const outside = await index.query({ cameraIds: ['cam-p0'] }, traffic);
  const missing = await index.query({ cameraIds: ['no-such-cam'] }, traffic);
  t.deepEqual(outside, missing);
  t.deepEqual(outside, { records: [], nextCursor: null });
  // A cursor taken from another scope's page does not leak records either.
  const policePage = await index.query({ limit: 5 }, { departments: ['police'] });
  const crossed = await index.query({ limit: 50, cursor: policePage.nextCursor! }, traffic);
  t.true(crossed.records.every((r) => r.department === 'traffic'));

  const matches = await index.faceSearch(face, { k: 10 }, traffic);
  t.is(matches.length, 10);
  t.true(matches.every((m) => m.record.department === 'traffic'));
  t.true(matches.slice(0, 10).every((m) => m.similarity > 0.999));
  const all = await index.faceSearch(face, { k: 20 }, 'all');
  t.is(all.filter((m) => m.similarity > 0.999).length, 20);
  t.deepEqual(await index.faceSearch(face, { k: 5, cameraIds: ['cam-p0'] }, traffic), []);
  const cam = await index.faceSearch(face, { k: 50, cameraIds: ['cam-t1'], from: T0, to: T0 + 30_000 }, 'all');
  t.true(cam.length > 0);
  t.true(cam.every((m) => m.record.cameraId === 'cam-t1' && m.record.start <= T0 + 30_000));

  t.deepEqual(await index.query({}, nobody), { records: [], nextCursor: null });
  t.deepEqual(await index.faceSearch(face, {}, nobody), []);
  t.is(await index.get('t1', nobody), null);
  await index.close();
});
