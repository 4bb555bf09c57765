/**
 * `cvcore bench tracker-rates`: does the tracker hold when a camera is analysed at a live rate rather than at the
 * video's full rate? Each MOT sequence (shared/data/mot: public detections and ground truth) is tracked at its
 * own rate and at every k-th frame for 10, 5 and 3 fps equivalents, with the default tracker parameters (the
 * same set the live pipeline runs), and scored against the ground truth of the same frames. The reference is
 * the same tracker at full rate: the figures that matter are how far each rate falls from it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../common/paths.js';
import { SetupError } from '../common/errors.js';
import { combineMot, evaluateMot, parseMot, subsampleMot, trackMot, type MotMetrics, type MotRow } from '../tracking/index.js';
import { fmt, hostInfo, table, type HostInfo } from './report.js';

/** The sequences in shared/data/mot with their frame rates (MOT15's seqinfo: TUD 25 fps, KITTI 10 fps). */
export const MOT_SEQUENCES: readonly { readonly name: string; readonly fps: number }[] = [
  { name: 'TUD-Campus', fps: 25 },
  { name: 'TUD-Stadtmitte', fps: 25 },
  { name: 'KITTI-17', fps: 10 },
];

/** The analysis rates a live camera runs at (frames per second); 0 stands for the sequence's own rate. */
export const TARGET_RATES = [0, 10, 5, 3] as const;

export interface RateRow {
  readonly sequence: string;
  /** The rate asked for (0: full). */
  readonly target_fps: number;
  /** Every k-th frame analysed. */
  readonly every: number;
  /** The rate actually analysed: the sequence's fps / every. */
  readonly fps: number;
  readonly mota: number;
  readonly idf1: number;
  readonly recall: number;
  readonly precision: number;
  readonly id_switches: number;
  /** This rate's MOTA less the full-rate MOTA of the same sequence (0 at full rate). */
  readonly mota_drop: number;
}

export interface TrackerRatesResult {
  readonly at: string;
  readonly host: HostInfo;
  readonly data: string;
  readonly rows: readonly RateRow[];
  /** Per target rate, all sequences pooled (events summed, as py-motmetrics' overall row). */
  readonly overall: readonly { readonly target_fps: number; readonly mota: number; readonly idf1: number; readonly recall: number }[];
}

/** Where the MOT data is: `--data`, CVCORE_MOT_DATA, or shared/data/mot beside the repository. */
export function motDataDir(explicit?: string): string {
  const dir = resolve(explicit ?? process.env['CVCORE_MOT_DATA'] ?? join(REPO_ROOT, '..', 'shared', 'data', 'mot'));
  if (!existsSync(dir)) throw new SetupError('SETUP_MEDIA_MISSING', `MOT data not found at ${dir}; pass --data DIR or set CVCORE_MOT_DATA`, { detail: { file: dir } });
  return dir;
}

/** Every k-th frame that comes closest to a target rate (never faster than the sequence itself). */
export function everyFor(fps: number, target: number): number {
  return target <= 0 ? 1 : Math.max(1, Math.round(fps / target));
}

function load(dir: string, seq: string, file: string): MotRow[] {
  const path = join(dir, seq, file);
  return parseMot(readFileSync(path, 'utf8'), path);
}

export function measureTrackerRates(dir: string): TrackerRatesResult {
  const rows: RateRow[] = [];
  const pooled = new Map<number, MotMetrics[]>();
  for (const s of MOT_SEQUENCES) {
    const gt = load(dir, s.name, 'gt.txt');
    const det = load(dir, s.name, 'det.txt');
    let full = 0;
    for (const target of TARGET_RATES) {
      const every = everyFor(s.fps, target);
      const m = evaluateMot(subsampleMot(gt, every), trackMot(det, { fps: s.fps, every }));
      if (target === 0) full = m.mota;
      rows.push({
        sequence: s.name, target_fps: target, every, fps: Math.round((s.fps / every) * 100) / 100,
        mota: m.mota, idf1: m.idf1, recall: m.recall, precision: m.precision, id_switches: m.idSwitches, mota_drop: m.mota - full,
      });
      pooled.set(target, [...(pooled.get(target) ?? []), m]);
    }
  }
  const overall = [...pooled].map(([target_fps, ms]) => {
    const c = combineMot(ms);
    return { target_fps, mota: c.mota, idf1: c.idf1, recall: c.recall };
  });
  return { at: new Date().toISOString(), host: hostInfo(), data: dir, rows, overall };
}

function rateName(target: number): string {
  return target === 0 ? 'full' : `${target} fps`;
}

export function formatTrackerRates(r: TrackerRatesResult, markdown = false): string {
  const body = r.rows.map((x) => [
    x.sequence, rateName(x.target_fps), String(x.every), fmt(x.fps, 2), fmt(x.mota, 3), fmt(x.mota_drop, 3), fmt(x.idf1, 3),
    fmt(x.recall, 3), fmt(x.precision, 3), String(x.id_switches),
  ]);
  for (const o of r.overall) body.push(['overall', rateName(o.target_fps), '', '', fmt(o.mota, 3), '', fmt(o.idf1, 3), fmt(o.recall, 3), '', '']);
  return table(['sequence', 'rate', 'every', 'fps', 'MOTA', 'vs full', 'IDF1', 'recall', 'precision', 'IDsw'], body, markdown) + '\n';
}

export async function benchTrackerRates(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, options: { json: { type: 'boolean' }, markdown: { type: 'boolean' }, data: { type: 'string' } }, strict: true, allowPositionals: false,
  });
  const result = measureTrackerRates(motDataDir(values.data));
  process.stdout.write(values.json ? JSON.stringify(result, null, 2) + '\n' : formatTrackerRates(result, values.markdown === true));
  return 0;
}
