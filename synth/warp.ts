/**
 * A projective warp on raw pixels: the homography that takes a plate's rectangle to a quadrilateral in a photo
 * (four point pairs, solved as an 8x8 linear system), and an inverse-mapped paste with bilinear sampling and the
 * plate's alpha, so the edges blend instead of stair-stepping.
 */

export interface Point { readonly x: number; readonly y: number }
/** Corners in order: top-left, top-right, bottom-right, bottom-left. */
export type Quad = readonly [Point, Point, Point, Point];
/** Row-major 3x3, h[8] = 1. */
export type Homography = readonly number[];

/** The homography H with H(src[i]) = dst[i]. */
export function homography(src: Quad, dst: Quad): Homography {
  // Unknowns h0..h7; each pair gives two rows: x' = (h0 x + h1 y + h2) / (h6 x + h7 y + 1), same for y'.
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const { x, y } = src[i]!;
    const { x: u, y: v } = dst[i]!;
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  // Gaussian elimination with partial pivoting.
  for (let c = 0; c < 8; c++) {
    let p = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    if (Math.abs(a[p]![c]!) < 1e-12) throw new RangeError('the quadrilateral is degenerate (three corners on a line)');
    [a[c], a[p]] = [a[p]!, a[c]!];
    const row = a[c]!;
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / row[c]!;
      if (f === 0) continue;
      for (let k = c; k < 9; k++) a[r]![k]! -= f * row[k]!;
    }
  }
  const h = a.map((r, i) => r[8]! / r[i]!);
  return [...h, 1];
}

export function applyHomography(h: Homography, p: Point): Point {
  const w = h[6]! * p.x + h[7]! * p.y + 1;
  return { x: (h[0]! * p.x + h[1]! * p.y + h[2]!) / w, y: (h[3]! * p.x + h[4]! * p.y + h[5]!) / w };
}

export interface RgbImage { readonly data: Uint8Array; readonly width: number; readonly height: number }
export interface RgbaImage { readonly data: Uint8Array; readonly width: number; readonly height: number }

/**
 * Pastes `src` (RGBA) into `dst` (RGB24, changed in place) so that src's corners land on `quad`. Pixels are
 * sampled at their centres; outside src counts as transparent.
 */
export function warpInto(dst: RgbImage, src: RgbaImage, quad: Quad): void {
  const sw = src.width;
  const sh = src.height;
  const rect: Quad = [{ x: 0, y: 0 }, { x: sw, y: 0 }, { x: sw, y: sh }, { x: 0, y: sh }];
  const inv = homography(quad, rect);
  const xs = quad.map((p) => p.x);
  const ys = quad.map((p) => p.y);
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const x1 = Math.min(dst.width - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(dst.height - 1, Math.ceil(Math.max(...ys)));
  const s = src.data;
  const d = dst.data;
  const texel = (ix: number, iy: number, c: number): number => (ix < 0 || iy < 0 || ix >= sw || iy >= sh ? 0 : s[(iy * sw + ix) * 4 + c]!);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const p = applyHomography(inv, { x: x + 0.5, y: y + 0.5 });
      const u = p.x - 0.5;
      const v = p.y - 0.5;
      if (u < -1 || v < -1 || u > sw || v > sh) continue;
      const ix = Math.floor(u);
      const iy = Math.floor(v);
      const fx = u - ix;
      const fy = v - iy;
      const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
      // Premultiplied sampling, so transparent texels do not darken the edge.
      const a00 = texel(ix, iy, 3) * w00, a10 = texel(ix + 1, iy, 3) * w10, a01 = texel(ix, iy + 1, 3) * w01, a11 = texel(ix + 1, iy + 1, 3) * w11;
      const a = a00 + a10 + a01 + a11;
      if (a <= 0) continue;
      const o = (y * dst.width + x) * 3;
      const alpha = a / 255;
      for (let c = 0; c < 3; c++) {
        const col = (texel(ix, iy, c) * a00 + texel(ix + 1, iy, c) * a10 + texel(ix, iy + 1, c) * a01 + texel(ix + 1, iy + 1, c) * a11) / a;
        d[o + c] = Math.round(d[o + c]! * (1 - alpha) + col * alpha);
      }
    }
  }
}

/**
 * The image quadrilateral of a plate `w` x `h` pixels centred on (cx, cy), turned by yaw and pitch (degrees,
 * about its vertical and horizontal axes) and rolled in the image plane, seen through a pinhole whose focal
 * length is a few plate widths (a street camera, not a fish-eye).
 */
export function plateQuad(cx: number, cy: number, w: number, h: number, yaw: number, pitch: number, roll: number): Quad {
  const f = 3 * w;
  const ry = (yaw * Math.PI) / 180, rp = (pitch * Math.PI) / 180, rr = (roll * Math.PI) / 180;
  const corners = [[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]] as const;
  const pts = corners.map(([x0, y0]) => {
    // Yaw about the vertical axis, then pitch about the horizontal one.
    let x = x0 * Math.cos(ry);
    const y = y0 * Math.cos(rp);
    const z = x0 * Math.sin(ry) + y0 * Math.sin(rp);
    const k = f / (f + z);
    x *= k;
    const yy = y * k;
    // Roll in the image plane.
    return { x: cx + x * Math.cos(rr) - yy * Math.sin(rr), y: cy + x * Math.sin(rr) + yy * Math.cos(rr) };
  });
  return [pts[0]!, pts[1]!, pts[2]!, pts[3]!];
}
