import { TrackingError } from '../common/errors.js';

/** One MOTChallenge 2D row. `id` is -1 for detections; `conf` 0 marks a ground-truth row to ignore. */
export interface MotRow {
  readonly frame: number;
  readonly id: number;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly conf: number;
}

// frame, id, box (4) and conf are needed; MOT15 adds three world coordinates, MOT16+ ground truth adds class and
// visibility instead. More than ten fields is not MOTChallenge.
const MIN_FIELDS = 7;
const MAX_FIELDS = 10;

function bad(line: number, source: string, reason: string, text: string): TrackingError {
  return new TrackingError('TRACKING_BAD_MOT_LINE', `${source}:${line}: ${reason}`, {
    detail: { line, source, text: text.length > 200 ? `${text.slice(0, 200)}...` : text },
  });
}

/** Parse MOTChallenge text; blank lines are skipped, anything malformed throws naming the 1-based line. */
export function parseMot(text: string, source = 'input'): MotRow[] {
  const rows: MotRow[] = [];
  const lines = text.split(/\r?\n/);
  for (let k = 0; k < lines.length; k++) {
    const raw = lines[k]!;
    const line = raw.trim();
    if (line === '') continue;
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length < MIN_FIELDS || fields.length > MAX_FIELDS) {
      throw bad(k + 1, source, `expected ${MIN_FIELDS} to ${MAX_FIELDS} comma-separated fields, got ${fields.length}`, raw);
    }
    const values: number[] = [];
    for (let f = 0; f < MIN_FIELDS; f++) {
      const s = fields[f]!;
      const v = s === '' ? NaN : Number(s);
      if (!Number.isFinite(v)) throw bad(k + 1, source, `field ${f + 1} is not a number: "${s}"`, raw);
      values.push(v);
    }
    const [frame, id, x, y, w, h, conf] = values as [number, number, number, number, number, number, number];
    if (!Number.isInteger(frame) || frame < 0) throw bad(k + 1, source, `frame must be a non-negative integer, got ${frame}`, raw);
    if (!Number.isInteger(id)) throw bad(k + 1, source, `id must be an integer, got ${id}`, raw);
    if (w < 0 || h < 0) throw bad(k + 1, source, `negative box size ${w}x${h}`, raw);
    rows.push({ frame, id, x, y, w, h, conf });
  }
  return rows;
}

function num(v: number): string {
  // Two decimals are below a pixel's worth of precision and keep files diffable.
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
}

/** MOTChallenge output: `frame,id,left,top,width,height,conf,-1,-1,-1`, one line per row, ending in a newline. */
export function formatMot(rows: readonly MotRow[]): string {
  let out = '';
  for (const r of rows) out += `${r.frame},${r.id},${num(r.x)},${num(r.y)},${num(r.w)},${num(r.h)},${num(r.conf)},-1,-1,-1\n`;
  return out;
}
