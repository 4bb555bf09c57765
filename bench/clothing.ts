/**
 * Clothing colour against the hand-labelled person crops of test/fixtures/clothing/ (labels.json): for the upper
 * and the lower part, accuracy over the labelled crops (an abstention counts as wrong), the abstention rate, the
 * accuracy of the answers given and of those at confidence >= CONFIDENT, the majority-label baseline (vtest.avi's
 * tops are mostly black, so "always black" is the bar to beat), the confusion pairs and the CPU time per person.
 * Parts a human marked ambiguous, or that are out of view, are left out of the accuracy.
 * `cvcore bench clothing [--fixture DIR] [--repeat N] [--json] [--out DIR]` (--out writes DIR/clothing.json and .md)
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { REPO_ROOT } from '../common/paths.js';
import type { Box } from '../common/messages.js';
import { clothingColours, type ClothingColours, type RgbFrame } from '../inference/clothing.js';
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

export interface ClothingBenchResult {
  readonly fixture: string;
  readonly crops: number;
  readonly upper: PartScore;
  readonly lower: PartScore;
  readonly both: { readonly labelled: number; readonly correct: number; readonly accuracy: number };
  readonly msPerPerson: { readonly mean: number; readonly max: number; readonly repeat: number };
  readonly confidentThreshold: number;
  readonly host: HostInfo;
  readonly perCrop: readonly { file: string; upper: string | null; lower: string | null; got: ClothingColours }[];
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

export async function runClothingBench(dir: string, repeat: number): Promise<ClothingBenchResult> {
  const crops = await loadClothingFixture(dir);
  const rows = crops.map(({ label, frame }) => ({ label, got: clothingColours(frame, label.box) }));
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
  for (const { label, frame } of crops) {
    clothingColours(frame, label.box);
    const t0 = performance.now();
    for (let k = 0; k < repeat; k++) clothingColours(frame, label.box);
    per.push((performance.now() - t0) / repeat);
  }
  return {
    fixture: dir, crops: crops.length, upper: score(rows, 'upper'), lower: score(rows, 'lower'),
    both: { labelled: both, correct: bothRight, accuracy: r3(bothRight / Math.max(1, both)) },
    msPerPerson: { mean: r3(per.reduce((a, b) => a + b, 0) / Math.max(1, per.length)), max: r3(Math.max(...per)), repeat },
    confidentThreshold: CONFIDENT, host: hostInfo(),
    perCrop: rows.map(({ label, got }) => ({ file: label.file, upper: truth(label, 'upper'), lower: truth(label, 'lower'), got })),
  };
}

const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(1)}%`);

export function clothingTable(r: ClothingBenchResult, markdown = false): string {
  const row = (name: string, s: PartScore): string[] => [name, String(s.labelled), pct(s.accuracy), pct(s.abstentionRate), pct(s.answeredAccuracy), `${pct(s.confidentAccuracy)} (${s.confident})`, `${pct(s.majorityBaseline)} (${s.majorityLabel})`];
  const t = table(['part', 'labelled', 'accuracy', 'abstained', 'acc. answered', `acc. conf>=${CONFIDENT} (n)`, 'majority baseline'], [
    row('upper', r.upper), row('lower', r.lower), ['both', String(r.both.labelled), pct(r.both.accuracy), '', '', '', ''],
  ], markdown);
  const conf = (s: PartScore): string => Object.entries(s.confusions).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return `${t}\nconfusions upper: ${conf(r.upper)}\nconfusions lower: ${conf(r.lower)}\n` +
    `CPU per person: ${r.msPerPerson.mean} ms mean, ${r.msPerPerson.max} ms slowest crop (${r.crops} crops, ${r.host.cpuModel})\n`;
}

export async function benchClothing(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { fixture: { type: 'string' }, repeat: { type: 'string', default: '200' }, json: { type: 'boolean', default: false }, out: { type: 'string' } },
  });
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new RangeError('--repeat must be a positive integer');
  const dir = resolve(values.fixture ?? join(REPO_ROOT, 'test', 'fixtures', 'clothing'));
  const r = await runClothingBench(dir, repeat);
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
