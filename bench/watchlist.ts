/**
 * Watch-list matching: the cost of matchFace per live face against lists of 1,000 / 10,000 / 100,000 face entries
 * (random unit vectors of the embedding's dimension plus the astronaut's real embedding, one department, one
 * photo each), p50/p99 over 1,000 queries; and, with --calibrate, the cosine similarities the default threshold
 * was chosen from (same face: mirror, crop, JPEG, small faces in H.264 frames; other faces: messi5.jpg).
 * Then the alarm latency (bench/alarm-latency.ts: the whole stack on the face camera, from the first frame of
 * each appearance to the alarm at a durable JetStream consumer) as `alarm_latency_p50_ms` / `alarm_latency_p99_ms`.
 *
 * `cvcore bench watchlist [--sizes 1000,10000,100000] [--queries 1000] [--appearances 12] [--no-latency] [--calibrate] [--json]`
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { mediaPath } from '../common/paths.js';
import { closeFaceEmbedder, embedFacesFromImage } from '../inference/index.js';
import { Matcher } from '../watchlist/index.js';
import { benchAlarmLatency, type AlarmLatencyResult } from './alarm-latency.js';
import { hostInfo, type HostInfo } from './report.js';

/** faceres descriptors are 1024-d. */
export const EMBEDDING_DIM = 1024;

export interface MatchSizeResult {
  readonly entries: number;
  readonly queries: number;
  readonly match_p50_ms: number;
  readonly match_p99_ms: number;
  /** Queries with the astronaut's own embedding (a real face among random ones) that found it. */
  readonly astronaut_found: number;
}

export interface CalibrationResult {
  /** Cosine similarity of astronaut.png's face to other renderings of it. */
  readonly same: Record<string, number>;
  /** Cosine similarity between the two people: every rendering of the astronaut against every rendering of messi5.jpg's face. */
  readonly different: { readonly pairs: number; readonly max: number; readonly mean: number };
  readonly faces_in_messi5: number;
}

export interface WatchlistBenchResult {
  readonly kind: 'watchlist';
  readonly at: string;
  readonly host: HostInfo;
  readonly dim: number;
  readonly sizes: readonly MatchSizeResult[];
  /** match_p99_ms by list size, the headline figure. */
  readonly match_p99_ms: Record<string, number>;
  readonly match_p50_ms: Record<string, number>;
  readonly calibration?: CalibrationResult;
  readonly alarm_latency_p50_ms?: number;
  readonly alarm_latency_p99_ms?: number;
  /** The whole latency run (bench/alarm-latency.ts): samples, match-to-alarm figures, missed appearances. */
  readonly latency?: AlarmLatencyResult;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const r3 = (v: number): number => Math.round(v * 1000) / 1000;

/** A seeded unit vector (xorshift + Box-Muller-free uniform: direction is all that matters here). */
function randomUnit(dim: number, seed: number): Float32Array {
  const v = new Float32Array(dim);
  let s = (seed * 2654435761) >>> 0 || 1;
  let n = 0;
  for (let i = 0; i < dim; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    v[i] = s / 0x100000000 - 0.5;
    n += v[i]! * v[i]!;
  }
  n = Math.sqrt(n);
  for (let i = 0; i < dim; i++) v[i] = v[i]! / n;
  return v;
}

async function astronautEmbedding(): Promise<Float32Array> {
  const r = await embedFacesFromImage(await readFile(mediaPath('astronaut.png')));
  if (r.faces.length !== 1) throw new Error(`astronaut.png: expected one face, found ${r.faces.length}`);
  return r.faces[0]!.embedding;
}

export async function benchWatchlistMatching(opts: { sizes?: readonly number[]; queries?: number; astronaut?: Float32Array; threshold?: number } = {}): Promise<{ dim: number; sizes: MatchSizeResult[] }> {
  const sizes = opts.sizes ?? [1_000, 10_000, 100_000];
  const queries = opts.queries ?? 1_000;
  const astronaut = opts.astronaut ?? (await astronautEmbedding());
  const threshold = opts.threshold ?? 0.5;
  const out: MatchSizeResult[] = [];
  for (const n of sizes) {
    const m = new Matcher(astronaut.length);
    m.putFace({ id: 'astronaut', list: 'bench', department: 'bench', threshold, expiresAt: null }, [astronaut]);
    for (let i = 1; i < n; i++) m.putFace({ id: `e${i}`, list: 'bench', department: 'bench', threshold, expiresAt: null }, [randomUnit(astronaut.length, i)]);
    const times: number[] = [];
    let found = 0;
    let real = 0;
    const at = Date.now();
    for (let q = 0; q < queries; q++) {
      // Every tenth query is the real face; the rest are faces on no list (the common case).
      const query = q % 10 === 0 ? astronaut : randomUnit(astronaut.length, 1_000_000 + q);
      const t0 = performance.now();
      const hits = m.matchFace('bench', query, at);
      times.push(performance.now() - t0);
      if (q % 10 === 0) {
        real++;
        if (hits[0]?.entry === 'astronaut') found++;
      }
    }
    times.sort((a, b) => a - b);
    out.push({ entries: n, queries, match_p50_ms: r3(quantile(times, 0.5)), match_p99_ms: r3(quantile(times, 0.99)), astronaut_found: real ? r3(found / real) : 0 });
  }
  return { dim: astronaut.length, sizes: out };
}

const dot = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** Passes a still through H.264 (libx264, crf 28, the grain of a city camera stream) and back to PNG. */
function throughH264(png: Buffer): Buffer {
  const h264 = execFileSync('ffmpeg', ['-v', 'error', '-f', 'image2pipe', '-i', 'pipe:0', '-c:v', 'libx264', '-crf', '28', '-pix_fmt', 'yuv420p', '-f', 'h264', 'pipe:1'], { input: png, maxBuffer: 64 << 20 });
  return execFileSync('ffmpeg', ['-v', 'error', '-f', 'h264', '-i', 'pipe:0', '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', 'pipe:1'], { input: h264, maxBuffer: 64 << 20 });
}

async function oneFace(bytes: Buffer): Promise<Float32Array | null> {
  const r = await embedFacesFromImage(bytes);
  return r.faces[0]?.embedding ?? null;
}

/**
 * Renderings of one photo's face: mirrored, cropped, JPEG q30, and the face at 120, 80 and 48 px wide placed in a
 * 768x576 frame that goes through H.264 (what a camera would deliver of that photo held up to it).
 */
async function renderings(bytes: Buffer): Promise<{ base: Float32Array; views: Record<string, Float32Array | null> }> {
  const first = (await embedFacesFromImage(bytes)).faces[0];
  if (!first) throw new Error('calibration photo: no face');
  const png = await sharp(bytes).removeAlpha().png().toBuffer();
  const meta = await sharp(png).metadata();
  const W = meta.width!;
  const H = meta.height!;
  // The embedder's box refers to the image it decoded (scaled to EMBED_MAX_SIDE at most).
  const k = W / (await embedFacesFromImage(bytes)).width;
  const box = { x: first.box.x * k, y: first.box.y * k, w: first.box.w * k, h: first.box.h * k };
  const tries: Array<[string, () => Promise<Buffer>]> = [
    ['mirror', () => sharp(png).flop().png().toBuffer()],
    ['crop', () => sharp(png).extract({ left: Math.round(W * 0.04), top: Math.round(H * 0.02), width: Math.round(W * 0.9), height: Math.round(H * 0.9) }).png().toBuffer()],
    ['jpeg_q30', () => sharp(png).jpeg({ quality: 30 }).toBuffer()],
  ];
  for (const face of [120, 80, 48]) {
    tries.push([`h264_face_${face}px`, async () => {
      const scale = face / box.w;
      const w = Math.round(W * scale);
      const h = Math.round(H * scale);
      // At most 700x500 of the scaled photo around the face, placed in a 768x576 frame.
      const cw = Math.min(w, 700);
      const ch = Math.min(h, 500);
      const left = Math.max(0, Math.min(w - cw, Math.round((box.x + box.w / 2) * scale - cw / 2)));
      const top = Math.max(0, Math.min(h - ch, Math.round((box.y + box.h / 2) * scale - ch / 2)));
      const small = await sharp(await sharp(png).resize(w, h).png().toBuffer()).extract({ left, top, width: cw, height: ch }).png().toBuffer();
      const frame = await sharp({ create: { width: 768, height: 576, channels: 3, background: { r: 96, g: 104, b: 110 } } })
        .composite([{ input: small, left: 768 - cw - 20, top: 40 }]).png().toBuffer();
      return throughH264(frame);
    }]);
  }
  const views: Record<string, Float32Array | null> = {};
  for (const [name, make] of tries) views[name] = await oneFace(await make());
  return { base: first.embedding, views };
}

/**
 * The similarities the default threshold (watchlist/store.ts DEFAULT_FACE_THRESHOLD) was chosen from: each photo's
 * face against its own renderings (same person), and every rendering of one against every rendering of the other
 * (different people). The sample media hold two usable faces (astronaut.png, messi5.jpg: one face); vtest.avi's
 * faces are under 20 px.
 */
export async function calibrateFaceThreshold(): Promise<CalibrationResult> {
  const astro = await renderings(await readFile(mediaPath('astronaut.png')));
  const messiBytes = await readFile(mediaPath('messi5.jpg'));
  const messiFaces = (await embedFacesFromImage(messiBytes)).faces.length;
  const messi = await renderings(messiBytes);
  const same: Record<string, number> = {};
  for (const [who, r] of [['astronaut', astro], ['messi5', messi]] as const) {
    for (const [name, v] of Object.entries(r.views)) same[`${who}_${name}`] = v ? r3(dot(r.base, v)) : Number.NaN;
  }
  const all = (r: typeof astro): Float32Array[] => [r.base, ...Object.values(r.views).filter((v): v is Float32Array => v !== null)];
  const sims: number[] = [];
  for (const a of all(astro)) for (const b of all(messi)) sims.push(dot(a, b));
  return {
    same,
    different: { pairs: sims.length, max: r3(Math.max(...sims)), mean: r3(sims.reduce((s, v) => s + v, 0) / sims.length) },
    faces_in_messi5: messiFaces,
  };
}

export async function benchWatchlist(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: 'string', default: '1000,10000,100000' }, queries: { type: 'string', default: '1000' },
      calibrate: { type: 'boolean', default: false }, 'no-latency': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
      appearances: { type: 'string', default: '12' },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new RangeError('--sizes must be positive integers, comma-separated');
  const queries = Number(values.queries);
  if (!Number.isInteger(queries) || queries < 1) throw new RangeError('--queries must be a positive integer');
  try {
    const astronaut = await astronautEmbedding();
    const m = await benchWatchlistMatching({ sizes, queries, astronaut });
    const calibration = values.calibrate ? await calibrateFaceThreshold() : undefined;
    const appearances = Number(values.appearances);
    if (!Number.isInteger(appearances) || appearances < 1) throw new RangeError('--appearances must be a positive integer');
    const latency = values['no-latency'] ? null : await benchAlarmLatency({ appearances });
    const result: WatchlistBenchResult = {
      kind: 'watchlist', at: new Date().toISOString(), host: hostInfo(), dim: m.dim, sizes: m.sizes,
      match_p99_ms: Object.fromEntries(m.sizes.map((s) => [String(s.entries), s.match_p99_ms])),
      match_p50_ms: Object.fromEntries(m.sizes.map((s) => [String(s.entries), s.match_p50_ms])),
      ...(calibration ? { calibration } : {}),
      ...(latency ? { alarm_latency_p50_ms: latency.alarm_latency_p50_ms, alarm_latency_p99_ms: latency.alarm_latency_p99_ms, latency } : {}),
    };
    if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      process.stdout.write('entries    p50 ms   p99 ms\n');
      for (const s of m.sizes) process.stdout.write(`${String(s.entries).padEnd(10)} ${String(s.match_p50_ms).padStart(7)}  ${String(s.match_p99_ms).padStart(7)}\n`);
      if (calibration) process.stdout.write(JSON.stringify(calibration, null, 2) + '\n');
      if (latency) {
        process.stdout.write(`alarm latency (first frame -> subscriber) p50 ${latency.alarm_latency_p50_ms} ms, p99 ${latency.alarm_latency_p99_ms} ms; `
          + `matched frame -> subscriber p50 ${latency.match_to_alarm_p50_ms} ms, p99 ${latency.match_to_alarm_p99_ms} ms; ${latency.alarms} alarms, ${latency.missed} missed\n`);
      }
    }
    return 0;
  } finally {
    await closeFaceEmbedder();
  }
}
