import { solveDense, solveMaxPairs } from './assignment.js';
import { iou } from './iou.js';
import type { MotRow } from './mot-io.js';

/**
 * CLEAR-MOT and identity metrics, computed the way py-motmetrics computes them (its results are the reference
 * the MOTChallenge community compares against): IoU distance with a 0.5 threshold, per-frame matching that first
 * keeps last frame's correspondences while they are still valid and then solves a min-cost assignment with as
 * many pairs as possible, and IDF1 from one global bipartite matching of whole trajectories.
 */
export interface MotMetrics {
  readonly idf1: number;
  readonly idp: number;
  readonly idr: number;
  readonly recall: number;
  readonly precision: number;
  /** Distinct ground-truth objects ("GT"). */
  readonly numUniqueObjects: number;
  readonly mostlyTracked: number;
  readonly partiallyTracked: number;
  readonly mostlyLost: number;
  readonly falsePositives: number;
  readonly misses: number;
  readonly idSwitches: number;
  readonly fragmentations: number;
  readonly mota: number;
  /** Mean 1 - IoU over matched pairs (lower is better). */
  readonly motp: number;
  /** Ground-truth boxes scored (after dropping ignored rows). */
  readonly numObjects: number;
  readonly numPredictions: number;
  /** Matched pairs, switches included. */
  readonly numMatches: number;
  readonly idtp: number;
  readonly distanceSum: number;
}

/** IoU distance above which a pair cannot match (IoU below 0.5). */
export const MOT_DISTANCE_THRESHOLD = 0.5;
/** py-motmetrics' MOTChallenge evaluation loads ground truth with min_confidence=1: rows flagged 0 do not count. */
export const MOT_GT_MIN_CONFIDENCE = 1;
/** Share of its frames an object must be tracked in to count as mostly tracked; below the lower bound, mostly lost. */
export const MOT_MOSTLY_TRACKED = 0.8;
export const MOT_MOSTLY_LOST = 0.2;

function byFrame(rows: readonly MotRow[]): Map<number, MotRow[]> {
  const map = new Map<number, MotRow[]>();
  for (const r of rows) {
    const list = map.get(r.frame);
    if (list) list.push(r);
    else map.set(r.frame, [r]);
  }
  return map;
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

function finish(c: Omit<MotMetrics, 'idf1' | 'idp' | 'idr' | 'recall' | 'precision' | 'mota' | 'motp'>): MotMetrics {
  return {
    ...c,
    idf1: ratio(2 * c.idtp, c.numObjects + c.numPredictions),
    idp: ratio(c.idtp, c.numPredictions),
    idr: ratio(c.idtp, c.numObjects),
    recall: ratio(c.numMatches, c.numObjects),
    precision: ratio(c.numMatches, c.numMatches + c.falsePositives),
    mota: c.numObjects === 0 ? 0 : 1 - (c.misses + c.falsePositives + c.idSwitches) / c.numObjects,
    motp: ratio(c.distanceSum, c.numMatches),
  };
}

/** Score `tracks` against `gt` (MOTChallenge rows; gt rows with conf below 1 are ignored). */
export function evaluateMot(gt: readonly MotRow[], tracks: readonly MotRow[]): MotMetrics {
  const gtRows = gt.filter((r) => r.conf >= MOT_GT_MIN_CONFIDENCE);
  const gtFrames = byFrame(gtRows);
  const hypFrames = byFrame(tracks);
  const frames = [...new Set([...gtFrames.keys(), ...hypFrames.keys()])].sort((a, b) => a - b);

  const current = new Map<number, number>(); // object id -> hypothesis id it was last matched to
  const history = new Map<number, boolean[]>(); // object id -> tracked flag per frame it appears in
  const overlap = new Map<number, Map<number, number>>(); // object -> hypothesis -> frames within threshold
  let falsePositives = 0;
  let misses = 0;
  let idSwitches = 0;
  let numMatches = 0;
  let distanceSum = 0;

  for (const frame of frames) {
    const objs = gtFrames.get(frame) ?? [];
    const hyps = hypFrames.get(frame) ?? [];
    const no = objs.length;
    const nh = hyps.length;
    const dist = new Float64Array(no * nh);
    for (let i = 0; i < no; i++) {
      for (let j = 0; j < nh; j++) {
        const d = 1 - iou(objs[i]!, hyps[j]!);
        dist[i * nh + j] = d > MOT_DISTANCE_THRESHOLD ? NaN : d;
        if (!Number.isNaN(dist[i * nh + j]!)) {
          const o = objs[i]!.id;
          let row = overlap.get(o);
          if (!row) overlap.set(o, (row = new Map()));
          row.set(hyps[j]!.id, (row.get(hyps[j]!.id) ?? 0) + 1);
        }
      }
    }
    const objDone = new Uint8Array(no);
    const hypDone = new Uint8Array(nh);
    const tracked = new Uint8Array(no);
    // Keep last frame's pairs that are still within the threshold: a tracker is not charged for ambiguity it
    // already resolved.
    for (let i = 0; i < no; i++) {
      const prev = current.get(objs[i]!.id);
      if (prev === undefined) continue;
      const j = hyps.findIndex((h, k) => !hypDone[k] && h.id === prev);
      if (j < 0 || Number.isNaN(dist[i * nh + j]!)) continue;
      objDone[i] = 1;
      hypDone[j] = 1;
      tracked[i] = 1;
      numMatches++;
      distanceSum += dist[i * nh + j]!;
    }
    const masked = new Float64Array(no * nh);
    for (let i = 0; i < no; i++) {
      for (let j = 0; j < nh; j++) masked[i * nh + j] = objDone[i] || hypDone[j] ? NaN : dist[i * nh + j]!;
    }
    for (const [i, j] of solveMaxPairs(masked, no, nh)) {
      const o = objs[i]!.id;
      const h = hyps[j]!.id;
      const prev = current.get(o);
      if (prev !== undefined && prev !== h) idSwitches++;
      current.set(o, h);
      objDone[i] = 1;
      hypDone[j] = 1;
      tracked[i] = 1;
      numMatches++;
      distanceSum += masked[i * nh + j]!;
    }
    for (let i = 0; i < no; i++) {
      if (!objDone[i]) misses++;
      const o = objs[i]!.id;
      let h = history.get(o);
      if (!h) history.set(o, (h = []));
      h.push(tracked[i] === 1);
    }
    for (let j = 0; j < nh; j++) if (!hypDone[j]) falsePositives++;
  }

  let mostlyTracked = 0;
  let partiallyTracked = 0;
  let mostlyLost = 0;
  let fragmentations = 0;
  for (const flags of history.values()) {
    const hit = flags.filter(Boolean).length;
    const share = hit / flags.length;
    if (share >= MOT_MOSTLY_TRACKED) mostlyTracked++;
    else if (share >= MOT_MOSTLY_LOST) partiallyTracked++;
    else mostlyLost++;
    // A fragmentation is a tracked -> missed transition inside the object's first..last tracked span.
    const firstHit = flags.indexOf(true);
    const lastHit = flags.lastIndexOf(true);
    for (let k = firstHit + 1; k <= lastHit && firstHit >= 0; k++) if (flags[k - 1] && !flags[k]) fragmentations++;
  }

  return finish({
    numUniqueObjects: history.size,
    mostlyTracked,
    partiallyTracked,
    mostlyLost,
    falsePositives,
    misses,
    idSwitches,
    fragmentations,
    numObjects: gtRows.length,
    numPredictions: tracks.length,
    numMatches,
    idtp: identityTruePositives(overlap),
    distanceSum,
  });
}

/**
 * IDTP of the best one-to-one mapping of objects to hypotheses over the whole sequence. Minimising py-motmetrics'
 * IDFP + IDFN cost is the same as maximising frames in which mapped pairs overlap, which this solves directly.
 */
function identityTruePositives(overlap: Map<number, Map<number, number>>): number {
  const objs = [...overlap.keys()];
  const hypSet = new Set<number>();
  for (const row of overlap.values()) for (const h of row.keys()) hypSet.add(h);
  const hyps = [...hypSet];
  if (objs.length === 0 || hyps.length === 0) return 0;
  const hIndex = new Map(hyps.map((h, k) => [h, k]));
  const cost = new Float64Array(objs.length * hyps.length);
  objs.forEach((o, i) => {
    for (const [h, n] of overlap.get(o)!) cost[i * hyps.length + hIndex.get(h)!] = -n;
  });
  let tp = 0;
  for (const [i, j] of solveDense(cost, objs.length, hyps.length)) tp -= cost[i * hyps.length + j]!;
  return tp;
}

/** Totals over several sequences, as py-motmetrics' "OVERALL" row (counts summed, ratios recomputed). */
export function combineMot(parts: readonly MotMetrics[]): MotMetrics {
  const sum = (k: keyof MotMetrics) => parts.reduce((s, p) => s + p[k], 0);
  return finish({
    numUniqueObjects: sum('numUniqueObjects'),
    mostlyTracked: sum('mostlyTracked'),
    partiallyTracked: sum('partiallyTracked'),
    mostlyLost: sum('mostlyLost'),
    falsePositives: sum('falsePositives'),
    misses: sum('misses'),
    idSwitches: sum('idSwitches'),
    fragmentations: sum('fragmentations'),
    numObjects: sum('numObjects'),
    numPredictions: sum('numPredictions'),
    numMatches: sum('numMatches'),
    idtp: sum('idtp'),
    distanceSum: sum('distanceSum'),
  });
}

export const MOT_COLUMNS = [
  ['IDF1', 'idf1'], ['IDP', 'idp'], ['IDR', 'idr'], ['Rcll', 'recall'], ['Prcn', 'precision'],
  ['GT', 'numUniqueObjects'], ['MT', 'mostlyTracked'], ['PT', 'partiallyTracked'], ['ML', 'mostlyLost'],
  ['FP', 'falsePositives'], ['FN', 'misses'], ['IDsw', 'idSwitches'], ['FM', 'fragmentations'],
  ['MOTA', 'mota'], ['MOTP', 'motp'],
] as const;

const RATIO_KEYS: ReadonlySet<keyof MotMetrics> = new Set(['idf1', 'idp', 'idr', 'recall', 'precision', 'mota', 'motp']);

/** A fixed-width table, one row per named result, in py-motmetrics' column order. */
export function formatMotTable(rows: readonly { name: string; metrics: MotMetrics }[]): string {
  const header = ['', ...MOT_COLUMNS.map(([h]) => h)];
  const body = rows.map(({ name, metrics }) => [
    name,
    ...MOT_COLUMNS.map(([, k]) => (RATIO_KEYS.has(k) ? metrics[k].toFixed(6) : String(metrics[k]))),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]) => cells.map((s, c) => (c === 0 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join('  ');
  return [line(header), ...body.map(line)].join('\n') + '\n';
}
