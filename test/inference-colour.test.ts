/** Vehicle colour: synthetic solid crops give each name; the real red motorcycle gives red. */
import test from 'ava';
import { dominantColour, VEHICLE_COLOURS, type VehicleColour } from '../inference/index.js';
import { loadImage } from './support/media.js';

const solid = (rgb: readonly [number, number, number], w = 40, h = 30): Uint8Array => {
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) out.set(rgb, i * 3);
  return out;
};

const CASES: Record<VehicleColour, readonly (readonly [number, number, number])[]> = {
  white: [[245, 245, 245], [220, 225, 230]],
  black: [[10, 10, 10], [35, 30, 40]],
  grey: [[128, 128, 128], [175, 178, 182]],
  red: [[200, 20, 30], [140, 10, 20]],
  blue: [[20, 40, 200], [60, 90, 160]],
  yellow: [[230, 210, 30], [200, 180, 40]],
  green: [[30, 160, 50], [20, 90, 40]],
  brown: [[120, 70, 30], [240, 130, 20]],
};

test('inference - solid crops give their named colour', (t) => {
  t.deepEqual(Object.keys(CASES).sort(), [...VEHICLE_COLOURS].sort());
  for (const [name, rgbs] of Object.entries(CASES)) {
    for (const rgb of rgbs) t.is(dominantColour(solid(rgb), 40, 30, { x: 0, y: 0, w: 40, h: 30 }) as string, name, `rgb ${rgb.join(',')}`);
  }
});

test('inference - only the crop centre counts', (t) => {
  // A red centre inside a wide grey border (road around a car) is still red.
  const w = 50;
  const h = 50;
  const img = solid([120, 120, 120], w, h);
  for (let y = 15; y < 35; y++) for (let x = 15; x < 35; x++) img.set([210, 25, 25], (y * w + x) * 3);
  t.is(dominantColour(img, w, h, { x: 0, y: 0, w, h }), 'red');
});

test('inference - the motorcycle in motorcycle_left.png is red', async (t) => {
  const img = await loadImage('motorcycle_left.png');
  // The box centernet gives for it (see inference-structure): the red tank and fairings dominate its centre.
  t.is(dominantColour(img.data, img.width, img.height, { x: 116, y: 55, w: 561, h: 394 }), 'red');
});
