/**
 * `cvcore bench e2e`: N simulated cameras through the whole core for S seconds, with the bare references
 * (ffmpeg alone on the same streams and on the file at full speed; the detector alone on the same frames)
 * measured in the same run, and the ratios between them. Long runs (--seconds 600) are the soak: RSS and the
 * inference threads' tensor count at the start and the end show whether memory grows.
 */
import { parseArgs } from 'node:util';
import { mediaPath } from '../common/paths.js';
import { BACKENDS } from '../config/defaults.js';
import type { BackendName } from '../inference/index.js';
import type { SimulatedCameraPool } from '../ingest/index.js';
import { startDemoCameras } from '../runtime/index.js';
import { bareDecode, bareModel, type BareDecode, type BareModel } from './bare.js';
import { ProcSampler } from './procstat.js';
import { RUN_DEFAULTS, runPipeline, type PipelineRun, type RunSettings } from './pipeline-run.js';
import { fmt, hostInfo, hostLine, lineChart, round, table, emitReport, type HostInfo } from './report.js';

export interface E2eReport {
  readonly kind: 'e2e';
  readonly at: string;
  readonly command: string;
  readonly host: HostInfo;
  readonly run: PipelineRun;
  readonly bare: { readonly ffmpeg_rtsp: BareDecode; readonly ffmpeg_file: BareDecode; readonly model: BareModel };
  readonly ratios: {
    /** Pipeline analysed fps / bare model fps (one thread). Above 1 is possible with more than one worker. */
    readonly analysed_vs_bare_model: number | null;
    /** Pipeline analysed fps / (bare model fps x workers): how much of the ideal parallel ceiling is reached. */
    readonly analysed_vs_bare_model_x_workers: number | null;
    /** Ingest decoded fps / bare ffmpeg fps on the same live streams. */
    readonly decoded_vs_bare_ffmpeg_rtsp: number | null;
    /** Decoder CPU per frame in the pipeline / bare ffmpeg CPU per frame on the same streams. */
    readonly decoder_cpu_per_frame_vs_bare: number | null;
  };
  /** True when the run was long enough (>= 60 s) to be read as a (short) soak. */
  readonly soak: boolean;
}

/** Runs this long or longer are a soak: minute samples, their own report files (soak.json/.md/.svg). */
export const SOAK_S = 600;

/** Seconds each bare reference runs: long enough for a stable rate, short enough to leave the time to the pipeline. */
const BARE_DECODE_S = 6;
const BARE_MODEL_S = 10;
const BARE_MODEL_FRAMES = 24;

export function parseRunArgs(args: string[], extra: Record<string, { type: 'string' | 'boolean' }> = {}): { values: Record<string, string | boolean | undefined>; settings: Omit<RunSettings, 'streams' | 'seconds' | 'label'> } {
  const { values: parsed } = parseArgs({
    args, strict: true, allowPositionals: false,
    options: {
      backend: { type: 'string' }, workers: { type: 'string' }, batch: { type: 'string' }, 'max-delay-ms': { type: 'string' },
      size: { type: 'string' }, motion: { type: 'string' }, 'plate-camera': { type: 'boolean' }, 'face-camera': { type: 'boolean' }, 'queue-size': { type: 'string' }, 'input-size': { type: 'string' }, 'detect-every': { type: 'string' }, threshold: { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' },
      ...extra,
    },
  });
  const values = parsed as Record<string, string | boolean | undefined>;
  const int = (name: string, dflt: number, min: number, max: number): number => {
    const v = values[name];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const backend = (values['backend'] as string | undefined) ?? RUN_DEFAULTS.backend;
  if (!(BACKENDS as readonly string[]).includes(backend)) throw new RangeError(`--backend must be one of ${BACKENDS.join(', ')}`);
  let width: number = RUN_DEFAULTS.width, height: number = RUN_DEFAULTS.height;
  const size = values['size'] as string | undefined;
  if (size !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(size);
    if (!m) throw new RangeError('--size must be WIDTHxHEIGHT, e.g. 640x480');
    width = Number(m[1]); height = Number(m[2]);
    if (width < 64 || height < 64 || width > 3840 || height > 2160 || width % 2 || height % 2) throw new RangeError('--size must be even, from 64x64 to 3840x2160');
  }
  const motion = values['motion'];
  if (motion !== undefined && motion !== 'on' && motion !== 'off') throw new RangeError('--motion must be on or off');
  return {
    values,
    settings: {
      fps: RUN_DEFAULTS.fps, motion: motion === undefined ? null : motion === 'on', backend: backend as BackendName,
      workers: int('workers', RUN_DEFAULTS.workers, 1, 64), batch: int('batch', RUN_DEFAULTS.batch, 1, 64),
      maxDelayMs: int('max-delay-ms', RUN_DEFAULTS.maxDelayMs, 0, 10_000), width, height,
      queueSize: int('queue-size', RUN_DEFAULTS.queueSize, 1, 256), threshold: int('threshold', RUN_DEFAULTS.threshold, 1, 1000),
      warmupS: RUN_DEFAULTS.warmupS,
      inputSize: values['input-size'] === undefined ? null : int('input-size', 512, 64, 2048),
      detectEvery: values['detect-every'] === undefined ? null : int('detect-every', 1, 1, 100),
      plateCamera: values['plate-camera'] === true,
      faceCamera: values['face-camera'] === true,
    },
  };
}

export function intArg(values: Record<string, string | boolean | undefined>, name: string, dflt: number, min: number, max: number): number {
  const v = values[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new RangeError(`--${name} must be a number from ${min} to ${max}`);
  return n;
}

export async function benchE2e(args: string[]): Promise<number> {
  const { values, settings: base } = parseRunArgs(args, { streams: { type: 'string' }, seconds: { type: 'string' }, fps: { type: 'string' } });
  const streams = intArg(values, 'streams', 2, 1, 64);
  const seconds = intArg(values, 'seconds', 30, 5, 24 * 3600);
  const fps = intArg(values, 'fps', RUN_DEFAULTS.fps, 0.5, 30);
  const settings: RunSettings = { ...base, streams, seconds: Math.round(seconds), fps, label: `e2e ${streams} streams` };
  const sim = await startDemoCameras(streams, { plateCamera: settings.plateCamera === true, faceCamera: settings.faceCamera === true });
  try {
    const report = await measureE2e(sim, settings, `cvcore bench e2e ${args.join(' ')}`.trim());
    // A soak (10 minutes or more) is its own report, so it does not replace the short run's files.
    const long = settings.seconds >= SOAK_S;
    await emitReport(long ? 'soak' : 'e2e', report, { json: Boolean(values['json']), out: values['out'], text: consoleE2e(report), markdown: markdownE2e(report), svg: long ? chartSoak(report) : chartE2e(report) });
    return 0;
  } finally {
    await sim.stop();
  }
}

async function measureE2e(sim: SimulatedCameraPool, s: RunSettings, command: string): Promise<E2eReport> {
  const sampler = new ProcSampler();
  const mark = (p: { pid?: number | undefined }): void => sampler.markBare(p.pid);
  process.stderr.write(`[e2e] bare ffmpeg on the ${s.streams} live stream(s), ${BARE_DECODE_S} s\n`);
  const ids = Array.from({ length: s.streams }, (_, i) => `cam-${i + 1}`);
  const rtsp = await bareDecode(ids.map((id) => ({ url: sim.url(id), fps: s.fps, width: s.width, height: s.height, transport: 'udp' as const })), BARE_DECODE_S, 0, mark);
  process.stderr.write(`[e2e] bare ffmpeg on vtest.mp4 at full speed x${s.streams}, ${BARE_DECODE_S} s\n`);
  const file = mediaPath('vtest.mp4');
  const fileRun = await bareDecode(ids.map(() => ({ url: file, fps: s.fps, width: s.width, height: s.height, transport: 'tcp' as const })), BARE_DECODE_S, BARE_MODEL_FRAMES, mark);
  // The pipeline runs before the bare model so its peak RSS is not the bare model's.
  const run = await runPipeline(sim, s, sampler);
  process.stderr.write(`[e2e] bare model (${s.backend}, one thread, no pool, no batcher) on ${fileRun.kept.length} frames, ${BARE_MODEL_S} s\n`);
  const model = await bareModel(s.backend, fileRun.kept, BARE_MODEL_S);
  const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? round(a / b, 3) : null);
  const decCpuPerFrame = run.cpu.decoders_s !== null && run.decoded > 0 ? (run.cpu.decoders_s * 1000) / run.decoded : null;
  return {
    kind: 'e2e', at: new Date().toISOString(), command, host: hostInfo(), run,
    bare: { ffmpeg_rtsp: rtsp.result, ffmpeg_file: fileRun.result, model },
    ratios: {
      analysed_vs_bare_model: ratio(run.analysed_fps, model.fps),
      analysed_vs_bare_model_x_workers: ratio(run.analysed_fps, model.fps !== null ? model.fps * s.workers : null),
      decoded_vs_bare_ffmpeg_rtsp: ratio(run.decoded_fps, rtsp.result.fps),
      decoder_cpu_per_frame_vs_bare: ratio(decCpuPerFrame, rtsp.result.cpu_ms_per_frame),
    },
    soak: s.seconds >= 60,
  };
}

function settingsLine(r: PipelineRun): string {
  const s = r.settings;
  const gate = s.motion === null ? '' : `, motion gate ${s.motion ? 'on' : 'off'}`;
  return `${s.streams} stream(s) x ${s.fps} fps at ${s.width}x${s.height}${gate}, backend ${s.backend}, ${s.workers} worker(s), maxBatch ${s.batch}, maxDelayMs ${s.maxDelayMs}, queue ${s.queueSize}/camera, measured ${r.seconds} s after ${s.warmupS} s warm-up`;
}

/** The per-stage rows of an e2e report (console, Markdown and the README summary share them). */
export function e2eRows(rep: E2eReport): string[][] {
  const r = rep.run;
  const l = r.latency;
  return [
    ['ingest: frames decoded/s', fmt(r.decoded_fps, 2), `bare ffmpeg (same live streams): ${fmt(rep.bare.ffmpeg_rtsp.fps, 2)}; ratio ${fmt(rep.ratios.decoded_vs_bare_ffmpeg_rtsp, 3)}`],
    ['ingest: decode capacity (file, full speed)', fmt(rep.bare.ffmpeg_file.fps, 1), `${rep.bare.ffmpeg_file.streams} bare ffmpeg in parallel, ${fmt(rep.bare.ffmpeg_file.cpu_ms_per_frame, 2)} ms CPU/frame`],
    ['inference: frames analysed/s', fmt(r.analysed_fps, 2), `bare model (1 thread): ${fmt(rep.bare.model.fps, 2)}; ratio ${fmt(rep.ratios.analysed_vs_bare_model, 3)} (x${r.settings.workers} workers: ${fmt(rep.ratios.analysed_vs_bare_model_x_workers, 3)})`],
    ['inference: analysed/s per stream', fmt(r.analysed_fps_per_stream, 2), `target ${r.settings.fps}; handled (analysed or gated, not dropped) ${fmt(r.handled_fps_per_stream, 2)}`],
    ['frames dropped (drop-oldest queues)', String(r.dropped), `${fmt(r.drop_pct, 2)} % of decoded`],
    ['mean batch size', fmt(r.mean_batch, 2), `maxBatch ${r.settings.batch}`],
    ['capture -> detection p50 / p99 ms', `${fmt(l.capture_to_detection.p50_ms, 0)} / ${fmt(l.capture_to_detection.p99_ms, 0)}`, `${l.capture_to_detection.n} frames`],
    ['capture -> index p50 / p99 ms', `${fmt(l.capture_to_index.p50_ms, 0)} / ${fmt(l.capture_to_index.p99_ms, 0)}`, `${l.capture_to_index.n} records (track's last capture to record written)`],
    ['capture -> alert in outbox p50 / p99 ms', `${fmt(l.capture_to_outbox.p50_ms, 0)} / ${fmt(l.capture_to_outbox.p99_ms, 0)}`, `${l.capture_to_outbox.n} alerts`],
    ['capture -> alert at subscriber p50 / p99 ms', `${fmt(l.capture_to_subscriber.p50_ms, 0)} / ${fmt(l.capture_to_subscriber.p99_ms, 0)}`, `${l.capture_to_subscriber.n} alerts over NATS JetStream`],
    ['CPU s: main (incl. inference threads)', fmt(r.cpu.main_s, 2), `decoders ${fmt(r.cpu.decoders_s, 2)}, nats-server ${fmt(r.cpu.nats_s, 2)}; simulated cameras ${fmt(r.cpu.simulation_s, 2)} (not counted)`],
    ['CPU cores used by the pipeline', fmt(r.cpu.pipeline_cores, 2), `${fmt(r.cpu.cpu_ms_per_analysed_frame, 0)} ms CPU per analysed frame`],
    ['peak RSS MiB (main + decoders + nats)', fmt(r.memory.peak_rss_total_mib, 0), `main ${fmt(r.memory.peak_rss_main_mib, 0)}, decoders ${fmt(r.memory.peak_rss_decoders_mib, 0)}, nats ${fmt(r.memory.peak_rss_nats_mib, 0)}`],
    ['RSS MiB start -> end', `${fmt(r.memory.rss_start_mib, 0)} -> ${fmt(r.memory.rss_end_mib, 0)}`, `tensors ${r.memory.tensors_start ?? '-'} -> ${r.memory.tensors_end ?? '-'}`],
    ...soakRows(r),
    ['queue depth (first third -> last third, max)', `${fmt(r.queue.mean_depth_first_third, 2)} -> ${fmt(r.queue.mean_depth_last_third, 2)}`, `max ${r.queue.max_depth} of ${r.queue.capacity_frames}`],
  ];
}

function soakRows(r: PipelineRun): string[][] {
  const m = r.memory, sl = m.slopes, first = m.samples[0], last = m.samples[m.samples.length - 1];
  if (!first || !last || m.samples.length < 3) return [];
  const span = `${m.samples.length} samples, slope over the last two thirds`;
  return [
    ['soak: RSS MiB per hour', fmt(sl.rss_mib_per_h, 1), `${fmt(first.rss_mib, 0)} -> ${fmt(last.rss_mib, 0)} MiB; ${span}`],
    ['soak: JS heap MiB per hour', fmt(sl.heap_mib_per_h, 1), `${fmt(first.heap_used_mib, 0)} -> ${fmt(last.heap_used_mib, 0)} MiB; external ${fmt(first.external_mib, 0)} -> ${fmt(last.external_mib, 0)} MiB`],
    ['soak: tensors / open files per hour', `${fmt(sl.tensors_per_h, 1)} / ${fmt(sl.open_fds_per_h, 1)}`, `tensors ${first.tensors ?? '-'} -> ${last.tensors ?? '-'}, open files ${first.open_fds ?? '-'} -> ${last.open_fds ?? '-'}`],
    ['soak: index MiB per hour', fmt(sl.index_mib_per_h, 1), `${fmt(first.index_mib, 1)} -> ${fmt(last.index_mib, 1)} MiB, ${fmt(sl.index_kib_per_record, 2)} KiB per record written (${last.records - first.records} records); recordings ${fmt(first.recordings_mib, 0)} -> ${fmt(last.recordings_mib, 0)} MiB, nats ${fmt(first.nats_mib, 1)} -> ${fmt(last.nats_mib, 1)} MiB`],
  ];
}

/** The soak's curves: memory on the left, what the data folder holds on the right. */
export function chartSoak(rep: E2eReport): string {
  const xs = rep.run.memory.samples;
  const min = (t: number): number => round(t / 60, 2) ?? 0;
  return lineChart({
    title: `soak: ${rep.run.settings.streams} stream(s), ${rep.run.seconds} s`,
    xLabel: 'minutes into the measured window', leftLabel: 'MiB (process memory)', rightLabel: 'MiB on disk / count',
    series: [
      { name: 'RSS', axis: 'left', points: xs.map((x) => [min(x.t_s), x.rss_mib]) },
      { name: 'JS heap', axis: 'left', points: xs.map((x) => [min(x.t_s), x.heap_used_mib]) },
      { name: 'external', axis: 'left', points: xs.map((x) => [min(x.t_s), x.external_mib]), dashed: true },
      { name: 'index MiB', axis: 'right', points: xs.map((x) => [min(x.t_s), x.index_mib]) },
      { name: 'open files', axis: 'right', points: xs.map((x) => [min(x.t_s), x.open_fds ?? 0]), dashed: true },
      { name: 'tensors', axis: 'right', points: xs.map((x) => [min(x.t_s), x.tensors ?? 0]), dashed: true },
    ],
  });
}

export function consoleE2e(rep: E2eReport): string {
  return [settingsLine(rep.run), '', table(['measure', 'value', 'reference / detail'], e2eRows(rep))].join('\n');
}

export function markdownE2e(rep: E2eReport): string {
  const r = rep.run;
  return [
    `# cvcore bench e2e${rep.soak ? ' (short soak)' : ''}`,
    '',
    hostLine(rep.at, rep.host),
    '',
    '```', rep.command, '```',
    '',
    settingsLine(r) + '.',
    '',
    table(['measure', 'value', 'reference / detail'], e2eRows(rep), true),
    '',
    `Bare references in the same run: ffmpeg alone on the same live streams (${rep.bare.ffmpeg_rtsp.seconds} s, ${fmt(rep.bare.ffmpeg_rtsp.cpu_ms_per_frame, 2)} ms CPU/frame), ` +
      `ffmpeg alone on vtest.mp4 at full speed (${rep.bare.ffmpeg_file.streams} in parallel, ${rep.bare.ffmpeg_file.seconds} s), and the detector alone ` +
      `(${rep.bare.model.backend}, one thread, ${rep.bare.model.frames} frames in ${rep.bare.model.seconds} s, ${fmt(rep.bare.model.ms_per_frame, 0)} ms/frame wall, ${fmt(rep.bare.model.cpu_ms_per_frame, 0)} ms CPU, ` +
      `tensors ${rep.bare.model.tensors_start} -> ${rep.bare.model.tensors_end}).`,
    '',
    `Records indexed: ${r.records}; alerts raised/updated: ${r.alerts} (both counted, with their latencies, from start-up to the end of the window: they are rare, and the first crowd forms during warm-up).`,
    '',
    rep.soak ? `Memory over the run: RSS ${fmt(r.memory.rss_start_mib, 0)} -> ${fmt(r.memory.rss_end_mib, 0)} MiB, inference tensors ${r.memory.tensors_start ?? '-'} -> ${r.memory.tensors_end ?? '-'}.\n` : '',
    '![throughput and latency over time](e2e.svg)',
    '',
  ].join('\n');
}

export function chartE2e(rep: E2eReport): string {
  const t = rep.run.ticks;
  return lineChart({
    title: `e2e: ${rep.run.settings.streams} stream(s), ${rep.run.settings.backend}, ${rep.run.settings.workers} worker(s)`,
    xLabel: 'seconds into the measured window', leftLabel: 'frames per second', rightLabel: 'capture -> detection p50 (ms)',
    series: [
      { name: 'decoded/s', axis: 'left', points: t.map((x) => [x.t_s, x.decoded]) },
      { name: 'analysed/s', axis: 'left', points: t.map((x) => [x.t_s, x.analysed]) },
      { name: 'dropped/s', axis: 'left', points: t.map((x) => [x.t_s, x.dropped]), dashed: true },
      { name: 'latency p50', axis: 'right', points: t.map((x) => [x.t_s, x.p50_ms]) },
    ],
  });
}
