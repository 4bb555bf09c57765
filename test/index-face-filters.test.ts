import test from 'ava';
import { openIndex } from '../search-index/index.js';
import { makeRecord, rng, tempDir, unitVector } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const T0 = 1_700_000_000_000;
const D = 16;

test('index - face search filters by scope, camera and time on the graph, over-fetch and exact paths', async (t) => {
  const { dir, cleanup } = tempDir('face-filters');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, dimensions: D, batchSize: 1000, flushMs: 5, sweepIntervalMs: 0 });
  const rand = rng(5);
  const n = 8000;
  const vecs: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const e = unitVector(rand, D);
    vecs.push(e);
    await index.put(makeRecord({
      id: `f${i}`, cameraId: `cam-${i % 20}`, department: i % 2 === 0 ? 'police' : 'traffic',
      cls: 'person', start: T0 + i * 1000, embedding: e,
    }));
  }
  await index.flush();
  const query = unitVector(rand, D);
  const exact = (keep: (i: number) => boolean, k: number): string[] => vecs
    .map((v, i) => [i, v.reduce((s, x, j) => s + x * query[j]!, 0)] as const)
    .filter(([i]) => keep(i))
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([i]) => `f${i}`);

  // Graph with over-fetch: half the faces are in scope.
  const police = await index.faceSearch(query, { k: 10 }, { departments: ['police'] });
  t.is(police.length, 10);
  t.true(police.every((m) => m.record.department === 'police'));
  const want = new Set(exact((i) => i % 2 === 0, 10));
  t.true(police.filter((m) => want.has(m.record.id)).length >= 9);
  for (let i = 1; i < police.length; i++) t.true(police[i - 1]!.similarity >= police[i]!.similarity);
  // Re-ranked by the exact float embedding, not the graph's 8-bit distance.
  for (const m of police) {
    const v = vecs[Number(m.record.id.slice(1))]!;
    t.true(Math.abs(m.similarity - v.reduce((s, x, j) => s + x * query[j]!, 0)) < 1e-5);
  }

  // A narrow time window keeps 30 faces of 8000: the graph cannot supply them, the exact fallback does.
  const from = T0 + 4000 * 1000;
  const to = from + 29 * 1000;
  const narrow = await index.faceSearch(query, { k: 5, from, to }, 'all');
  t.deepEqual(narrow.map((m) => m.record.id), exact((i) => i >= 4000 && i < 4030, 5));

  // A camera holds 400 records: exact scan of that camera's range.
  const cam = await index.faceSearch(query, { k: 5, cameraIds: ['cam-3'] }, 'all');
  t.deepEqual(cam.map((m) => m.record.id), exact((i) => i % 20 === 3, 5));
  // cam-3 belongs to traffic (odd ids): in police scope it does not exist.
  t.deepEqual(await index.faceSearch(query, { k: 5, cameraIds: ['cam-3'] }, { departments: ['police'] }), []);
  await index.close();
});
