import test from 'ava';
import { solveDense, solveMaxPairs, solveWithLimit } from '../tracking/assignment.js';

function* permutations(n: number, k: number, used: boolean[] = [], prefix: number[] = []): Generator<number[]> {
  if (prefix.length === k) return yield prefix;
  for (let j = 0; j < n; j++) {
    if (used[j]) continue;
    used[j] = true;
    yield* permutations(n, k, used, [...prefix, j]);
    used[j] = false;
  }
}

test('tracking - assignment is optimal on random rectangular matrices', (t) => {
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let trial = 0; trial < 60; trial++) {
    const rows = 1 + Math.floor(rand() * 5);
    const cols = 1 + Math.floor(rand() * 5);
    const cost = Array.from({ length: rows * cols }, () => Math.round(rand() * 100));
    const pairs = solveDense(cost, rows, cols);
    t.is(pairs.length, Math.min(rows, cols));
    const got = pairs.reduce((s, [i, j]) => s + cost[i * cols + j]!, 0);
    let best = Infinity;
    if (rows <= cols) for (const p of permutations(cols, rows)) best = Math.min(best, p.reduce((s, j, i) => s + cost[i * cols + j]!, 0));
    else for (const p of permutations(rows, cols)) best = Math.min(best, p.reduce((s, i, j) => s + cost[i * cols + j]!, 0));
    t.is(got, best);
  }
});

test('tracking - assignment with a limit leaves costly pairs unmatched and beats greedy', (t) => {
  // Greedy would take (0,0) at 0.1 and leave row 1 with nothing; the optimum pairs both rows.
  const edges = [
    { row: 0, col: 0, cost: 0.1 },
    { row: 0, col: 1, cost: 0.2 },
    { row: 1, col: 0, cost: 0.3 },
    { row: 2, col: 2, cost: 0.95 },
  ];
  t.deepEqual(solveWithLimit(3, 3, edges, 0.8), [[0, 1], [1, 0]]);
});

test('tracking - max-pairs assignment prefers more pairs over a cheaper single pair', (t) => {
  const cost = [0.1, 0.4, 0.2, NaN];
  t.deepEqual(solveMaxPairs(cost, 2, 2), [[0, 1], [1, 0]]);
  t.deepEqual(solveMaxPairs([NaN, NaN], 1, 2), []);
});
