/**
 * Micro-benchmarks of the per-frame hot functions, with benchmark.js (ops/s and relative margin of error).
 * `npm run bench:micro` or `cvcore bench micro [--json]`. Only what the stages export is timed; functions still
 * internal to a stage are listed in `MISSING` (printed at the end) rather than reached into or copied here.
 * Exports that exist on other branches (ingest's FrameAssembler, inference's dominantColour) are looked up at
 * run time, so they join the suite as soon as those branches are merged, without editing this file.
 */
import { pathToFileURL } from 'node:url';
import type { Box, Detection, Frame } from '../common/messages.js';
import * as ingest from '../ingest/index.js';
import * as inference from '../inference/index.js';
import { KalmanBoxFilter, createTracker, solveDense } from '../tracking/index.js';
import { attributePrefix, orderSuffix, recordKey } from '../search-index/index.js';
import { fmt, table } from './report.js';

export interface MicroResult { readonly name: string; readonly hz: number; readonly rme_pct: number; readonly samples: number; readonly runner: 'benchmark.js' }
interface Case { readonly name: string; readonly fn: () => void }

/** Internal functions this suite would time if their stage exported them (see the report / README). */
/** Hot functions not timed here, with the reason (none at present). */
export const MISSING: readonly string[] = [];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** People-sized boxes scattered over a 640x480 frame, with overlaps like a busy pavement. */
function boxes(n: number, seed: number): Box[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => ({ x: r() * 600, y: r() * 380, w: 20 + r() * 30, h: 60 + r() * 50 }));
}

function detections(n: number, seed: number): Detection[] {
  const r = rng(seed + 1);
  return boxes(n, seed).map((box) => ({ box, score: 0.2 + r() * 0.8, cls: r() < 0.8 ? 'person' as const : 'car' as const }));
}

/** What centernet hands back for one frame: 100 rows of x1, y1, x2, y2 (512 px input), score, COCO class. */
function centernetRows(seed: number): Float32Array {
  const r = rng(seed);
  const rows = new Float32Array(100 * 6);
  for (let i = 0; i < 100; i++) {
    const x = r() * 480, y = r() * 440;
    rows.set([x, y, x + 15 + r() * 30, y + 40 + r() * 60, r(), r() < 0.7 ? 0 : 2], i * 6);
  }
  return rows;
}

type Fn = (...args: never[]) => unknown;
/** An export that another branch adds, when this build has it. */
function optional<T extends Fn>(mod: object, name: string): T | null {
  const v = (mod as Record<string, unknown>)[name];
  return typeof v === 'function' ? (v as T) : null;
}

export function cases(): Case[] {
  const out: Case[] = [];
  const b50 = boxes(50, 7);
  const b50b = b50.map((b) => ({ ...b, x: b.x + 3, y: b.y - 2 }));
  const m = new Float64Array(50 * 50);
  out.push({ name: 'iou 50x50 matrix (inference iou)', fn: () => { for (let i = 0; i < 50; i++) for (let j = 0; j < 50; j++) m[i * 50 + j] = inference.iou(b50[i]!, b50b[j]!); } });
  const d100 = detections(100, 11);
  out.push({ name: 'nms 100 detections', fn: () => { inference.nms(d100, 0.5); } });
  const rows = centernetRows(3);
  const labels = ['person', 'bicycle', 'car'];
  const decode = { minScore: 0.2, iouThreshold: 0.5, classes: ['person', 'car'] as const };
  out.push({ name: 'decodeCenternet 100 rows', fn: () => { inference.decodeCenternet(rows, labels, 512, 640, 480, decode); } });

  // The tracker step (Kalman predict, IoU matrix, two-stage assignment, Kalman update) at 50 people a frame.
  const r = rng(5);
  const movers = detections(50, 21);
  const frames = Array.from({ length: 64 }, (_, k) => movers.map((d) => ({ ...d, box: { ...d.box, x: d.box.x + k * 2 + r(), y: d.box.y + k + r() } })));
  let tracker = createTracker('micro');
  let k = 0;
  {
    const kf = new KalmanBoxFilter({ x: 100, y: 100, w: 40, h: 90 });
    let j = 0;
    out.push({ name: 'Kalman predict + update', fn: () => { kf.predict(); kf.update({ x: 100 + (j++ % 50), y: 100, w: 40, h: 90 }); } });
  }
  {
    const n = 50;
    const cost = Float64Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000);
    out.push({ name: 'assignment 50x50 (solveDense)', fn: () => { solveDense(cost, n, n); } });
  }
  {
    let j = 0;
    out.push({ name: 'index key encoding (record, order, attribute)', fn: () => {
      j++;
      recordKey(`cam-1:${j}:1795535049820`);
      orderSuffix(1795535049820 + j, `cam-1:${j}`);
      attributePrefix('police', 'colour', 'red');
    } });
  }
  out.push({ name: 'tracker step, 50 objects', fn: () => {
    if (k === frames.length) { tracker = createTracker('micro'); k = 0; }
    tracker.update(k, k * 200, frames[k]!);
    k++;
  } });

  // The camera edge: push into the drop-oldest queue and take out, as ingest and the batcher do per frame.
  const q = new ingest.FrameQueue(4);
  const frame: Frame = { cameraId: 'c', seq: 0, pts: 0, capturedAt: 0, width: 640, height: 480, data: new Uint8Array(16) };
  out.push({ name: 'FrameQueue push + shift', fn: () => { q.push(frame); if (q.size > 2) q.shift(); } });

  // Frame assembly from ffmpeg's 64 KiB pipe chunks into a SharedArrayBuffer (ingest branch: FrameAssembler).
  type Assembler = new (frameBytes: number) => { push(chunk: Uint8Array, emit: (data: Uint8Array) => void): void };
  const Assembler = optional<Fn>(ingest, 'FrameAssembler') as unknown as Assembler | null;
  if (Assembler) {
    const asm = new Assembler(640 * 480 * 3);
    const chunk = new Uint8Array(65536).fill(7);
    const perFrame = Math.ceil((640 * 480 * 3) / chunk.length);
    out.push({ name: 'frame assembly 640x480 RGB24 (64 KiB chunks)', fn: () => { for (let i = 0; i < perFrame; i++) asm.push(chunk, () => undefined); } });
  }

  // Vehicle colour of a best shot (inference branch: dominantColour).
  const colour = optional<(data: Uint8Array, w: number, h: number, box: Box) => string>(inference, 'dominantColour');
  if (colour) {
    const img = new Uint8Array(640 * 480 * 3);
    const rr = rng(9);
    for (let i = 0; i < img.length; i += 3) { img[i] = 180 + rr() * 60; img[i + 1] = 20 + rr() * 40; img[i + 2] = 20 + rr() * 40; }
    const box = { x: 200, y: 150, w: 160, h: 100 };
    out.push({ name: 'dominantColour 160x100 box', fn: () => { colour(img, 640, 480, box); } });
  }
  return out;
}

function runBenchmarkJs(lib: typeof import('benchmark').default, list: readonly Case[], maxTime: number): Promise<MicroResult[]> {
  return new Promise((resolve, reject) => {
    const results: MicroResult[] = [];
    const suite = new lib.Suite('cvcore micro');
    for (const c of list) suite.add(c.name, c.fn, { maxTime, minSamples: 10 });
    suite
      .on('cycle', (e) => { results.push({ name: e.target.name ?? '?', hz: e.target.hz, rme_pct: e.target.stats.rme, samples: e.target.stats.sample.length, runner: 'benchmark.js' }); })
      .on('error', (e) => reject(e.target.error instanceof Error ? e.target.error : new Error(String(e.target.error))))
      .on('complete', () => resolve(results))
      .run({ async: true });
  });
}

export async function benchMicro(args: string[]): Promise<number> {
  const json = args.includes('--json');
  // Seconds per case; short by default because the machine is usually shared.
  const maxTime = Number(process.env['CVCORE_MICRO_MAX_TIME'] ?? 2);
  const list = cases();
  const results = await runBenchmarkJs((await import('benchmark')).default, list, maxTime);
  if (json) {
    process.stdout.write(JSON.stringify({ results, missing: MISSING }, null, 2) + '\n');
  } else {
    process.stdout.write(table(['function', 'ops/s', '± rme %', 'samples', 'runner'], results.map((r) => [r.name, fmt(r.hz, 0), fmt(r.rme_pct, 2), String(r.samples), r.runner])) + '\n');
    if (MISSING.length) process.stdout.write(`\nnot timed:\n${MISSING.map((m) => `  - ${m}`).join('\n')}\n`);
  }
  return 0;
}

// `node dist/bench/micro.js` (the npm script) runs the suite directly.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchMicro(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => { process.stderr.write(`${String(err)}\n`); process.exitCode = 1; });
}
