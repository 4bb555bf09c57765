/**
 * Shared formatting for the benchmarks: percentiles, a console table, a hand-written SVG line chart (two y
 * axes: throughput on the left, latency on the right) and the writer that puts JSON, Markdown and SVG side by
 * side in one directory. No charting library: the SVG is small, diffable and renders on GitHub.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

export interface LatencyStats {
  readonly n: number;
  readonly p50_ms: number | null;
  readonly p99_ms: number | null;
  readonly mean_ms: number | null;
  readonly max_ms: number | null;
}

/** Nearest-rank percentile of an unsorted sample; null for an empty one. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function latencyStats(samples: readonly number[]): LatencyStats {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : null;
  return { n: s.length, p50_ms: round(percentile(s, 50)), p99_ms: round(percentile(s, 99)), mean_ms: round(mean), max_ms: round(s.at(-1) ?? null) };
}

export function round(v: number | null, digits = 1): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** `12.3` or `-` for a missing value, so tables never print `null`. */
export function fmt(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

/** The machine a result was measured on; every report carries it, since numbers mean nothing without it. */
export interface HostInfo {
  readonly cpus: number; readonly cpuModel: string; readonly memGiB: number; readonly node: string; readonly platform: string;
  /** 1- and 5-minute load averages when the report was made: other work on the machine skews every figure. */
  readonly loadAvg: readonly [number, number];
}
export function hostInfo(): HostInfo {
  const c = cpus();
  const [l1, l5] = loadavg();
  return {
    cpus: c.length, cpuModel: c[0]?.model.trim() ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version,
    platform: `${process.platform}-${process.arch}`, loadAvg: [round(l1 ?? 0, 2) ?? 0, round(l5 ?? 0, 2) ?? 0],
  };
}

/** The host line every Markdown report starts with. */
export function hostLine(at: string, h: HostInfo): string {
  // Reports written before the load average was recorded have none.
  const la = (h as Partial<HostInfo>).loadAvg;
  const load = la ? `; load average ${la[0]} (1 min), ${la[1]} (5 min) at the end of the run` : '';
  return `Measured ${at} on ${h.cpus} CPU(s) (${h.cpuModel}), ${h.memGiB} GiB, Node ${h.node}, ${h.platform}${load}.`;
}

/** Right-aligned numbers, left-aligned first column; `markdown` gives a pipe table instead of spaces. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], markdown = false): string {
  if (markdown) {
    const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
    return [line(headers), line(headers.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number | null])[];
  /** Throughput on the left axis, latency on the right. */
  readonly axis: 'left' | 'right';
  readonly dashed?: boolean;
}

export interface ChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly leftLabel: string;
  readonly rightLabel: string;
  readonly series: readonly Series[];
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'] as const;

/** A "nice" upper bound (1, 2, 5 x 10^k) so axis ticks land on round numbers. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function lineChart(spec: ChartSpec): string {
  const W = 720, H = 400, L = 70, R = 70, T = 40, B = 90;
  const pw = W - L - R, ph = H - T - B;
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  // The x range is the data's own (stream counts start at 1, seconds at 1); a single point gets room either side.
  let xMin = Math.min(...xs), xMax = Math.max(...xs);
  if (!Number.isFinite(xMin)) { xMin = 0; xMax = 1; }
  if (xMin === xMax) { xMin -= 1; xMax += 1; }
  const yMax = (axis: 'left' | 'right'): number =>
    niceMax(Math.max(0, ...spec.series.filter((s) => s.axis === axis).flatMap((s) => s.points.map((p) => p[1] ?? 0))));
  const max = { left: yMax('left'), right: yMax('right') };
  const px = (x: number): number => L + ((x - xMin) / (xMax - xMin || 1)) * pw;
  const py = (y: number, axis: 'left' | 'right'): number => T + ph - (y / max[axis]) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(spec.title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const y = T + (ph * i) / 5;
    out.push(`<line x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end">${fmtTick(max.left * (1 - i / 5))}</text>`);
    out.push(`<text x="${L + pw + 6}" y="${y + 4}">${fmtTick(max.right * (1 - i / 5))}</text>`);
  }
  const xTicks = [...new Set(xs)].sort((a, b) => a - b);
  const step = Math.max(1, Math.ceil(xTicks.length / 12));
  xTicks.filter((_, i) => i % step === 0).forEach((x) => {
    out.push(`<line x1="${px(x)}" y1="${T + ph}" x2="${px(x)}" y2="${T + ph + 4}" stroke="#333"/>`);
    out.push(`<text x="${px(x)}" y="${T + ph + 17}" text-anchor="middle">${fmtTick(x)}</text>`);
  });
  out.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${L + pw / 2}" y="${T + ph + 36}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${T + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.leftLabel)}</text>`);
  out.push(`<text transform="translate(${W - 14} ${T + ph / 2}) rotate(90)" text-anchor="middle">${esc(spec.rightLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const pts = s.points.filter((p): p is readonly [number, number] => p[1] !== null);
    if (pts.length > 0) {
      const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1], s.axis).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      if (pts.length <= 24) for (const p of pts) out.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1], s.axis).toFixed(1)}" r="3" fill="${colour}"/>`);
    }
    // Legend below the plot, two per row.
    const lx = L + (i % 2) * (pw / 2), ly = T + ph + 56 + Math.floor(i / 2) * 16;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}">${esc(s.name)} (${s.axis === 'left' ? 'left' : 'right'} axis)</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function fmtTick(v: number): string {
  // Ticks are fractions of a nice maximum: float noise (4.000000001) must still print as 4.
  return Math.abs(v) >= 100 || Math.abs(v - Math.round(v)) < 1e-6 ? String(Math.round(v)) : v.toFixed(1);
}

export interface ReportFiles { readonly json: string; readonly markdown: string; readonly svg: string }

/** Writes `<name>.json`, `<name>.md` and `<name>.svg` under `dir` (created when missing); returns their paths. */
export async function writeReport(dir: string, name: string, json: unknown, markdown: string, svg: string): Promise<ReportFiles> {
  const d = resolve(dir);
  await mkdir(d, { recursive: true });
  const files = { json: join(d, `${name}.json`), markdown: join(d, `${name}.md`), svg: join(d, `${name}.svg`) };
  await writeFile(files.json, JSON.stringify(json, null, 2) + '\n');
  await writeFile(files.markdown, markdown);
  await writeFile(files.svg, svg);
  return files;
}

/** A one-line progress bar on stderr; on a non-terminal it prints a plain line every `everyMs` instead of `\r`. */
export class Progress {
  readonly #tty = process.stderr.isTTY === true;
  #lastPlain = 0;
  #shown = false;
  constructor(readonly label: string, readonly everyMs = 10_000) {}

  update(elapsedS: number, totalS: number, detail: string): void {
    const width = 24;
    const done = Math.max(0, Math.min(width, Math.round((elapsedS / totalS) * width)));
    const line = `[${this.label}] [${'#'.repeat(done)}${'.'.repeat(width - done)}] ${elapsedS.toFixed(0)}/${totalS} s  ${detail}`;
    if (this.#tty) {
      process.stderr.write(`\r${line}\x1b[K`);
      this.#shown = true;
    } else if (Date.now() - this.#lastPlain >= this.everyMs) {
      this.#lastPlain = Date.now();
      process.stderr.write(line + '\n');
    }
  }

  done(): void {
    if (this.#shown) process.stderr.write('\n');
    this.#shown = false;
  }
}

/** Prints a report (JSON or the console table) and, with `--out DIR`, writes its JSON, Markdown and SVG there. */
export async function emitReport(name: string, report: unknown, o: { json: boolean; out: unknown; text: string; markdown: string; svg: string }): Promise<void> {
  process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : o.text + '\n');
  if (typeof o.out === 'string') {
    const files = await writeReport(o.out, name, report, o.markdown, o.svg);
    process.stderr.write(`wrote ${files.json}, ${files.markdown}, ${files.svg}\n`);
  }
}
