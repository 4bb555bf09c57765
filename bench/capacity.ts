/**
 * `cvcore bench capacity --fps F`: how many cameras one machine sustains at F analysed frames per second each.
 * Runs the whole core (as `bench e2e` does) at 1, 2, 3, ... streams up to --max-streams and stops at the first
 * count that is not sustained (more cameras never make a slow machine faster). Sustained means: frames
 * handled per camera (analysed, or skipped by a motion gate; never dropped) at least SUSTAIN_RATIO x F, under
 * MAX_DROP_PCT of decoded frames dropped, and the queues not deeper at the end of the run than at its start.
 */
import { DEFAULTS } from '../config/index.js';
import { startDemoCameras } from '../runtime/index.js';
import { intArg, parseRunArgs } from './e2e.js';
import { RUN_DEFAULTS, runPipeline, type PipelineRun, type RunSettings } from './pipeline-run.js';
import type { SimulatedCameraPool } from '../ingest/index.js';
import { fmt, hostInfo, hostLine, lineChart, table, emitReport, type HostInfo } from './report.js';

export const SUSTAIN_RATIO = 0.95;
export const MAX_DROP_PCT = 1;
/** Mean queue depth may rise by this many frames between the first and last third before it counts as growth. */
export const QUEUE_GROWTH_SLACK = 0.5;

export interface CapacityRow {
  readonly streams: number;
  readonly sustained: boolean;
  /** Why not, in words (empty when sustained). */
  readonly reasons: readonly string[];
  readonly run: PipelineRun;
}

export interface CapacityReport {
  readonly kind: 'capacity';
  readonly at: string;
  readonly command: string;
  readonly host: HostInfo;
  readonly fps: number;
  readonly criteria: { readonly min_analysed_fraction: number; readonly max_drop_pct: number; readonly queue_growth_slack_frames: number };
  /** Largest stream count sustained (0 when even one camera is not). */
  readonly capacity_streams: number;
  readonly rows: readonly CapacityRow[];
}

export function judge(run: PipelineRun, fps: number): string[] {
  const reasons: string[] = [];
  const per = run.handled_fps_per_stream ?? 0;
  if (per < SUSTAIN_RATIO * fps) reasons.push(`handled ${fmt(per, 2)} fps per camera < ${fmt(SUSTAIN_RATIO * fps, 2)}`);
  if ((run.drop_pct ?? 100) >= MAX_DROP_PCT) reasons.push(`${fmt(run.drop_pct, 1)} % of frames dropped`);
  const a = run.queue.mean_depth_first_third, b = run.queue.mean_depth_last_third;
  if (a !== null && b !== null && b > a + QUEUE_GROWTH_SLACK) reasons.push(`queue depth grew ${fmt(a, 2)} -> ${fmt(b, 2)}`);
  return reasons;
}

export interface SweepOptions { readonly fps: number; readonly minStreams: number; readonly maxStreams: number; readonly seconds: number; readonly all: boolean }

/** Runs the pipeline at minStreams..maxStreams cameras and judges each count; stops at the first failure unless `all`. */
export async function sweepCapacity(sim: SimulatedCameraPool, settings: Omit<RunSettings, 'streams' | 'seconds' | 'label' | 'fps'>, o: SweepOptions): Promise<CapacityRow[]> {
  const rows: CapacityRow[] = [];
  for (let n = o.minStreams; n <= o.maxStreams; n++) {
    const run = await runPipeline(sim, { ...settings, fps: o.fps, streams: n, seconds: o.seconds, label: `capacity ${n}/${o.maxStreams} streams` });
    const reasons = judge(run, o.fps);
    rows.push({ streams: n, sustained: reasons.length === 0, reasons, run });
    process.stderr.write(`[capacity] ${n} stream(s): ${reasons.length === 0 ? 'sustained' : `not sustained (${reasons.join('; ')})`}\n`);
    if (reasons.length > 0 && !o.all) break;
  }
  return rows;
}

/** Only a prefix of passing counts counts: a pass after a failure would be noise, not capacity. */
export function capacityOf(rows: readonly CapacityRow[]): number {
  const fail = rows.find((r) => !r.sustained);
  return fail ? fail.streams - 1 : (rows.at(-1)?.streams ?? 0);
}

export async function benchCapacity(args: string[]): Promise<number> {
  const { values, settings } = parseRunArgs(args, { fps: { type: 'string' }, 'max-streams': { type: 'string' }, 'min-streams': { type: 'string' }, seconds: { type: 'string' }, all: { type: 'boolean' } });
  const fps = intArg(values, 'fps', RUN_DEFAULTS.fps, 0.5, 30);
  const maxStreams = intArg(values, 'max-streams', 4, 1, 64);
  const seconds = Math.round(intArg(values, 'seconds', 30, 5, 3600));
  // Start the sweep higher to check one configuration at a known count (the capacity then assumes the counts below).
  const minStreams = intArg(values, 'min-streams', 1, 1, maxStreams);
  const sim = await startDemoCameras(maxStreams, { plateCamera: settings.plateCamera === true, faceCamera: settings.faceCamera === true });
  let rows: CapacityRow[];
  try {
    rows = await sweepCapacity(sim, settings, { fps, minStreams, maxStreams, seconds, all: Boolean(values['all']) });
  } finally {
    await sim.stop();
  }
  const report: CapacityReport = {
    kind: 'capacity', at: new Date().toISOString(), command: `cvcore bench capacity ${args.join(' ')}`.trim(), host: hostInfo(), fps,
    criteria: { min_analysed_fraction: SUSTAIN_RATIO, max_drop_pct: MAX_DROP_PCT, queue_growth_slack_frames: QUEUE_GROWTH_SLACK },
    capacity_streams: capacityOf(rows),
    rows,
  };
  await emitReport('capacity', report, { json: Boolean(values['json']), out: values['out'], text: consoleCapacity(report), markdown: markdownCapacity(report), svg: chartCapacity(report) });
  return 0;
}

function rowCells(r: CapacityRow): string[] {
  const x = r.run;
  const l = x.latency.capture_to_detection;
  return [
    String(r.streams), fmt(x.decoded_fps, 2), fmt(x.analysed_fps, 2), fmt(x.analysed_fps_per_stream, 2), fmt(x.handled_fps_per_stream, 2), fmt(x.drop_pct, 1), fmt(x.mean_batch, 2),
    `${fmt(l.p50_ms, 0)} / ${fmt(l.p99_ms, 0)}`, fmt(x.cpu.pipeline_cores, 2), fmt(x.memory.peak_rss_total_mib, 0), r.sustained ? 'yes' : `no: ${r.reasons.join('; ')}`,
  ];
}
const HEADERS: string[] = ['streams', 'decoded/s', 'analysed/s', 'analysed/s/stream', 'handled/s/stream', 'drop %', 'mean batch', 'det. latency p50/p99 ms', 'cores', 'peak RSS MiB', 'sustained'];

/** Header and rows of a capacity report (console, Markdown and the README summary share them). */
export function capacityTable(rep: CapacityReport): { headers: string[]; rows: string[][] } {
  return { headers: HEADERS, rows: rep.rows.map(rowCells) };
}

function settingsLine(rep: CapacityReport): string {
  const s = rep.rows[0]?.run.settings;
  if (!s) return `target ${rep.fps} fps per camera`;
  const gate = s.motion === null ? '' : `, motion gate ${s.motion ? 'on' : 'off'}`;
  // Reports written before the detector's size and cadence were settings have neither.
  const size = (s as Partial<typeof s>).inputSize ?? DEFAULTS.inference.inputSize ?? 512;
  const every = (s as Partial<typeof s>).detectEvery ?? DEFAULTS.camera.detectEvery;
  const plates = ((s as Partial<typeof s>).plateCamera ? ' (one stream the plate camera, cam-plates at 768x576)' : '')
    + ((s as Partial<typeof s>).faceCamera ? ' (one stream the face camera, cam-faces, with the astronaut on a public-security face list: live face reads on)' : '');
  return `target ${rep.fps} analysed fps per camera at ${s.width}x${s.height}${plates}${gate}; detector input ${size}, detection every ${every} frame(s); backend ${s.backend}, ${s.workers} worker(s), maxBatch ${s.batch}, maxDelayMs ${s.maxDelayMs}, queue ${s.queueSize}/camera; ${rep.rows[0]?.run.seconds ?? '-'} s measured per count`;
}

export function consoleCapacity(rep: CapacityReport): string {
  return [settingsLine(rep), '', table(HEADERS, rep.rows.map(rowCells)), '', `capacity: ${rep.capacity_streams} stream(s) at ${rep.fps} fps`].join('\n');
}

export function markdownCapacity(rep: CapacityReport): string {
  return [
    '# cvcore bench capacity',
    '',
    hostLine(rep.at, rep.host),
    '',
    '```', rep.command, '```',
    '',
    settingsLine(rep) + '.',
    '',
    `Sustained = at least ${rep.criteria.min_analysed_fraction * 100} % of the target handled per camera (analysed, or skipped by a motion gate where there is one; not dropped), under ${rep.criteria.max_drop_pct} % of decoded frames dropped, ` +
      `and mean queue depth in the last third of the run no more than ${rep.criteria.queue_growth_slack_frames} frame above the first third.`,
    '',
    table(HEADERS, rep.rows.map(rowCells), true),
    '',
    `**Capacity: ${rep.capacity_streams} stream(s) at ${rep.fps} fps.**`,
    '',
    '![throughput and latency against stream count](capacity.svg)',
    '',
  ].join('\n');
}

export function chartCapacity(rep: CapacityReport): string {
  const pts = (f: (r: CapacityRow) => number | null): [number, number | null][] => rep.rows.map((r) => [r.streams, f(r)]);
  return lineChart({
    title: `capacity at ${rep.fps} fps per camera (${rep.rows[0]?.run.settings.backend ?? ''})`,
    xLabel: 'streams', leftLabel: 'frames per second (all streams)', rightLabel: 'capture -> detection latency (ms)',
    series: [
      { name: 'target (streams x fps)', axis: 'left', points: pts((r) => r.streams * rep.fps), dashed: true },
      { name: 'decoded/s', axis: 'left', points: pts((r) => r.run.decoded_fps) },
      { name: 'analysed/s', axis: 'left', points: pts((r) => r.run.analysed_fps) },
      { name: 'latency p50', axis: 'right', points: pts((r) => r.run.latency.capture_to_detection.p50_ms) },
      { name: 'latency p99', axis: 'right', points: pts((r) => r.run.latency.capture_to_detection.p99_ms), dashed: true },
    ],
  });
}
