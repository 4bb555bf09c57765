/**
 * Erasure in the index itself (search-index/erase.ts), on real RocksDB with enough records that face search goes
 * through the HNSW graph (more than faceExactMax): the erased records, their entries, faces and vectors go, counts
 * stay right, scope holds, nothing comes back after a restart (graph reload and catch-up) or a retention sweep.
 */
import test from 'ava';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { INDEX_DEFAULTS, openIndex, verifyIndex, type LocalIndex } from '../search-index/index.js';
import { makeRecord, tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const DIM = 16;
const T0 = 1_700_000_000_000;

function unit(seed: number): Float32Array {
  const v = new Float32Array(DIM);
  let a = seed >>> 0;
  let n = 0;
  for (let i = 0; i < DIM; i++) {
    a = (a * 1664525 + 1013904223) >>> 0;
    v[i] = (a / 2 ** 32) - 0.5;
    n += v[i]! * v[i]!;
  }
  for (let i = 0; i < DIM; i++) v[i] = v[i]! / Math.sqrt(n);
  return v;
}

/** The person: a face close to `unit(7)` (tiny noise), in two departments. */
function near(seed: number, k: number): Float32Array {
  const v = unit(seed).slice();
  v[k % DIM] = v[k % DIM]! + 0.01;
  return v;
}

const open = (dir: string): Promise<LocalIndex> => openIndex({ dataKey: testDataKey(), dir, batchSize: 512, flushMs: 5, sweepIntervalMs: 0, vectorSaveIntervalMs: 0, dimensions: DIM });

test('index - erasure removes records, entries, faces and vectors within scope; a restart and a sweep bring nothing back', async (t) => {
  t.timeout(180_000);
  const { dir, cleanup } = tempDir('index-erase');
  t.teardown(cleanup);
  const idxDir = join(dir, 'index');
  let index = await open(idxDir);
  const total = INDEX_DEFAULTS.faceExactMax + 400;
  for (let i = 0; i < total; i++) {
    await index.put(makeRecord({ id: `r-${i}`, cameraId: i % 2 ? 'cam-a' : 'cam-b', department: i % 2 ? 'police' : 'traffic', cls: 'person', start: T0 + i * 10, embedding: unit(1000 + i) }));
  }
  const person = ['p-police-1', 'p-police-2', 'p-traffic-1'];
  for (const [k, id] of person.entries()) {
    await index.put(makeRecord({ id, cameraId: id.includes('police') ? 'cam-a' : 'cam-b', department: id.includes('police') ? 'police' : 'traffic', cls: 'person', start: T0 + 5_000 + k, attributes: { gender: 'female' }, embedding: near(7, k) }));
  }
  await index.settle();
  // Closed and reopened: the graph is rebuilt from the sealed face entries before the erasure.
  await index.close();
  index = await open(idxDir);
  await index.settle();
  const before = index.stats();
  t.is(before.records, total + 3);
  const ids = async (ix: LocalIndex, scope: 'all' | { departments: string[] }): Promise<string[]> => (await ix.faceSearch(unit(7), { k: 5 }, scope)).map((m) => m.record.id);
  t.deepEqual((await ids(index, 'all')).slice(0, 3).sort(), [...person].sort(), 'the graph finds the person before');

  // A police-scoped erasure: traffic's record is "not found", exactly like a missing id, and stays.
  const dry = await index.erase({ ids: [...person, 'missing'], scope: { departments: ['police'] }, dryRun: true });
  t.deepEqual(dry.tracks.sort(), ['p-police-1', 'p-police-2']);
  t.deepEqual(dry.notFound.sort(), ['missing', 'p-traffic-1']);
  t.is(dry.faces, 2);
  t.is(index.stats().records, total + 3, 'a dry run changes nothing');
  const done = await index.erase({ ids: [...person, 'missing'], scope: { departments: ['police'] } });
  t.deepEqual(done.tracks.sort(), ['p-police-1', 'p-police-2']);
  t.is(index.stats().records, total + 1);
  t.is(index.stats().faces, before.faces - 2);
  for (const id of ['p-police-1', 'p-police-2']) t.is(await index.get(id, 'all'), null);
  t.truthy(await index.get('p-traffic-1', 'all'));
  const after = await ids(index, 'all');
  t.false(after.includes('p-police-1') || after.includes('p-police-2'), after.join());
  t.is(after[0], 'p-traffic-1');
  t.deepEqual((await index.query({ attributes: { gender: 'female' } }, 'all')).records.map((r) => r.id), ['p-traffic-1']);
  // Erasing again finds nothing: the answer is the same "not found" as for any missing id.
  t.deepEqual((await index.erase({ ids: ['p-police-1'], scope: 'all' })).notFound, ['p-police-1']);

  // No copy of the erased vectors on disk: the face graph is never written there (its freed slots in memory are
  // overwritten by the erasure's scrub), and the F entries are gone.
  t.false(readdirSync(idxDir).some((f) => /usearch/.test(f)), readdirSync(idxDir).join());
  await index.close();
  const report = await verifyIndex(idxDir);
  t.deepEqual(report.problems, []);
  t.is(report.records, total + 1);

  // Restart: the graph rebuilt from RocksDB does not bring the vectors back.
  index = await open(idxDir);
  t.is(index.stats().records, total + 1);
  await index.settle();
  const reopened = await ids(index, 'all');
  t.false(reopened.includes('p-police-1') || reopened.includes('p-police-2'), reopened.join());
  t.is(reopened[0], 'p-traffic-1');
  // Retention after it: the sweep counts only what was left.
  t.is(await index.sweep(T0 + 400 * 86_400_000), total + 1);
  t.is(index.stats().records, 0);
  await index.close();
  t.deepEqual((await verifyIndex(idxDir)).problems, []);
});

test('index - erasure requests are checked: ids, their number and the scope', async (t) => {
  const { dir, cleanup } = tempDir('index-erase-bad');
  t.teardown(cleanup);
  const index = await open(join(dir, 'index'));
  t.teardown(() => index.close());
  await t.throwsAsync(index.erase({ ids: [], scope: 'all' }), { code: 'INDEX_BAD_QUERY' });
  await t.throwsAsync(index.erase({ ids: ['a\0b'], scope: 'all' }), { code: 'INDEX_BAD_QUERY' });
  await t.throwsAsync(index.erase({ ids: Array.from({ length: 1001 }, (_, i) => `x${i}`), scope: 'all' }), { code: 'INDEX_BAD_QUERY' });
  await t.throwsAsync(index.erase({ ids: ['a'], scope: 'police' as never }), { instanceOf: TypeError });
});
