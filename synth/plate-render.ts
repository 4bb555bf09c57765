/**
 * Renders a mainland plate to RGBA pixels: an SVG (background, border, rivets, separator dot, one <text> per
 * character fitted into its box) rasterised by sharp. Colours follow the issued plates; the variation knobs
 * (font, stroke weight, spacing, border, rivets) are what differs between plate makers, wear and cameras.
 */
import sharp from 'sharp';
import { plateFormat, PLATE_COLOURS, type PlateColour } from '../common/plates.js';
import { PLATE_FONTS, requirePlateFonts, type PlateFont } from './fonts.js';
import { escapeXml, glyphBox, MEASURE_SIZE } from './glyph-metrics.js';
import { plateLayout, type PlateRows } from './plate-layout.js';
import type { Prng } from './prng.js';

/** Background and text colours per plate colour (sRGB), as issued. */
export const PLATE_PAINT = {
  blue: { bg: ['#0b47ad', '#0b47ad'], fg: '#f5f7fa' },
  yellow: { bg: ['#f3b80c', '#f3b80c'], fg: '#141414' },
  // New-energy plates fade from near white at the top to green at the bottom.
  green: { bg: ['#eefaf0', '#2fb35c'], fg: '#141414' },
  white: { bg: ['#f4f4f1', '#f4f4f1'], fg: '#141414' },
  black: { bg: ['#151515', '#151515'], fg: '#f2f2f2' },
} as const satisfies Record<PlateColour, { bg: readonly [string, string]; fg: string }>;
/** The red of the police 警. */
export const POLICE_RED = '#d3161b';

export interface PlateStyle {
  readonly font: PlateFont;
  /** Extra stroke around each glyph in mm (0 = the font's own weight). */
  readonly weight: number;
  /** Gap scale, 0.85..1.15. */
  readonly spacing: number;
  readonly border: boolean;
  readonly rivets: boolean;
}
export const DEFAULT_PLATE_STYLE: PlateStyle = { font: 'Noto Sans CJK SC', weight: 0.6, spacing: 1, border: true, rivets: true };

export interface RenderPlateOptions {
  /** Canonical plate text (common/plates.ts). */
  readonly text: string;
  readonly colour: PlateColour;
  /** 2 only for yellow plates (the 440x220 layout of large vehicles). */
  readonly rows?: PlateRows;
  readonly style?: Partial<PlateStyle>;
  /** Pixels per millimetre; 1 gives 440x140 for a single-row plate. */
  readonly pxPerMm?: number;
}

export interface RenderedPlate {
  /** RGBA, row-major (alpha is 0 outside the rounded corners). */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly text: string;
  readonly colour: PlateColour;
  readonly rows: PlateRows;
  readonly style: PlateStyle;
}

/** A random style for a plate (seeded). */
export function randomPlateStyle(rng: Prng, fonts: readonly PlateFont[] = PLATE_FONTS): PlateStyle {
  return { font: rng.pick(fonts), weight: rng.range(0, 1.6), spacing: rng.range(0.85, 1.15), border: rng.chance(0.85), rivets: rng.chance(0.7) };
}

function checkOptions(o: RenderPlateOptions): { rows: PlateRows; chars: string[] } {
  if (typeof o.text !== 'string' || plateFormat(o.text) === null) throw new RangeError(`options.text must be a canonical mainland plate, got ${JSON.stringify(o.text)}`);
  if (!PLATE_COLOURS.includes(o.colour)) throw new RangeError(`options.colour must be one of ${PLATE_COLOURS.join(', ')}`);
  const rows = o.rows ?? 1;
  if (rows !== 1 && rows !== 2) throw new RangeError('options.rows must be 1 or 2');
  if (rows === 2 && o.colour !== 'yellow') throw new RangeError('options.rows 2 is the yellow large-vehicle layout only');
  const chars = [...o.text];
  if (o.colour === 'green' ? chars.length !== 8 : chars.length !== 7) throw new RangeError(`options.text ${o.text} has the wrong length for a ${o.colour} plate`);
  if (o.pxPerMm !== undefined && !(o.pxPerMm > 0 && o.pxPerMm <= 8)) throw new RangeError('options.pxPerMm must be in (0, 8]');
  return { rows, chars };
}

/** The SVG of a plate in millimetre units (viewBox), scaled to `pxPerMm`. */
export async function plateSvg(o: RenderPlateOptions): Promise<{ svg: string; width: number; height: number; rows: PlateRows; style: PlateStyle }> {
  const { rows, chars } = checkOptions(o);
  const style: PlateStyle = { ...DEFAULT_PLATE_STYLE, ...o.style };
  const k = o.pxPerMm ?? 1;
  const layout = plateLayout(o.colour, rows, chars.length, style.spacing);
  const W = layout.widthMm;
  const H = layout.heightMm;
  const paint = PLATE_PAINT[o.colour];
  const parts: string[] = [];
  parts.push(`<defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${paint.bg[0]}"/><stop offset="1" stop-color="${paint.bg[1]}"/></linearGradient></defs>`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" rx="9" ry="9" fill="url(#bg)"/>`);
  if (style.border) parts.push(`<rect x="3.5" y="3.5" width="${W - 7}" height="${H - 7}" rx="6" ry="6" fill="none" stroke="${paint.fg}" stroke-width="1.8"/>`);
  if (style.rivets) {
    // Two screws in the top margin, where plates are bolted on (between characters on the single-row layouts).
    const ry = rows === 2 ? 45 : 13;
    const xs = rows === 2 ? [60, W - 60] : [layout.boxes[1]!.x + layout.boxes[1]!.w + 2, layout.boxes[5]!.x + layout.boxes[5]!.w / 2];
    for (const rx of xs) parts.push(`<circle cx="${rx}" cy="${ry}" r="4.2" fill="#9a9a9a" stroke="#5a5a5a" stroke-width="0.8"/><circle cx="${rx - 1.2}" cy="${ry - 1.2}" r="1.3" fill="#e6e6e6"/>`);
  }
  if (layout.dot) parts.push(`<circle cx="${layout.dot.x}" cy="${layout.dot.y}" r="5" fill="${paint.fg}"/>`);
  // Letters and digits share the width of '0' unless wider (M, W are squeezed): a '1' stays narrow, as on plates.
  const ref = await glyphBox('0', style.font);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    const box = layout.boxes[i]!;
    const g = await glyphBox(ch, style.font);
    const cjk = ch.charCodeAt(0) > 0x2e80;
    const sy = box.h / g.h;
    const sx = cjk ? box.w / g.w : box.w / Math.max(g.w, ref.w);
    const tx = box.x + (box.w - g.w * sx) / 2 - g.x * sx;
    const ty = box.y - g.y * sy;
    const fill = o.colour === 'white' && ch === '警' ? POLICE_RED : paint.fg;
    // The stroke is in glyph units; dividing by the mean scale keeps it `weight` mm on the plate.
    const sw = style.weight / ((sx + sy) / 2);
    parts.push(`<text transform="translate(${tx.toFixed(3)} ${ty.toFixed(3)}) scale(${sx.toFixed(5)} ${sy.toFixed(5)})" x="0" y="0" font-family="${style.font}" font-size="${MEASURE_SIZE}" fill="${fill}"${sw > 0 ? ` stroke="${fill}" stroke-width="${sw.toFixed(3)}" stroke-linejoin="round"` : ''}>${escapeXml(ch)}</text>`);
  }
  const width = Math.round(W * k);
  const height = Math.round(H * k);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
  return { svg, width, height, rows, style };
}

/** Renders one plate; rejects (never throws) on bad options, like every async function here. */
export async function renderPlate(o: RenderPlateOptions): Promise<RenderedPlate> {
  const style = { ...DEFAULT_PLATE_STYLE, ...o.style };
  requirePlateFonts([style.font]);
  const { svg, width, height, rows } = await plateSvg(o);
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height) throw new Error(`librsvg rendered ${info.width}x${info.height}, expected ${width}x${height}`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, text: o.text, colour: o.colour, rows, style };
}
