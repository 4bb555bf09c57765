/**
 * Clothing colour against the hand-labelled person crops of test/fixtures/clothing/ (labels.json): for the upper
 * and the lower part, accuracy over the labelled crops (an abstention counts as wrong), the abstention rate, the
 * accuracy of the answers given and of those at confidence >= CONFIDENT, the majority-label baseline (vtest.avi's
 * tops are mostly black, so "always black" is the bar to beat), the confusion pairs and the CPU time per person.
 * Parts a human marked ambiguous, or that are out of view, are left out of the accuracy.
 * Both ways of finding the body are measured in the same run: MoveNet keypoints (what the pipeline does; --pose
 * names the tfjs backend, or off) and fixed body proportions alone.
 * `cvcore bench clothing [--fixture DIR] [--repeat N] [--pose wasm|off] [--json] [--out DIR]` (--out: DIR/clothing.json, .md)
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { REPO_ROOT } from '../common/paths.js';
import type { Box } from '../common/messages.js';
import { BACKENDS } from '../config/index.js';
import { clothingColours, clothingVotes, getBackend, KEYPOINT_MIN_HEIGHT, PoseModel, type BackendName, type BodyKeypoint, type ClothingColours, type Keypoint, type RgbFrame } from '../inference/index.js';
import { hostInfo, table, type HostInfo } from './report.js';

/** An answer at or above this confidence is "confident". */
export const CONFIDENT = 0.5;

export interface ClothingLabel {
  readonly file: string;
  readonly source: string;
  readonly box: Box;
  readonly upper: string | null;
  readonly lower: string | null;
  readonly ambiguous?: readonly ('upper' | 'lower')[];
  readonly note?: string;
}

export interface PartScore {
  readonly labelled: number;
  readonly correct: number;
  readonly accuracy: number;
  readonly abstained: number;
  readonly abstentionRate: number;
  /** Of the answers given (not abstained): the share right. */
  readonly answeredAccuracy: number | null;
  readonly confident: number;
  readonly confidentAccuracy: number | null;
  readonly majorityLabel: string;
  readonly majorityBaseline: number;
  /** "truth->predicted" (predicted "none" when abstained): count, wrong answers only. */
  readonly confusions: Readonly<Record<string, number>>;
}

export async function loadClothingFixture(dir: string): Promise<{ label: ClothingLabel; frame: RgbFrame }[]> {
  const labels = JSON.parse(await readFile(join(dir, 'labels.json'), 'utf8')) as { crops: ClothingLabel[] };
  return Promise.all(labels.crops.map(async (label) => {
    const { data, info } = await sharp(join(dir, label.file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { label, frame: { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height } };
  }));
}

/** The label of a part when it counts for accuracy, else null (ambiguous or out of view). */
export function truth(label: ClothingLabel, part: 'upper' | 'lower'): string | null {
  return label.ambiguous?.includes(part) ? null : label[part];
}

const r3 = (v: number): number => Math.round(v * 1000) / 1000;

function score(rows: readonly { label: ClothingLabel; got: ClothingColours }[], part: 'upper' | 'lower'): PartScore {
  const counts = new Map<string, number>();
  const confusions: Record<string, number> = {};
  let labelled = 0, correct = 0, abstained = 0, answered = 0, answeredRight = 0, confident = 0, confidentRight = 0;
  for (const { label, got } of rows) {
    const t = truth(label, part);
    if (t === null) continue;
    labelled++;
    counts.set(t, (counts.get(t) ?? 0) + 1);
    const g = got[part];
    if (!g) {
      abstained++;
      confusions[`${t}->none`] = (confusions[`${t}->none`] ?? 0) + 1;
      continue;
    }
    answered++;
    const ok = g.colour === t;
    if (ok) { correct++; answeredRight++; } else confusions[`${t}->${g.colour}`] = (confusions[`${t}->${g.colour}`] ?? 0) + 1;
    if (g.confidence >= CONFIDENT) { confident++; if (ok) confidentRight++; }
  }
  const [majorityLabel, majority] = [...counts].reduce((a, b) => (b[1] > a[1] ? b : a), ['none', 0] as [string, number]);
  return {
    labelled, correct, accuracy: r3(correct / Math.max(1, labelled)), abstained, abstentionRate: r3(abstained / Math.max(1, labelled)),
    answeredAccuracy: answered ? r3(answeredRight / answered) : null, confident, confidentAccuracy: confident ? r3(confidentRight / confident) : null,
    majorityLabel, majorityBaseline: r3(majority / Math.max(1, labelled)),
    confusions: Object.fromEntries(Object.entries(confusions).sort((a, b) => b[1] - a[1])),
  };
}

/** One way of finding the body: its scores over the fixture. */
export interface ModeResult {
  readonly upper: PartScore;
  readonly lower: PartScore;
  readonly both: { readonly labelled: number; readonly correct: number; readonly accuracy: number };
  /** Crops whose part was read along keypoints (the rest from fixed proportions). */
  readonly fromKeypoints: { readonly upper: number; readonly lower: number };
  /** CPU per person of the colour reading alone (mean over crops, and the slowest crop). */
  readonly colourMs: { readonly mean: number; readonly max: number };
  readonly perCrop: readonly { file: string; upper: string | null; lower: string | null; got: ClothingColours }[];
}

export interface ClothingBenchResult {
  readonly fixture: string;
  readonly crops: number;
  readonly confidentThreshold: number;
  /** Fixed body proportions only (no model). */
  readonly proportions: ModeResult;
  /** MoveNet keypoints where strong (what the pipeline does), else proportions; null with --pose off. */
  readonly keypoints: ModeResult | null;
  /** MoveNet per person on this backend, first call (graph compile) excluded. */
  readonly poseMs: { readonly mean: number; readonly median: number; readonly max: number; readonly backend: string } | null;
  readonly repeat: number;
  readonly host: HostInfo;
}

type Crop = { label: ClothingLabel; frame: RgbFrame };

function mode(crops: readonly Crop[], kps: readonly (readonly BodyKeypoint[] | null)[], repeat: number): ModeResult {
  const rows = crops.map(({ label, frame }, i) => ({ label, got: clothingColours(frame, label.box, kps[i]), v: clothingVotes(frame, label.box, kps[i]) }));
  let both = 0, bothRight = 0;
  for (const { label, got } of rows) {
    const u = truth(label, 'upper');
    const l = truth(label, 'lower');
    if (u === null || l === null) continue;
    both++;
    if (got.upper?.colour === u && got.lower?.colour === l) bothRight++;
  }
  // CPU per person: every crop `repeat` times after one warm-up pass (JIT), mean over crops and the slowest crop.
  const per: number[] = [];
  crops.forEach(({ label, frame }, i) => {
    clothingColours(frame, label.box, kps[i]);
    const t0 = performance.now();
    for (let k = 0; k < repeat; k++) clothingColours(frame, label.box, kps[i]);
    per.push((performance.now() - t0) / repeat);
  });
  return {
    upper: score(rows, 'upper'), lower: score(rows, 'lower'),
    both: { labelled: both, correct: bothRight, accuracy: r3(bothRight / Math.max(1, both)) },
    fromKeypoints: { upper: rows.filter((r) => r.v.upperFrom === 'keypoints').length, lower: rows.filter((r) => r.v.lowerFrom === 'keypoints').length },
    colourMs: { mean: r3(per.reduce((a, b) => a + b, 0) / Math.max(1, per.length)), max: r3(Math.max(...per)) },
    perCrop: rows.map(({ label, got }) => ({ file: label.file, upper: truth(label, 'upper'), lower: truth(label, 'lower'), got })),
  };
}

export async function runClothingBench(dir: string, repeat: number, pose: BackendName | null = 'wasm'): Promise<ClothingBenchResult> {
  const crops = await loadClothingFixture(dir);
  const none = crops.map(() => null);
  let keypoints: ModeResult | null = null;
  let poseMs: ClothingBenchResult['poseMs'] = null;
  if (pose) {
    await getBackend(pose).init();
    const model = await PoseModel.load();
    const times: number[] = [];
    const kps: (Keypoint[] | null)[] = [];
    for (const [i, { label, frame }] of crops.entries()) {
      if (label.box.h < KEYPOINT_MIN_HEIGHT) { kps.push(null); continue; }
      const t0 = performance.now();
      kps.push(await model.keypoints(frame, label.box));
      if (i > 0) times.push(performance.now() - t0);
    }
    const sorted = [...times].sort((a, b) => a - b);
    poseMs = { mean: r3(times.reduce((a, b) => a + b, 0) / Math.max(1, times.length)), median: r3(sorted[sorted.length >> 1] ?? 0), max: r3(sorted[sorted.length - 1] ?? 0), backend: pose };
    keypoints = mode(crops, kps, repeat);
  }
  return { fixture: dir, crops: crops.length, confidentThreshold: CONFIDENT, proportions: mode(crops, none, repeat), keypoints, poseMs, repeat, host: hostInfo() };
}

const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(1)}%`);

export function clothingTable(r: ClothingBenchResult, markdown = false): string {
  const rows: string[][] = [];
  const conf: string[] = [];
  const confusions = (s: PartScore): string => Object.entries(s.confusions).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  for (const [name, m] of [['keypoints', r.keypoints], ['proportions', r.proportions]] as const) {
    if (!m) continue;
    const row = (part: string, s: PartScore): string[] => [name, part, String(s.labelled), pct(s.accuracy), pct(s.abstentionRate), pct(s.answeredAccuracy), `${pct(s.confidentAccuracy)} (${s.confident})`, `${pct(s.majorityBaseline)} (${s.majorityLabel})`];
    rows.push(row('upper', m.upper), row('lower', m.lower), [name, 'both', String(m.both.labelled), pct(m.both.accuracy), '', '', '', '']);
    conf.push(`${name}: upper ${confusions(m.upper)}; lower ${confusions(m.lower)}`);
  }
  const t = table(['body from', 'part', 'labelled', 'accuracy', 'abstained', 'acc. answered', `acc. conf>=${CONFIDENT} (n)`, 'majority baseline'], rows, markdown);
  const nl = markdown ? '\n\n' : '\n';
  const kp = r.keypoints ? ` + MoveNet ${r.poseMs!.mean} ms mean (${r.poseMs!.median} median, ${r.poseMs!.max} max, ${r.poseMs!.backend}); keypoints used for ${r.keypoints.fromKeypoints.upper} upper and ${r.keypoints.fromKeypoints.lower} lower parts of ${r.crops}` : '';
  return `${t}${nl}confusions (truth->answer) ${conf.join(nl)}${nl}` +
    `CPU per person: colour ${r.proportions.colourMs.mean} ms mean (${r.proportions.colourMs.max} ms slowest crop)${kp}; ${r.host.cpuModel}, load ${r.host.loadAvg.join('/')}\n`;
}

export async function benchClothing(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { fixture: { type: 'string' }, repeat: { type: 'string', default: '200' }, pose: { type: 'string', default: 'wasm' }, json: { type: 'boolean', default: false }, out: { type: 'string' } },
  });
  const pose = values.pose === 'off' ? null : values.pose as BackendName;
  if (pose !== null && !(BACKENDS as readonly string[]).includes(pose)) throw new RangeError(`--pose must be off or one of ${BACKENDS.join(', ')}`);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new RangeError('--repeat must be a positive integer');
  const dir = resolve(values.fixture ?? join(REPO_ROOT, 'test', 'fixtures', 'clothing'));
  const r = await runClothingBench(dir, repeat, pose);
  const report = { ...r, fixture: values.fixture ?? 'test/fixtures/clothing' };
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : clothingTable(r));
  if (values.out) {
    const out = resolve(values.out);
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'clothing.json'), JSON.stringify(report, null, 2) + '\n');
    await writeFile(join(out, 'clothing.md'), `\`cvcore bench clothing --json --out ${values.out}\`\n\n${clothingTable(r, true)}`);
    process.stderr.write(`wrote ${join(out, 'clothing.json')}, ${join(out, 'clothing.md')}\n`);
  }
  return 0;
}
