/**
 * What a street camera does to a picture, on RGB24 in place: defocus (a separable Gaussian), horizontal motion
 * blur, low light (darker and more contrasty in the shadows) and sensor noise. Seeded, so a set is the same on
 * every run.
 */
import type { Prng } from './prng.js';
import type { RgbImage } from './warp.js';

export interface Degradation {
  /** Gaussian sigma in pixels (0 = sharp). */
  readonly blur: number;
  /** Horizontal motion-blur length in pixels (0 or 1 = none). */
  readonly motion: number;
  /** Exposure factor in (0, 1]; 1 = daylight. */
  readonly light: number;
  /** Sensor noise sigma in grey levels. */
  readonly noise: number;
}
export const NO_DEGRADATION: Degradation = { blur: 0, motion: 0, light: 1, noise: 0 };

function convolve1d(img: RgbImage, kernel: Float32Array, horizontal: boolean): void {
  const { width: w, height: h, data } = img;
  const r = (kernel.length - 1) >> 1;
  const n = horizontal ? w : h;
  const line = new Float32Array(n * 3);
  for (let j = 0; j < (horizontal ? h : w); j++) {
    for (let i = 0; i < n; i++) {
      const o = horizontal ? (j * w + i) * 3 : (i * w + j) * 3;
      line[i * 3] = data[o]!; line[i * 3 + 1] = data[o + 1]!; line[i * 3 + 2] = data[o + 2]!;
    }
    for (let i = 0; i < n; i++) {
      let a = 0, b = 0, c = 0;
      for (let k = -r; k <= r; k++) {
        const q = Math.min(n - 1, Math.max(0, i + k)) * 3;
        const wk = kernel[k + r]!;
        a += line[q]! * wk; b += line[q + 1]! * wk; c += line[q + 2]! * wk;
      }
      const o = horizontal ? (j * w + i) * 3 : (i * w + j) * 3;
      data[o] = a; data[o + 1] = b; data[o + 2] = c;
    }
  }
}

export function gaussianBlur(img: RgbImage, sigma: number): void {
  if (sigma < 0.3) return;
  const r = Math.ceil(sigma * 3);
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) { k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma)); sum += k[i + r]!; }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  convolve1d(img, k, true);
  convolve1d(img, k, false);
}

export function motionBlur(img: RgbImage, length: number): void {
  const n = Math.round(length);
  if (n <= 1) return;
  const len = n % 2 === 1 ? n : n + 1;
  convolve1d(img, new Float32Array(len).fill(1 / len), true);
}

/** Darkens with a gamma above 1 (shadows sink first, as in a dusk scene) and adds Gaussian noise. */
export function lightAndNoise(img: RgbImage, light: number, noise: number, rng: Prng): void {
  const gamma = 1 + (1 - light) * 0.8;
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = 255 * Math.pow(v / 255, gamma) * light;
  const d = img.data;
  for (let i = 0; i < d.length; i++) {
    const v = lut[d[i]!]! + (noise > 0 ? rng.gauss() * noise : 0);
    d[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
}

export function degrade(img: RgbImage, o: Degradation, rng: Prng): void {
  gaussianBlur(img, o.blur);
  motionBlur(img, o.motion);
  if (o.light < 1 || o.noise > 0) lightAndNoise(img, o.light, o.noise, rng);
}

/** A random degradation: most samples are fair daylight, a share is dark, blurred or noisy. */
export function randomDegradation(rng: Prng): Degradation {
  return {
    blur: rng.chance(0.5) ? rng.range(0.3, 1.4) : 0,
    motion: rng.chance(0.2) ? rng.range(2, 6) : 0,
    light: rng.chance(0.25) ? rng.range(0.3, 0.7) : rng.range(0.85, 1),
    noise: rng.range(0, 7),
  };
}
