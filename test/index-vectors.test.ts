/**
 * The face graph's thread (search-index/vectors.ts): faces are searchable the moment they are added (exactly,
 * from the tail) and after the background build (from the graph); removals hide a face wherever it sits; the
 * graph is never written to disk (it would hold embeddings in clear), and a file of an earlier version is deleted.
 */
import test from 'ava';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaceVectors } from '../search-index/vectors.js';
import { rng, tempDir, unitVector } from './support/index-records.js';
import { TEST_DATA_KEY_FILE } from './support/data-key.js';

const D = 64;

function dataset(n: number, seed: number): Float32Array {
  const rand = rng(seed);
  const out = new Float32Array(n * D);
  for (let i = 0; i < n; i++) out.set(unitVector(rand, D), i * D);
  return out;
}

function row(data: Float32Array, i: number): Float32Array {
  return data.slice(i * D, (i + 1) * D);
}

/** Exact top-k sequences (seq = row + 1). */
function exactTop(data: Float32Array, q: Float32Array, k: number): number[] {
  const sims: Array<[number, number]> = [];
  for (let i = 0; i < data.length / D; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += data[i * D + j]! * q[j]!;
    sims.push([i + 1, s]);
  }
  return sims.sort((a, b) => b[1] - a[1]).slice(0, k).map(([seq]) => seq);
}

test('vectors - added faces are found at once from the tail and after the build from the graph', async (t) => {
  const { dir, cleanup } = tempDir('vectors');
  t.teardown(cleanup);
  const n = 2000;
  const data = dataset(n, 1);
  const { vectors, after } = await FaceVectors.open(dir, D, 0, { keys: TEST_DATA_KEY_FILE });
  t.teardown(() => vectors.close());
  t.is(after, 0);
  // In batches, as the index adds them after each write.
  for (let b = 0; b < n; b += 250) vectors.add(Array.from({ length: 250 }, (_, i) => b + i + 1), data.subarray(b * D, (b + 250) * D));
  t.is(vectors.size, n);
  const queries = dataset(20, 2);
  // Straight after the adds most faces are still in the tail, and every one of them is found at once.
  for (const i of [0, 1000, 1750, 1999]) {
    const [top] = await vectors.search(row(data, i), 1);
    t.is(top?.seq, i + 1);
    t.true(Math.abs(top!.similarity - 1) < 0.02);
  }
  await vectors.settle();
  t.deepEqual(vectors.backlog(), { graph: n, tail: 0 });
  let hits = 0;
  for (let q = 0; q < 20; q++) {
    const want = new Set(exactTop(data, row(queries, q), 10));
    // The index asks the graph for 8k candidates and re-ranks them exactly: the true top 10 must be among them.
    for (const h of await vectors.search(row(queries, q), 80)) if (want.has(h.seq)) hits++;
  }
  t.true(hits / 200 >= 0.95, `graph candidate recall ${hits / 200}`);
  // A face is its own nearest neighbour, wherever it sits.
  for (const i of [0, 777, 1999]) t.is((await vectors.search(row(data, i), 1))[0]?.seq, i + 1);
});

test('vectors - remove hides a face in the graph and in the tail', async (t) => {
  const { dir, cleanup } = tempDir('vectors-remove');
  t.teardown(cleanup);
  const data = dataset(600, 3);
  const { vectors } = await FaceVectors.open(dir, D, 0, { keys: TEST_DATA_KEY_FILE });
  t.teardown(() => vectors.close());
  vectors.add(Array.from({ length: 300 }, (_, i) => i + 1), data.subarray(0, 300 * D));
  await vectors.settle();
  vectors.add(Array.from({ length: 300 }, (_, i) => i + 301), data.subarray(300 * D));
  // 10 is in the graph; 450 is most likely still in the tail (searched before the build reaches it or not:
  // either way it must disappear).
  vectors.remove([10, 450]);
  for (const i of [9, 449]) {
    const hits = await vectors.search(row(data, i), 5);
    t.false(hits.some((h) => h.seq === i + 1), `seq ${i + 1} still found`);
  }
  await vectors.settle();
  for (const i of [9, 449]) t.false((await vectors.search(row(data, i), 5)).some((h) => h.seq === i + 1));
  t.is((await vectors.search(row(data, 10), 1))[0]?.seq, 11);
});

test('vectors - the graph is never written to disk; a graph file of an earlier version (clear embeddings) is deleted on open', async (t) => {
  const { dir, cleanup } = tempDir('vectors-save');
  t.teardown(cleanup);
  const data = dataset(500, 4);
  // What layout 2 left beside its database: the quantised embeddings in clear.
  writeFileSync(join(dir, 'faces-500.usearch'), Buffer.from(data.buffer));
  writeFileSync(join(dir, 'faces-600.usearch.tmp'), Buffer.from('partial'));
  const first = await FaceVectors.open(dir, D, 500, { keys: TEST_DATA_KEY_FILE });
  t.is(first.after, 0);
  t.is(first.vectors.size, 0);
  t.deepEqual(readdirSync(dir).filter((f) => f.includes('.usearch')), []);
  first.vectors.add(Array.from({ length: 500 }, (_, i) => i + 1), data);
  await first.vectors.settle();
  t.is((await first.vectors.search(row(data, 123), 1))[0]?.seq, 124);
  await first.vectors.close();
  t.deepEqual(readdirSync(dir), []);
});
