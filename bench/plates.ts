import { parseArgs } from 'node:util';
import { PLATE_CROP_MARGIN, PLATE_CROP_MAX_PIXELS, PLATE_CROP_SKIP_TOP } from '../runtime/index.js';
import { PlateReader, cutVehicleCrop } from '../inference/index.js';
import { motionBlurCase, plateSpecs, plateViews, type PlateSpec } from '../synth/index.js';
import { fmt, hostInfo, table, type HostInfo } from './report.js';

/**
 * `cvcore bench plates`: licence-plate reading as the product does it, per track. The plate set comes from
 * synth/ (seeded: rendered mainland plates warped onto real vehicle photos with blur, noise and low light); each
 * track is `--views` views of one vehicle and plate (other scale, jitter, blur), cut as the pipeline cuts its
 * vehicle crops (box + margin, longer side capped), read and voted by the PlateReader. Exact accuracy is
 * reported for plates of 100 px and wider (the target) and per width band; CPU per track is the process's user +
 * system time over the reading, one thread.
 */
export interface PlatesBenchResult {
  readonly kind: 'plates';
  readonly at: string;
  readonly host: HostInfo;
  readonly set: { readonly source: string; readonly seed: number; readonly tracks: number; readonly viewsPerTrack: number; readonly widths: readonly number[] };
  /** Exact plate (canonical form) over tracks whose plate is >= 100 px wide. */
  readonly exact_accuracy: number;
  readonly exact_accuracy_all: number;
  /** Characters right at their position over all tracks (unread tracks count every character wrong). */
  readonly char_accuracy: number;
  readonly exact_accuracy_by_width: Record<string, { readonly n: number; readonly exact: number }>;
  readonly exact_accuracy_by_colour: Record<string, { readonly n: number; readonly exact: number }>;
  readonly colour_accuracy: number;
  /** Tracks with no plate (nothing found, or text fitting no format). */
  readonly unread_rate: number;
  /** Tracks whose plate is wrong with confidence >= CONFIDENT. */
  readonly wrong_but_confident_rate: number;
  readonly confident_threshold: number;
  /** Of the tracks read with confidence >= CONFIDENT, the share that is exact. */
  readonly precision_at_confident: number;
  readonly cpu_ms_per_track: number;
  readonly wall_ms_per_track: number;
  readonly counts: { readonly tracks: number; readonly exact: number; readonly unread: number; readonly wrong: number; readonly raw: number };
  /** A blurred foreign plate (opencv-doc): no confident mainland reading expected. */
  readonly motion_blur_case: { readonly plate: string | null; readonly raw: string | null; readonly confidence: number | null; readonly confident: boolean };
  readonly failures: readonly { readonly truth: string; readonly read: string | null; readonly confidence: number | null; readonly width: number; readonly colour: string }[];
}

export const BANDS: readonly (readonly [number, number])[] = [[60, 80], [80, 100], [100, 140], [140, 200]];
const WIDTHS = [60, 70, 80, 90, 100, 115, 130, 150, 175, 200];
/** A reading at or above this confidence is one an operator would trust (the wrong-but-confident measure). */
export const CONFIDENT = 0.8;

function band(w: number): string {
  const b = BANDS.find(([lo, hi]) => w >= lo && (w < hi || (hi === 200 && w <= hi)));
  return b ? `${b[0]}-${b[1]}` : 'other';
}

const r3 = (v: number): number => Math.round(v * 1000) / 1000;

export async function benchPlates(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { count: { type: 'string', default: '300' }, seed: { type: 'string', default: '17' }, views: { type: 'string', default: '4' }, json: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } },
  });
  const count = Number(values.count), seed = Number(values.seed), views = Number(values.views);
  if (!Number.isInteger(count) || count < 1) throw new RangeError('--count must be a positive integer');
  if (!Number.isInteger(views) || views < 1 || views > 8) throw new RangeError('--views must be an integer in [1, 8]');
  const reader = await PlateReader.load();
  const specs: PlateSpec[] = plateSpecs({ seed, count, widths: WIDTHS });
  let cpuUs = 0, wallMs = 0, exact = 0, exactBig = 0, nBig = 0, unread = 0, wrongConfident = 0, confident = 0, confidentExact = 0, rawOnly = 0;
  let charsRight = 0, charsTotal = 0, colourRight = 0;
  const byWidth = new Map<string, { n: number; exact: number }>();
  const byColour = new Map<string, { n: number; exact: number }>();
  const failures: PlatesBenchResult['failures'][number][] = [];
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i]!;
    const samples = await plateViews(spec, views);
    const crops = samples.map((s) => cutVehicleCrop(s.image, s.vehicleBox, PLATE_CROP_MARGIN, PLATE_CROP_MAX_PIXELS, PLATE_CROP_SKIP_TOP));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await reader.read(crops);
    wallMs += performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpuUs += c.user + c.system;
    const truth = spec.truth.plate;
    const read = r?.plate ?? null;
    const ok = read === truth;
    const b = band(spec.width);
    const wb = byWidth.get(b) ?? { n: 0, exact: 0 };
    wb.n++; if (ok) wb.exact++;
    byWidth.set(b, wb);
    const cb = byColour.get(`${spec.truth.colour}${spec.truth.rows === 2 ? '-2row' : ''}`) ?? { n: 0, exact: 0 };
    cb.n++; if (ok) cb.exact++;
    byColour.set(`${spec.truth.colour}${spec.truth.rows === 2 ? '-2row' : ''}`, cb);
    if (ok) exact++;
    if (spec.width >= 100) { nBig++; if (ok) exactBig++; }
    if (read === null) unread++;
    if (read === null && r?.raw) rawOnly++;
    if (r && r.colour === spec.truth.colour) colourRight++;
    const conf = r?.confidence ?? 0;
    if (read !== null && conf >= CONFIDENT) { confident++; if (ok) confidentExact++; else wrongConfident++; }
    const t = [...truth];
    const got = [...(read ?? r?.raw ?? '')];
    charsTotal += t.length;
    if (got.length === t.length) charsRight += t.filter((ch, k) => got[k] === ch).length;
    if (!ok) {
      failures.push({ truth, read: read ?? (r?.raw ? `raw:${r.raw}` : null), confidence: r ? r.confidence : null, width: spec.width, colour: `${spec.truth.colour}${spec.truth.rows === 2 ? '-2row' : ''}` });
      if (values.verbose) process.stderr.write(`miss ${truth} -> ${read ?? r?.raw ?? '-'} (${r?.confidence ?? '-'}) w=${spec.width} ${spec.truth.colour}/${spec.truth.rows} ${spec.vehicle}\n`);
    }
    if ((i + 1) % 25 === 0) process.stderr.write(`[plates] ${i + 1}/${specs.length} exact ${exact}\n`);
  }
  const blur = await motionBlurCase();
  const mb = await reader.read([blur.image]);
  await reader.dispose();
  const n = specs.length;
  const result: PlatesBenchResult = {
    kind: 'plates', at: new Date().toISOString(), host: hostInfo(),
    set: { source: 'synth/ plateSpecs + plateViews (rendered plates on real vehicle photos)', seed, tracks: n, viewsPerTrack: views, widths: WIDTHS },
    exact_accuracy: r3(nBig ? exactBig / nBig : 0),
    exact_accuracy_all: r3(exact / n),
    char_accuracy: r3(charsTotal ? charsRight / charsTotal : 0),
    exact_accuracy_by_width: Object.fromEntries(BANDS.map(([lo, hi]) => `${lo}-${hi}`).map((k) => { const v = byWidth.get(k) ?? { n: 0, exact: 0 }; return [k, { n: v.n, exact: r3(v.n ? v.exact / v.n : 0) }]; })),
    exact_accuracy_by_colour: Object.fromEntries([...byColour].sort().map(([k, v]) => [k, { n: v.n, exact: r3(v.exact / v.n) }])),
    colour_accuracy: r3(colourRight / n),
    unread_rate: r3(unread / n),
    wrong_but_confident_rate: r3(wrongConfident / n),
    confident_threshold: CONFIDENT,
    precision_at_confident: r3(confident ? confidentExact / confident : 0),
    cpu_ms_per_track: Math.round(cpuUs / 1000 / n),
    wall_ms_per_track: Math.round(wallMs / n),
    counts: { tracks: n, exact, unread, wrong: n - exact - unread, raw: rawOnly },
    motion_blur_case: { plate: mb?.plate ?? null, raw: mb?.raw ?? null, confidence: mb?.confidence ?? null, confident: mb !== null && mb.plate !== null && mb.confidence >= CONFIDENT },
    failures: failures.slice(0, 40),
  };
  if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else {
    process.stdout.write(table(['width px', 'tracks', 'exact'], Object.entries(result.exact_accuracy_by_width).map(([k, v]) => [k, String(v.n), fmt(v.exact, 3)])) + '\n');
    process.stdout.write(`exact (>=100 px) ${fmt(result.exact_accuracy, 3)}  chars ${fmt(result.char_accuracy, 3)}  unread ${fmt(result.unread_rate, 3)}  wrong-but-confident ${fmt(result.wrong_but_confident_rate, 3)}  cpu ${result.cpu_ms_per_track} ms/track\n`);
  }
  return 0;
}
