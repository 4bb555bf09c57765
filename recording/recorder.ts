/**
 * One camera's recorder: an ffmpeg child reading the camera's own stream (a second RTSP connection beside the
 * decoder's) with `-c copy` into MPEG-TS segments through the segment muxer. MPEG-TS needs no trailer, so a
 * segment cut by a crash, a kill or a dropped camera is still playable.
 *
 * Wall clock. ffmpeg writes `<run>.csv` (one line per closed segment: file, start and end in the run's stream
 * time, s) and opens the next segment's file the moment the first packet past the boundary arrives, so the
 * second file's birth time is the wall-clock time of that packet. The run's anchor (wall = anchor + stream time)
 * comes from it; a run that dies before its second segment is anchored on its file's last write (its end).
 * Within a run segments are contiguous by construction; a new run never starts before the camera's last end, and
 * the time between is a gap with its reason (disconnected, off, disk-full).
 */
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import { spawnTracked, stopChild } from '../common/proc.js';
import { probeDuration } from './probe.js';
import type { Gap, RecordedCamera, RecordingState, Segment } from './types.js';

export interface RecorderDeps {
  readonly dir: string;
  readonly ffmpeg: string;
  readonly ffprobe: string;
  readonly segmentSeconds: number;
  readonly log: Logger;
  /** End of the camera's newest indexed segment. */
  lastEnd(): number | null;
  /** A closed segment to index, with the gap before it when this run left one. */
  onSegment(seg: Segment, gapBefore: Gap | null): Promise<void>;
  /** Whether the disk has room (the service runs retention first when it has not). */
  hasRoom(): Promise<boolean>;
}

/** No byte written for this long: the stream is stalled, the recorder restarts (the segment so far is closed). */
export const STALL_MS = 12_000;
const TICK_MS = 500;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
/** Failed starts in a row (no segment written) before the state says failed (it keeps retrying). */
const FAILED_AFTER = 3;
const SEGMENT_FILE = /^(\d+)-(\d{6})\.ts$/;

export const segmentFileOf = (runId: number, n: number): string => `${runId}-${String(n).padStart(6, '0')}.ts`;
export const isSegmentFile = (name: string): boolean => SEGMENT_FILE.test(name);
export const runOf = (name: string): number => Number(SEGMENT_FILE.exec(name)?.[1] ?? 0);

interface Run {
  readonly id: number;
  readonly child: ChildProcess;
  readonly gapReason: Gap['reason'];
  anchor: number | null;
  /** Shift (ms) that keeps the run after the camera's last end. */
  shift: number;
  listed: number;
  lastPts: number;
  wroteAny: boolean;
  lastSize: number;
  lastGrowth: number;
  diskFull: boolean;
  lastError: string | null;
  exited: Promise<void>;
}

export class CameraRecorder {
  readonly #deps: RecorderDeps;
  #cam: RecordedCamera;
  #run: Run | null = null;
  #state: RecordingState = 'off';
  #code: string | null = null;
  #reason: string | null = null;
  #stopping = false;
  #timer: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;
  #backoff = BACKOFF_MIN_MS;
  #failures = 0;
  #lastRunId = 0;
  /** Segments are indexed one at a time, in order. */
  #chain: Promise<void> = Promise.resolve();
  #ticks = 0;
  readonly #skew = { max: 0, samples: 0 };

  constructor(cam: RecordedCamera, deps: RecorderDeps) {
    this.#cam = cam;
    this.#deps = deps;
  }

  get camera(): RecordedCamera { return this.#cam; }
  get state(): { state: RecordingState; code: string | null; reason: string | null } {
    return { state: this.#state, code: this.#code, reason: this.#reason };
  }
  /** Largest difference (ms) seen between a segment's mapped start and its file's birth, over `samples` segments. */
  get skew(): { max: number; samples: number } { return { ...this.#skew }; }
  /** The ffmpeg process now running (benchmarks read its CPU). */
  get pid(): number | undefined { return this.#run?.child.pid; }

  start(): void {
    this.#stopping = false;
    this.#state = 'starting';
    void this.#spawn('off');
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    const run = this.#run;
    if (run) {
      await stopChild(run.child, 3_000);
      await run.exited;
    }
    await this.#chain;
    this.#state = 'off';
    this.#code = null;
    this.#reason = null;
  }

  async #spawn(gapReason: Gap['reason']): Promise<void> {
    if (this.#stopping) return;
    if (!(await this.#deps.hasRoom())) return this.#diskFull('free space under recording.minFreeBytes');
    if (this.#stopping) return;
    const id = Math.max(Date.now(), this.#lastRunId + 1);
    this.#lastRunId = id;
    const cam = this.#cam;
    const input = cam.url.startsWith('rtsp') ? ['-rtsp_transport', cam.transport, '-timeout', String(10_000_000)] : [];
    const args = [
      '-hide_banner', '-nostdin', '-loglevel', 'error', ...input, '-i', cam.url,
      // Video only: camera audio is often G.711, which MPEG-TS does not carry, and the evidence is the picture.
      '-map', '0:v:0', '-c', 'copy',
      '-f', 'segment', '-segment_time', String(this.#deps.segmentSeconds), '-segment_format', 'mpegts',
      '-segment_list', join(this.#deps.dir, `${id}.csv`), '-segment_list_type', 'csv', '-reset_timestamps', '0',
      // Each packet reaches the file as it arrives: a crash loses nothing written, and a stall shows as no growth.
      '-flush_packets', '1',
      join(this.#deps.dir, `${id}-%06d.ts`),
    ];
    const child = spawnTracked(this.#deps.ffmpeg, args);
    let resolveExit!: () => void;
    const run: Run = {
      id, child, gapReason, anchor: null, shift: 0, listed: 0, lastPts: 0, wroteAny: false, lastSize: -1, lastGrowth: Date.now(),
      diskFull: false, lastError: null, exited: new Promise<void>((r) => { resolveExit = r; }),
    };
    this.#run = run;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const line = chunk.trim().split('\n').pop();
      if (line) run.lastError = line.slice(0, 300);
      if (/No space left on device/i.test(chunk)) run.diskFull = true;
    });
    child.once('error', (err) => { run.lastError = `cannot start ffmpeg: ${err.message}`; });
    child.once('exit', () => { void this.#onExit(run).finally(resolveExit); });
    this.#timer ??= setInterval(() => { void this.#tick(); }, TICK_MS);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const run = this.#run;
    if (!run || run.child.exitCode !== null || run.child.signalCode !== null) return;
    this.#ticks++;
    this.#chain = this.#chain.then(() => this.#sweep(run, false)).catch((err: unknown) => this.#deps.log.warn('recording: segment sweep failed', { camera: this.#cam.id, err: err as Error }));
    // The newest file's growth: a stream that stops sending leaves ffmpeg waiting; the stall watchdog ends it.
    try {
      const cur = join(this.#deps.dir, segmentFileOf(run.id, run.listed));
      const size = (await stat(cur)).size;
      if (size !== run.lastSize) { run.lastSize = size; run.lastGrowth = Date.now(); }
      if (size > 0 && this.#state !== 'recording' && !this.#stopping) { this.#state = 'recording'; this.#code = null; this.#reason = null; }
    } catch { /* not opened yet */ }
    if (Date.now() - run.lastGrowth > STALL_MS) {
      this.#deps.log.warn('recording: stream stalled, reconnecting', { camera: this.#cam.id });
      run.lastGrowth = Date.now();
      void stopChild(run.child, 1_000);
      return;
    }
    // Free space every 5 s: recording stops before the disk is full, not after a write failed.
    if (this.#ticks % 10 === 0 && !(await this.#deps.hasRoom()) && this.#run === run) {
      run.diskFull = true;
      void stopChild(run.child, 2_000);
    }
  }

  /** Indexes the segments ffmpeg has closed (the csv list); after exit, the last one too (probed). */
  async #sweep(run: Run, final: boolean): Promise<void> {
    let lines: string[] = [];
    try {
      lines = (await readFile(join(this.#deps.dir, `${run.id}.csv`), 'utf8')).split('\n').filter((l) => l.trim());
    } catch { /* no segment closed yet */ }
    for (let i = run.listed; i < lines.length; i++) {
      const [file, s, e] = lines[i]!.split(',');
      let ps = Number(s);
      const pe = Number(e);
      if (!file || !Number.isFinite(ps) || !Number.isFinite(pe)) continue;
      if (i === 0) {
        // The muxer lists the first segment from 0, not from its first packet: its real start is end - duration.
        const d = await probeDuration(this.#deps.ffprobe, join(this.#deps.dir, file));
        if (d !== null && d < pe) ps = pe - d;
      }
      // The next file's birth is the wall-clock time of stream time pe; else this file's last write.
      const next = await stat(join(this.#deps.dir, segmentFileOf(run.id, i + 1))).catch(() => null);
      if (run.anchor === null) {
        const at = next && next.birthtimeMs > 0 ? next.birthtimeMs : (await stat(join(this.#deps.dir, file))).mtimeMs;
        this.#anchor(run, at - pe * 1000);
      } else if (next && next.birthtimeMs > 0) {
        // How far the run's mapping has drifted from what the files' births say (README: the mapping's tolerance).
        const err = Math.abs(next.birthtimeMs - (run.anchor + pe * 1000));
        this.#skew.max = Math.max(this.#skew.max, err);
        this.#skew.samples++;
      }
      await this.#index(run, file, ps, pe);
      run.listed = i + 1;
    }
    if (!final) return;
    // The segment ffmpeg had open when it ended (a stop, a drop, a kill): not in the list, still valid MPEG-TS.
    const left = (await readdir(this.#deps.dir)).filter((f) => isSegmentFile(f) && runOf(f) === run.id).sort();
    for (const file of left) {
      const n = Number(SEGMENT_FILE.exec(file)?.[2] ?? -1);
      if (n < run.listed) continue;
      const path = join(this.#deps.dir, file);
      const d = await probeDuration(this.#deps.ffprobe, path);
      if (d === null) { await unlink(path).catch(() => undefined); continue; }
      const ps = run.lastPts;
      if (run.anchor === null) this.#anchor(run, (await stat(path)).mtimeMs - (ps + d) * 1000);
      await this.#index(run, file, ps, ps + d);
      run.listed = n + 1;
    }
    await unlink(join(this.#deps.dir, `${run.id}.csv`)).catch(() => undefined);
  }

  #anchor(run: Run, anchor: number): void {
    run.anchor = anchor;
    const last = this.#deps.lastEnd();
    // Never before what is already recorded: no overlap in wall-clock time.
    run.shift = last !== null && anchor < last ? last - anchor : 0;
  }

  async #index(run: Run, file: string, ps: number, pe: number): Promise<void> {
    const bytes = (await stat(join(this.#deps.dir, file))).size;
    const start = Math.round(run.anchor! + run.shift + ps * 1000);
    const end = Math.max(start + 1, Math.round(run.anchor! + run.shift + pe * 1000));
    const last = this.#deps.lastEnd();
    const gap: Gap | null = !run.wroteAny && last !== null && start > last ? { from: last, to: start, reason: run.gapReason } : null;
    await this.#deps.onSegment({ cameraId: this.#cam.id, start, end, file, bytes, ptsStart: ps }, gap);
    run.wroteAny = true;
    run.lastPts = pe;
    this.#failures = 0;
    this.#backoff = BACKOFF_MIN_MS;
  }

  async #onExit(run: Run): Promise<void> {
    this.#chain = this.#chain.then(() => this.#sweep(run, true)).catch((err: unknown) => this.#deps.log.warn('recording: closing the last segment failed', { camera: this.#cam.id, err: err as Error }));
    await this.#chain;
    if (this.#run === run) this.#run = null;
    if (this.#timer && !this.#run) { clearInterval(this.#timer); this.#timer = null; }
    if (this.#stopping) return;
    if (run.diskFull) return this.#diskFull(run.lastError ?? 'no space left on device');
    if (!run.wroteAny) this.#failures++;
    if (this.#failures >= FAILED_AFTER) {
      this.#state = 'failed';
      this.#code = 'RECORDING_FFMPEG_FAILED';
      this.#reason = run.lastError ?? 'ffmpeg ended without writing a segment';
    } else {
      this.#state = 'reconnecting';
      this.#code = null;
      this.#reason = run.lastError;
    }
    this.#deps.log.warn('recording: ffmpeg ended, reconnecting', { camera: this.#cam.id, inMs: this.#backoff, reason: run.lastError });
    this.#retry = setTimeout(() => { this.#retry = null; void this.#spawn('disconnected'); }, this.#backoff);
    this.#retry.unref();
    this.#backoff = Math.min(BACKOFF_MAX_MS, this.#backoff * 2);
  }

  #diskFull(reason: string): void {
    this.#state = 'disk-full';
    this.#code = 'RECORDING_DISK_FULL';
    this.#reason = reason;
    this.#deps.log.error('recording stopped: disk full', { camera: this.#cam.id, reason });
    if (this.#stopping) return;
    this.#retry = setTimeout(() => { this.#retry = null; void this.#spawn('disk-full'); }, 10_000);
    this.#retry.unref();
  }
}
