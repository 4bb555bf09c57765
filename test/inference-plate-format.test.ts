/**
 * Plate text without models: the CTC decoder constrained by plate position (a province first, a letter second,
 * never I or O), the choice between the standard and new-energy formats, raw text kept when it is no plate, and
 * the vote across a track's readings, whose confidence falls when the readings disagree.
 */
import test from 'ava';
import { canonicalPlate, plateFormat } from '../common/plates.js';
import { PlateAlphabet, constrainedDecode, greedyDecode, readPlateLine, readTwoRowPlate, votePlates, type CtcOutput, type PlateReading } from '../inference/plate-text.js';

// A small dictionary with look-alikes: 鱼 (not a province) next to 鲁, O and I next to 0 and 1.
const DICT = ['鲁', '鱼', '京', '粤', 'A', 'B', 'D', 'O', 'I', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'H', 'E', 'L', '·', '警'];
const alphabet = new PlateAlphabet(DICT);
const cls = (ch: string): number => alphabet.classes.indexOf(ch);

/**
 * A recogniser output: each step is a list of [character, probability] (the rest of the mass goes to the blank);
 * a blank step separates every character, as a recogniser emits them.
 */
function ctc(steps: readonly (readonly [string, number][])[]): CtcOutput {
  const C = alphabet.classes.length;
  const rows: Float32Array[] = [];
  const blank = (): Float32Array => { const r = new Float32Array(C); r[0] = 1; return r; };
  rows.push(blank());
  for (const s of steps) {
    const r = new Float32Array(C);
    let mass = 0;
    for (const [ch, p] of s) { r[cls(ch)] = p; mass += p; }
    r[0] = Math.max(0, 1 - mass);
    rows.push(r, blank());
  }
  const probs = new Float32Array(rows.length * C);
  rows.forEach((r, i) => probs.set(r, i * C));
  return { probs, steps: rows.length, classes: C };
}
const sure = (text: string): [string, number][][] => [...text].map((c) => [[c, 0.98]]);

test('plates - the free decoder reads the argmax, the constrained one fixes the province from the distribution', (t) => {
  const out = ctc([[['鱼', 0.55], ['鲁', 0.4]], ...sure('B12345')]);
  t.is(greedyDecode(out, alphabet).text, '鱼B12345');
  const fixed = constrainedDecode(out, alphabet, alphabet.grammar('standard'));
  t.is(fixed?.text, '鲁B12345');
  t.true(Math.abs(fixed!.chars[0]!.p - 0.4) < 1e-6);
  const r = readPlateLine(out, alphabet);
  t.is(r.plate, '鲁B12345');
  t.is(r.format, 'standard');
});

test('plates - a digit read as O or I is a 0 or 1, and a 0 in the letter position is the letter the model also saw', (t) => {
  const out = ctc([...sure('京'), [['0', 0.6], ['D', 0.35]], ...sure('1'), [['O', 0.9]], [['I', 0.9]], ...sure('23')]);
  const r = readPlateLine(out, alphabet);
  t.is(r.plate, '京D10123');
  t.false(/[IO]/.test(r.plate!));
});

test('plates - separators are gaps and repeated characters survive', (t) => {
  const out = ctc([...sure('鲁B'), [['·', 0.95]], ...sure('11223')]);
  t.is(readPlateLine(out, alphabet).plate, '鲁B11223');
});

test('plates - eight characters read as new-energy, seven as standard; the colour hint breaks near-ties only', (t) => {
  const ne = ctc(sure('粤BD12345'));
  const r = readPlateLine(ne, alphabet, 'standard');
  t.is(r.plate, '粤BD12345');
  t.is(r.format, 'new-energy');
  t.is(readPlateLine(ctc(sure('粤B12345')), alphabet, 'new-energy').format, 'standard');
});

test('plates - text that is no plate is kept raw and canonical', (t) => {
  const r = readPlateLine(ctc(sure('HELLO')), alphabet);
  t.is(r.plate, null);
  t.is(r.raw, 'HELL0');
  t.true(r.confidence > 0.9);
});

test('plates - two rows: the province and letter on top, five characters below', (t) => {
  const r = readTwoRowPlate(ctc([[['鱼', 0.5], ['鲁', 0.45]], ...sure('A')]), ctc(sure('1234警')), alphabet);
  t.is(r.plate, '鲁A1234警');
  t.is(r.rows, 2);
  t.is(plateFormat(r.plate!), 'standard');
});

test('plates - canonical form: separators dropped, upper case, no I or O', (t) => {
  t.is(canonicalPlate('鲁b·12o45'), '鲁B12045');
  t.is(plateFormat('鲁B12345'), 'standard');
  t.is(plateFormat('鲁BD12345'), 'new-energy');
  t.is(plateFormat('鱼B12345'), null);
});

const reading = (plate: string, p: number, overrides: Record<number, { ch: string; p: number; alt?: string }> = {}): PlateReading => {
  const chars = [...plate].map((ch, i) => {
    const o = overrides[i];
    const c = o ? o.ch : ch;
    const pc = o ? o.p : p;
    return { ch: c, p: pc, alts: o?.alt ? [{ ch: c, p: pc }, { ch: o.alt, p: 1 - pc }] : [{ ch: c, p: pc }] };
  });
  const text = chars.map((c) => c.ch).join('');
  return { plate: text, format: plateFormat(text), raw: text, chars, confidence: chars.reduce((s, c) => s * c.p, 1) ** (1 / chars.length), rows: 1 };
};

test('plates - the vote fixes one crop\'s misread character and reports agreement in its confidence', (t) => {
  const agree = votePlates([reading('鲁B12345', 0.95), reading('鲁B12345', 0.9), reading('鲁B12345', 0.93)]);
  t.is(agree?.plate, '鲁B12345');
  t.is(agree?.agreeing, 3);
  const split = votePlates([reading('鲁B12345', 0.95), reading('鲁B12345', 0.9, { 4: { ch: '8', p: 0.5, alt: '3' } }), reading('鲁B12345', 0.93)]);
  t.is(split?.plate, '鲁B12345');
  t.is(split?.agreeing, 2);
  t.true(split!.confidence < agree!.confidence, `${split!.confidence} < ${agree!.confidence}`);
});

test('plates - the vote is taken among readings of one length; the others count against its confidence', (t) => {
  const v = votePlates([reading('粤BD12345', 0.9), reading('粤BD12345', 0.85), reading('粤B12345', 0.6)]);
  t.is(v?.plate, '粤BD12345');
  t.is(v?.format, 'new-energy');
  const clean = votePlates([reading('粤BD12345', 0.9), reading('粤BD12345', 0.85)]);
  t.true(v!.confidence < clean!.confidence);
});

test('plates - without a fitting reading the most confident raw text is kept', (t) => {
  const raw: PlateReading = { plate: null, format: null, raw: 'HELL0', chars: [], confidence: 0.8, rows: 1 };
  const v = votePlates([raw, { ...raw, confidence: 0.7 }]);
  t.is(v?.plate, null);
  t.is(v?.raw, 'HELL0');
  t.is(votePlates([]), null);
});
