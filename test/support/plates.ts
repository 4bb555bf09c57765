/**
 * Plates for the reader's tests, rendered with sharp (SVG text in an installed CJK font) in the mainland
 * layouts (GA 36): a standard one-row plate 440 x 140 mm (province, letter, dot, five characters), the green
 * new-energy plate 480 x 140 mm (eight characters, a white-to-green gradient), and the two-row plate 440 x 220 mm
 * (province and letter small on top, five large characters below). Then set on a plain vehicle-like body.
 */
import sharp from 'sharp';
import type { PlateColour } from '../../common/plates.js';

export interface PlateSpec {
  readonly text: string;
  readonly colour: PlateColour;
  readonly rows?: 1 | 2;
  readonly font?: string;
  /** Plate width in pixels. */
  readonly width: number;
}

export interface Rgb { readonly data: Uint8Array; readonly width: number; readonly height: number }

const BG: Record<PlateColour, string> = { blue: '#0a3d9c', yellow: '#f2b705', green: 'url(#ne)', white: '#f4f4f4', black: '#111111' };
const FG: Record<PlateColour, string> = { blue: '#ffffff', yellow: '#111111', green: '#111111', white: '#111111', black: '#ffffff' };

/** One character centred in its cell (mm), squeezed to the cell as plate type is. */
function glyph(ch: string, cx: number, top: number, w: number, h: number, font: string, fill: string): string {
  const cjk = /[^\x00-\x7f]/.test(ch);
  // Noto/WenQuanYi metrics: Latin cap height ~0.72 em and width ~0.58 em; CJK glyphs fill ~0.92 em square.
  const sy = h / (cjk ? 92 : 72);
  const sx = w / (cjk ? 96 : 60);
  const base = cjk ? top + h * 0.89 : top + h;
  return `<text transform="translate(${cx} ${base}) scale(${sx.toFixed(3)} ${sy.toFixed(3)})" font-family="${font}" font-size="100" font-weight="bold" text-anchor="middle" fill="${fill}">${ch}</text>`;
}

export async function renderPlate(spec: PlateSpec): Promise<Rgb> {
  const font = spec.font ?? 'Noto Sans CJK SC';
  const chars = [...spec.text];
  const fg = FG[spec.colour];
  const rows = spec.rows ?? 1;
  const W = chars.length === 8 ? 480 : 440;
  const H = rows === 2 ? 220 : 140;
  const parts: string[] = [];
  if (rows === 2) {
    parts.push(glyph(chars[0]!, 220 - 45, 15, 80, 60, font, fg), glyph(chars[1]!, 220 + 45, 15, 80, 60, font, fg));
    chars.slice(2).forEach((c, i) => parts.push(glyph(c, 27.5 + 32.5 + i * 80, 90, 65, 110, font, fg)));
  } else if (chars.length === 8) {
    const xs = [15.5, 67.5, 137.5, 180.5, 223.5, 266.5, 309.5, 352.5].map((x) => x + 22 + 20);
    chars.forEach((c, i) => parts.push(glyph(c, xs[i]!, 25, 43, 90, font, fg)));
    parts.push(`<circle cx="${(xs[1]! + xs[2]!) / 2}" cy="70" r="5" fill="${fg}"/>`);
  } else {
    const xs = [15.5, 72.5, 151.5, 208.5, 265.5, 322.5, 379.5].map((x) => x + 22.5);
    chars.forEach((c, i) => parts.push(glyph(c, xs[i]!, 25, 45, 90, font, fg)));
    parts.push(`<circle cx="${(xs[1]! + xs[2]!) / 2}" cy="70" r="5" fill="${fg}"/>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
    <defs><linearGradient id="ne" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#f3fbf5"/><stop offset="1" stop-color="#3cb371"/></linearGradient></defs>
    <rect x="0" y="0" width="${W}" height="${H}" rx="12" fill="${BG[spec.colour]}"/>
    <rect x="5" y="5" width="${W - 10}" height="${H - 10}" rx="9" fill="none" stroke="${fg}" stroke-width="3"/>
    ${parts.join('\n')}
  </svg>`;
  const height = Math.round((spec.width * H) / W);
  const { data, info } = await sharp(Buffer.from(svg)).resize(spec.width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** The plate on a plain vehicle-like body (paint, a dark grille above the plate, a bumper line), slightly blurred. */
export async function onVehicle(plate: Rgb, body: readonly [number, number, number] = [150, 152, 160], blur = 0.6): Promise<Rgb> {
  const W = Math.round(plate.width * 3.2);
  const H = Math.round(plate.width * 2.4);
  const px = Math.round((W - plate.width) / 2);
  const py = Math.round(H * 0.68);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
    <rect width="${W}" height="${H}" fill="rgb(${body.join(',')})"/>
    <rect x="${W * 0.05}" y="${H * 0.08}" width="${W * 0.9}" height="${H * 0.32}" fill="#2a3440"/>
    <rect x="${W * 0.25}" y="${H * 0.48}" width="${W * 0.5}" height="${H * 0.14}" fill="#1c1c1c"/>
    <rect x="${W * 0.04}" y="${H * 0.48}" width="${W * 0.14}" height="${H * 0.08}" fill="#e8e0c8"/>
    <rect x="${W * 0.82}" y="${H * 0.48}" width="${W * 0.14}" height="${H * 0.08}" fill="#e8e0c8"/>
    <rect x="0" y="${H * 0.92}" width="${W}" height="${H * 0.08}" fill="#202020"/>
  </svg>`;
  const plateImg = await sharp(plate.data, { raw: { width: plate.width, height: plate.height, channels: 3 } }).png().toBuffer();
  let img = sharp(Buffer.from(svg)).composite([{ input: plateImg, left: px, top: py }]);
  if (blur > 0.3) img = sharp(await img.png().toBuffer()).blur(blur);
  const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}
