/**
 * Plate text, free of images and models: CTC decoding of the recogniser's per-timestep distribution, constrained
 * by what each position of a mainland plate may hold (common/plates.ts), and the vote across the readings of one
 * track. The constrained decoder is a Viterbi search over the plate grammar (province, letter, then 5 or 6
 * letters-or-digits) on the CTC lattice: it picks the best path that *is* a plate, so a province glyph the model
 * half-confused with another CJK character, or an O read for a 0, is fixed from the distribution instead of the
 * argmax. It is compared with the unconstrained best path; when forcing a plate costs too much probability the
 * text is not taken for a plate and is kept raw.
 */
import { PLATE_DIGITS, PLATE_LETTERS, PLATE_PROVINCES, PLATE_SUFFIXES, canonicalPlate, plateFormat, type PlateFormat } from '../common/plates.js';

/** The recogniser's classes: index 0 is the CTC blank, then the dictionary's lines, then a space. */
export class PlateAlphabet {
  readonly classes: readonly string[];
  /** Allowed (class, emitted character) pairs per kind of position. */
  readonly province: readonly Allowed[];
  readonly letter: readonly Allowed[];
  readonly alnum: readonly Allowed[];
  readonly last: readonly Allowed[];
  /** Classes that count as a gap between characters: the blank, spaces and the separators plates carry. */
  readonly gap: readonly number[];

  constructor(dictionary: readonly string[]) {
    this.classes = ['blank', ...dictionary, ' '];
    const index = new Map<string, number>();
    this.classes.forEach((c, i) => { if (i > 0 && !index.has(c)) index.set(c, i); });
    // Plates have neither I nor O: where the model sees one it is a 1 or a 0 (canonicalPlate's rule).
    const alias: Record<string, string> = { O: '0', I: '1', o: '0' };
    const pairs = (chars: string): Allowed[] => {
      const out: Allowed[] = [];
      for (const ch of chars) { const i = index.get(ch); if (i !== undefined) out.push({ cls: i, ch }); }
      for (const [from, to] of Object.entries(alias)) {
        const i = index.get(from);
        if (i !== undefined && chars.includes(to)) out.push({ cls: i, ch: to });
      }
      return out;
    };
    this.province = pairs(PLATE_PROVINCES);
    this.letter = pairs(PLATE_LETTERS);
    this.alnum = pairs(PLATE_LETTERS + PLATE_DIGITS);
    this.last = pairs(PLATE_LETTERS + PLATE_DIGITS + PLATE_SUFFIXES);
    this.gap = [0, ...[' ', '·', '•', '.', '-', '_', '—', '．', '、'].map((c) => index.get(c)).filter((i): i is number => i !== undefined)];
  }

  /** The dictionary file's text (one character a line) -> alphabet. */
  static fromKeys(text: string): PlateAlphabet {
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return new PlateAlphabet(lines.map((l) => l.replace(/\r$/, '')));
  }

  /** The grammar of a plate row: which characters each position may hold. */
  grammar(kind: RowKind): readonly (readonly Allowed[])[] {
    switch (kind) {
      case 'standard': return [this.province, this.letter, this.alnum, this.alnum, this.alnum, this.alnum, this.last];
      case 'new-energy': return [this.province, this.letter, this.alnum, this.alnum, this.alnum, this.alnum, this.alnum, this.alnum];
      case 'top': return [this.province, this.letter];
      case 'bottom': return [this.alnum, this.alnum, this.alnum, this.alnum, this.last];
    }
  }
}

export interface Allowed { readonly cls: number; readonly ch: string }
export type RowKind = PlateFormat | 'top' | 'bottom';

/** The recogniser's output for one text line: T timesteps of C class probabilities, row-major. */
export interface CtcOutput { readonly probs: Float32Array; readonly steps: number; readonly classes: number }

/** One character of a reading: what was chosen, its probability, and the runners-up at that position. */
export interface CharReading {
  readonly ch: string;
  readonly p: number;
  /** The position's distribution over the allowed characters (best first, at most ALTERNATIVES). */
  readonly alts: readonly { readonly ch: string; readonly p: number }[];
}

export interface LineReading {
  readonly text: string;
  readonly chars: readonly CharReading[];
  /** Log-probability of the decoded path. */
  readonly logp: number;
}

/** Alternatives kept per position for the vote. */
export const ALTERNATIVES = 3;
const FLOOR = 1e-9;

/** Best path without constraints: argmax per timestep, repeats merged, gaps dropped. */
export function greedyDecode(out: CtcOutput, alphabet: PlateAlphabet): LineReading {
  const { probs, steps, classes } = out;
  const gap = new Set(alphabet.gap);
  const chars: CharReading[] = [];
  let logp = 0;
  let prev = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    let bp = -1;
    const row = t * classes;
    for (let c = 0; c < classes; c++) { const p = probs[row + c]!; if (p > bp) { bp = p; best = c; } }
    logp += Math.log(Math.max(bp, FLOOR));
    if (!gap.has(best)) {
      const ch = alphabet.classes[best] ?? '';
      if (best !== prev) chars.push({ ch, p: bp, alts: [{ ch, p: bp }] });
      else {
        const last = chars[chars.length - 1]!;
        if (bp > last.p) chars[chars.length - 1] = { ch, p: bp, alts: [{ ch, p: bp }] };
      }
    }
    prev = best;
  }
  return { text: chars.map((c) => c.ch).join(''), chars, logp };
}

/**
 * Best CTC path whose text fits `grammar` (one allowed set per character). Viterbi over states "k characters
 * emitted, in a gap" and "emitting character k as class c"; a class repeated across two positions needs a gap
 * between, as CTC requires. Null when the line has fewer timesteps than the grammar needs.
 */
export function constrainedDecode(out: CtcOutput, alphabet: PlateAlphabet, grammar: readonly (readonly Allowed[])[]): LineReading | null {
  const { probs, steps: T, classes: C } = out;
  const L = grammar.length;
  if (T < L) return null;
  const lg = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let g = 0;
    for (const c of alphabet.gap) g = Math.max(g, probs[t * C + c]!);
    lg[t] = Math.log(Math.max(g, FLOOR));
  }
  const lp = (t: number, c: number): number => Math.log(Math.max(probs[t * C + c]!, FLOOR));
  // Scores at t: gap[k] for k = 0..L, emit[k][j] for position k, allowed j. Back-pointers per t.
  const NEG = -Infinity;
  let gapS = new Float64Array(L + 1).fill(NEG);
  let emitS = grammar.map((a) => new Float64Array(a.length).fill(NEG));
  // Back-pointers: for gap states, 0 = came from gap, 1 + j = came from emit[k-1][j]. For emit states:
  // -1 = continued, -2 = from gap[k], j >= 0 = from emit[k-1][j].
  const gapBack: Int32Array[] = [];
  const emitBack: Int32Array[][] = [];
  gapS[0] = lg[0]!;
  grammar[0]!.forEach((a, j) => { emitS[0]![j] = lp(0, a.cls); });
  gapBack.push(new Int32Array(L + 1));
  emitBack.push(grammar.map((a) => new Int32Array(a.length).fill(-2)));
  for (let t = 1; t < T; t++) {
    const ng = new Float64Array(L + 1).fill(NEG);
    const ne = grammar.map((a) => new Float64Array(a.length).fill(NEG));
    const gb = new Int32Array(L + 1);
    const eb = grammar.map((a) => new Int32Array(a.length));
    // Best and second-best of each position's emit states (a direct hop must change class).
    const top = emitS.map((s) => {
      let b1 = -1, b2 = -1;
      for (let j = 0; j < s.length; j++) {
        if (b1 < 0 || s[j]! > s[b1]!) { b2 = b1; b1 = j; } else if (b2 < 0 || s[j]! > s[b2]!) b2 = j;
      }
      return { b1, b2 };
    });
    for (let k = 0; k <= L; k++) {
      let best = gapS[k]!, back = 0;
      if (k > 0) {
        const b1 = top[k - 1]!.b1;
        if (b1 >= 0 && emitS[k - 1]![b1]! > best) { best = emitS[k - 1]![b1]!; back = 1 + b1; }
      }
      ng[k] = best + lg[t]!;
      gb[k] = back;
    }
    for (let k = 0; k < L; k++) {
      const allowed = grammar[k]!;
      for (let j = 0; j < allowed.length; j++) {
        const cls = allowed[j]!.cls;
        let best = emitS[k]![j]!, back = -1;
        if (gapS[k]! > best) { best = gapS[k]!; back = -2; }
        if (k > 0) {
          const { b1, b2 } = top[k - 1]!;
          const prevAllowed = grammar[k - 1]!;
          const pick = b1 >= 0 && prevAllowed[b1]!.cls !== cls ? b1 : b2;
          if (pick >= 0 && prevAllowed[pick]!.cls !== cls && emitS[k - 1]![pick]! > best) { best = emitS[k - 1]![pick]!; back = pick; }
        }
        ne[k]![j] = best + lp(t, cls);
        eb[k]![j] = back;
      }
    }
    gapS = ng;
    emitS = ne;
    gapBack.push(gb);
    emitBack.push(eb);
  }
  // End in the final gap or while emitting the last character.
  let endScore = gapS[L]!;
  let state: { gap: true; k: number } | { gap: false; k: number; j: number } = { gap: true, k: L };
  const lastS = emitS[L - 1]!;
  for (let j = 0; j < lastS.length; j++) if (lastS[j]! > endScore) { endScore = lastS[j]!; state = { gap: false, k: L - 1, j }; }
  if (!Number.isFinite(endScore)) return null;
  // Walk back, collecting the timesteps each position was emitted at.
  const spans: { j: number; from: number; to: number }[] = new Array(L);
  for (let t = T - 1; t >= 0; t--) {
    if (state.gap) {
      const b = gapBack[t]![state.k]!;
      if (t === 0) break;
      state = b === 0 ? { gap: true, k: state.k } : { gap: false, k: state.k - 1, j: b - 1 };
    } else {
      const { k, j } = state;
      const span = spans[k];
      spans[k] = span ? { j, from: t, to: span.to } : { j, from: t, to: t };
      if (t === 0) break;
      const b = emitBack[t]![k]![j]!;
      state = b === -1 ? { gap: false, k, j } : b === -2 ? { gap: true, k } : { gap: false, k: k - 1, j: b };
    }
  }
  const chars: CharReading[] = [];
  for (let k = 0; k < L; k++) {
    const span = spans[k];
    if (!span) return null;
    chars.push(positionReading(out, grammar[k]!, span.j, span.from, span.to));
  }
  return { text: chars.map((c) => c.ch).join(''), chars, logp: endScore };
}

/** The chosen character's probability and the runners-up: each allowed character's peak over the span. */
function positionReading(out: CtcOutput, allowed: readonly Allowed[], chosen: number, from: number, to: number): CharReading {
  const byChar = new Map<string, number>();
  for (const a of allowed) {
    let p = 0;
    for (let t = from; t <= to; t++) p = Math.max(p, out.probs[t * out.classes + a.cls]!);
    byChar.set(a.ch, Math.max(byChar.get(a.ch) ?? 0, p));
  }
  const ch = allowed[chosen]!.ch;
  const alts = [...byChar].map(([c, p]) => ({ ch: c, p })).sort((a, b) => b.p - a.p).slice(0, ALTERNATIVES);
  return { ch, p: byChar.get(ch) ?? 0, alts };
}

/** One crop's reading of a plate. */
export interface PlateReading {
  /** Canonical plate when the reading fits a mainland format, else null. */
  readonly plate: string | null;
  readonly format: PlateFormat | null;
  /** The unconstrained reading, canonicalised: what is reported as plateRaw when plate is null. */
  readonly raw: string;
  readonly chars: readonly CharReading[];
  /** 0..1: the geometric mean of the characters' probabilities. */
  readonly confidence: number;
  readonly rows: 1 | 2;
}

/**
 * Log-probability (nats per timestep of the line) that forcing the text into a plate may cost over the free
 * best path before the line is taken for something else; tuned on rendered plates against bench/plates.ts's
 * wrong-but-confident rate.
 */
export const MAX_CONSTRAINT_COST = 0.12;

export function geometricMean(ps: readonly number[]): number {
  if (ps.length === 0) return 0;
  return Math.exp(ps.reduce((s, p) => s + Math.log(Math.max(p, FLOOR)), 0) / ps.length);
}

/**
 * A one-row plate from its line: the better of the standard and the new-energy grammars (a hint from the plate's
 * colour breaks near-ties: green plates are new-energy), or the raw text when neither fits without too much cost.
 */
export function readPlateLine(out: CtcOutput, alphabet: PlateAlphabet, hint: PlateFormat | null = null): PlateReading {
  const free = greedyDecode(out, alphabet);
  const raw = canonicalPlate(free.text);
  const prior = (f: PlateFormat): number => (hint === f ? 2 : 0);
  let best: { r: LineReading; f: PlateFormat } | null = null;
  for (const f of ['standard', 'new-energy'] as const) {
    const r = constrainedDecode(out, alphabet, alphabet.grammar(f));
    if (r && (!best || r.logp + prior(f) > best.r.logp + prior(best.f))) best = { r, f };
  }
  if (best && (free.logp - best.r.logp) / out.steps <= MAX_CONSTRAINT_COST) {
    return { plate: best.r.text, format: plateFormat(best.r.text), raw, chars: best.r.chars, confidence: geometricMean(best.r.chars.map((c) => c.p)), rows: 1 };
  }
  return { plate: null, format: null, raw, chars: free.chars, confidence: geometricMean(free.chars.map((c) => c.p)), rows: 1 };
}

/** A two-row plate (province and letter on top, five characters below) from its two lines. */
export function readTwoRowPlate(top: CtcOutput, bottom: CtcOutput, alphabet: PlateAlphabet): PlateReading {
  const freeTop = greedyDecode(top, alphabet);
  const freeBottom = greedyDecode(bottom, alphabet);
  const raw = canonicalPlate(freeTop.text + freeBottom.text);
  const t = constrainedDecode(top, alphabet, alphabet.grammar('top'));
  const b = constrainedDecode(bottom, alphabet, alphabet.grammar('bottom'));
  const steps = top.steps + bottom.steps;
  if (t && b && (freeTop.logp + freeBottom.logp - t.logp - b.logp) / steps <= MAX_CONSTRAINT_COST) {
    const chars = [...t.chars, ...b.chars];
    const text = t.text + b.text;
    return { plate: text, format: plateFormat(text), raw, chars, confidence: geometricMean(chars.map((c) => c.p)), rows: 2 };
  }
  const chars = [...freeTop.chars, ...freeBottom.chars];
  return { plate: null, format: null, raw, chars, confidence: geometricMean(chars.map((c) => c.p)), rows: 2 };
}

/** The outcome of voting a track's readings. */
export interface PlateVote {
  readonly plate: string | null;
  readonly raw: string | null;
  readonly format: PlateFormat | null;
  /** 0..1: the weakest position's support, the winning character's weight over all the readings' weight. */
  readonly confidence: number;
  readonly rows: 1 | 2;
  /** Readings that agreed with the result exactly. */
  readonly agreeing: number;
  readonly readings: number;
  /** The reading the result is closest to (its crop is the one to show). */
  readonly best: number;
}

/**
 * Votes the readings of one track. Readings that fit a format are grouped by length (7: standard, 8:
 * new-energy); the group with most confidence wins, and each position takes the character with most weight,
 * every reading spreading its confidence over its alternatives there. The result's confidence is the weakest
 * position's winning weight over the weight of *all* readings (readings of another length count against it), so
 * it is high only when the crops agree and each read clearly. Without a reading that fits, the most confident
 * raw text is kept (plateRaw) with its own confidence scaled by the share of readings that agree with it.
 */
export function votePlates(readings: readonly PlateReading[]): PlateVote | null {
  if (readings.length === 0) return null;
  const fit = readings.map((r, i) => ({ r, i })).filter((x) => x.r.plate !== null);
  if (fit.length === 0) {
    const withText = readings.map((r, i) => ({ r, i })).filter((x) => x.r.raw.length > 0);
    if (withText.length === 0) return null;
    const top = withText.reduce((a, b) => (b.r.confidence > a.r.confidence ? b : a));
    const agreeing = withText.filter((x) => x.r.raw === top.r.raw).length;
    return { plate: null, raw: top.r.raw, format: null, confidence: round3(top.r.confidence * (agreeing / readings.length)), rows: top.r.rows, agreeing, readings: readings.length, best: top.i };
  }
  const groups = new Map<number, { r: PlateReading; i: number }[]>();
  for (const x of fit) {
    const n = x.r.chars.length;
    const g = groups.get(n) ?? [];
    g.push(x);
    groups.set(n, g);
  }
  const weight = (g: readonly { r: PlateReading }[]): number => g.reduce((s, x) => s + x.r.confidence, 0);
  const group = [...groups.values()].reduce((a, b) => (weight(b) > weight(a) ? b : a));
  // All readings weigh in the denominator: ones that fit no format, or another length, are disagreement.
  const total = readings.reduce((s, r) => s + Math.max(r.confidence, 0.05), 0);
  const len = group[0]!.r.chars.length;
  const out: string[] = [];
  let minShare = 1;
  for (let k = 0; k < len; k++) {
    const w = new Map<string, number>();
    for (const { r } of group) {
      const c = r.chars[k]!;
      const mass = c.alts.reduce((s, a) => s + a.p, 0) || 1;
      for (const a of c.alts) w.set(a.ch, (w.get(a.ch) ?? 0) + (r.confidence * a.p) / mass);
    }
    const [ch, wt] = [...w].reduce((a, b) => (b[1] > a[1] ? b : a));
    out.push(ch);
    minShare = Math.min(minShare, wt / total);
  }
  const plate = out.join('');
  const agreeing = group.filter((x) => x.r.plate === plate).length;
  const rows = group.filter((x) => x.r.rows === 2).length * 2 > group.length ? 2 : 1;
  // The crop shown is the most confident reading that agrees, else the most confident of the group.
  const pool = group.filter((x) => x.r.plate === plate);
  const best = (pool.length > 0 ? pool : group).reduce((a, b) => (b.r.confidence > a.r.confidence ? b : a)).i;
  return { plate, raw: null, format: plateFormat(plate), confidence: round3(Math.min(1, minShare)), rows, agreeing, readings: readings.length, best };
}

function round3(v: number): number { return Math.round(v * 1000) / 1000; }
