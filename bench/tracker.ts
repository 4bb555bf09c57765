import { parseArgs } from 'node:util';
import type { Detection } from '../common/messages.js';
import { createTracker } from '../tracking/index.js';

/**
 * `cvcore bench tracker`: tracker update() calls per second with 50, 200 and 1000 objects a frame. Objects are
 * synthetic boxes moving at constant speed with jittered boxes, varied scores and occasional missed detections,
 * spread so density stays roughly like a busy street whatever the count.
 */
export interface TrackerBenchResult {
  objects: number;
  updates_per_s: number;
  ms_per_frame: number;
}

const OBJECT_COUNTS = [50, 200, 1000] as const;
const WARMUP_FRAMES = 20;
// Enough frames to cover births, confirmations and removals; few enough to stay quick on a shared machine.
const MEASURED_FRAMES = 150;
const MISS_RATE = 0.05;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function scene(objects: number, seed: number): (frame: number) => Detection[] {
  const rand = rng(seed);
  // About 50 objects per 1000x1000 px, like a crowded square at 1080p.
  const side = Math.sqrt(objects / 50) * 1000;
  const movers = Array.from({ length: objects }, () => ({
    x: rand() * side,
    y: rand() * side,
    vx: (rand() - 0.5) * 8,
    vy: (rand() - 0.5) * 4,
    w: 25 + rand() * 30,
    h: 70 + rand() * 60,
  }));
  return (frame) => {
    const dets: Detection[] = [];
    for (const m of movers) {
      if (rand() < MISS_RATE) continue;
      const jitter = () => (rand() - 0.5) * 4;
      dets.push({
        box: { x: m.x + m.vx * frame + jitter(), y: m.y + m.vy * frame + jitter(), w: m.w + jitter(), h: m.h + jitter() },
        score: 0.3 + rand() * 0.7,
        cls: 'person',
      });
    }
    return dets;
  };
}

export function measureTracker(objects: number, frames = MEASURED_FRAMES): TrackerBenchResult {
  const next = scene(objects, objects);
  const all = Array.from({ length: WARMUP_FRAMES + frames }, (_, k) => next(k));
  const tracker = createTracker('bench');
  for (let k = 0; k < WARMUP_FRAMES; k++) tracker.update(k, k * 40, all[k]!);
  const t0 = process.hrtime.bigint();
  for (let k = WARMUP_FRAMES; k < all.length; k++) tracker.update(k, k * 40, all[k]!);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { objects, updates_per_s: Math.round((frames / ms) * 1000 * 10) / 10, ms_per_frame: Math.round((ms / frames) * 1000) / 1000 };
}

export async function benchTracker(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true, allowPositionals: false });
  // One short untimed pass first: otherwise the first size measured pays for the JIT compiling the tracker.
  for (const n of OBJECT_COUNTS) measureTracker(n, WARMUP_FRAMES);
  const results = OBJECT_COUNTS.map((n) => measureTracker(n));
  if (values.json) {
    process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  } else {
    process.stdout.write('objects  updates/s  ms/frame\n');
    for (const r of results) {
      process.stdout.write(`${String(r.objects).padStart(7)}  ${r.updates_per_s.toFixed(1).padStart(9)}  ${r.ms_per_frame.toFixed(3).padStart(8)}\n`);
    }
  }
  return 0;
}
