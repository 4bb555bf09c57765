/**
 * Optimal assignment (Hungarian with row potentials and shortest augmenting paths, the Jonker-Volgenant
 * formulation), plus the two ways the tracking stage uses it: a cost limit (the tracker) and "as many pairs as
 * possible, then cheapest" (the MOT metrics, to match py-motmetrics).
 */

/** A matched pair: row index, column index. */
export type Pair = readonly [number, number];

/**
 * Minimum-cost assignment of a dense rows x cols matrix (row-major, every entry finite). Every row is assigned
 * when rows <= cols, every column otherwise.
 */
export function solveDense(cost: ArrayLike<number>, rows: number, cols: number): Pair[] {
  if (rows === 0 || cols === 0) return [];
  // The shortest-path step needs rows <= cols; transposing keeps one code path.
  const transpose = rows > cols;
  const n = transpose ? cols : rows;
  const m = transpose ? rows : cols;
  const at = transpose ? (i: number, j: number) => cost[j * cols + i]! : (i: number, j: number) => cost[i * cols + j]!;
  // 1-based arrays with a virtual column 0, so the augmenting loop has a start sentinel.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const rowOf = new Int32Array(m + 1);
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    rowOf[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = rowOf[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = at(i0 - 1, j - 1) - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[rowOf[j]!]! += delta;
          v[j]! -= delta;
        } else {
          minv[j]! -= delta;
        }
      }
      j0 = j1;
    } while (rowOf[j0] !== 0);
    do {
      const j1 = way[j0]!;
      rowOf[j0] = rowOf[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const pairs: Pair[] = [];
  for (let j = 1; j <= m; j++) {
    const i = rowOf[j]!;
    if (i === 0) continue;
    pairs.push(transpose ? [j - 1, i - 1] : [i - 1, j - 1]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return pairs;
}

/**
 * Pairs from a matrix where NaN or Infinity marks a pair that may not match. Like py-motmetrics, forbidden
 * entries become one large constant, so the result has the most possible valid pairs and, among those, the
 * least cost; pairs on forbidden entries are then dropped.
 */
export function solveMaxPairs(cost: ArrayLike<number>, rows: number, cols: number): Pair[] {
  if (rows === 0 || cols === 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < rows * cols; k++) {
    const c = cost[k]!;
    if (Number.isFinite(c)) {
      if (c < lo) lo = c;
      if (c > hi) hi = c;
    }
  }
  if (lo === Infinity) return [];
  const big = 2 * Math.min(rows, cols) * (hi - lo) + 1 + Math.abs(hi);
  const dense = new Float64Array(rows * cols);
  for (let k = 0; k < rows * cols; k++) {
    const c = cost[k]!;
    dense[k] = Number.isFinite(c) ? c : big;
  }
  return solveDense(dense, rows, cols).filter(([i, j]) => Number.isFinite(cost[i * cols + j]!));
}

/** A candidate pair with its cost; pairs not listed may not match. */
export interface Edge {
  readonly row: number;
  readonly col: number;
  readonly cost: number;
}

/**
 * Minimum-cost assignment where a pair is only worth taking when its cost is below `limit` (leaving a row and a
 * column unmatched costs `limit` together). The graph is split into connected components first: association
 * graphs are sparse, so a thousand boxes a frame become many tiny problems instead of one cubic one.
 */
export function solveWithLimit(rows: number, cols: number, edges: readonly Edge[], limit: number): Pair[] {
  const valid = edges.filter((e) => e.cost < limit);
  if (valid.length === 0) return [];
  // Union-find over rows (0..rows-1) and columns (rows..rows+cols-1).
  const parent = new Int32Array(rows + cols);
  for (let k = 0; k < parent.length; k++) parent[k] = k;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  for (const e of valid) {
    const a = find(e.row);
    const b = find(rows + e.col);
    if (a !== b) parent[a] = b;
  }
  const groups = new Map<number, Edge[]>();
  for (const e of valid) {
    const root = find(e.row);
    const list = groups.get(root);
    if (list) list.push(e);
    else groups.set(root, [e]);
  }
  const pairs: Pair[] = [];
  for (const group of groups.values()) {
    if (group.length === 1) {
      const e = group[0]!;
      pairs.push([e.row, e.col]);
      continue;
    }
    const rowIds = [...new Set(group.map((e) => e.row))];
    const colIds = [...new Set(group.map((e) => e.col))];
    const rIndex = new Map(rowIds.map((r, k) => [r, k]));
    const cIndex = new Map(colIds.map((c, k) => [c, k]));
    const nr = rowIds.length;
    const nc = colIds.length;
    // Square (nr + nc) matrix: real pairs top-left, a private "unmatched" slot per row and per column at half
    // the limit each, dummy-dummy free. Taking a pair therefore pays off only when its cost is below `limit`.
    const size = nr + nc;
    const forbidden = limit * (size + 1) + 1;
    const dense = new Float64Array(size * size).fill(forbidden);
    for (const e of group) dense[rIndex.get(e.row)! * size + cIndex.get(e.col)!] = e.cost;
    for (let r = 0; r < nr; r++) dense[r * size + nc + r] = limit / 2;
    for (let c = 0; c < nc; c++) dense[(nr + c) * size + c] = limit / 2;
    for (let r = nr; r < size; r++) for (let c = nc; c < size; c++) dense[r * size + c] = 0;
    for (const [r, c] of solveDense(dense, size, size)) {
      if (r < nr && c < nc && dense[r * size + c]! < limit) pairs.push([rowIds[r]!, colIds[c]!]);
    }
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return pairs;
}
