import test from 'ava';
import sharp from 'sharp';
import { encodeThumbnail } from '../search-index/index.js';

function frame(width: number, height: number): Uint8Array {
  // Left half red, right half blue: the crop's colour says which part of the frame it came from.
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (x < width / 2) rgb[o] = 255;
      else rgb[o + 2] = 255;
    }
  }
  return rgb;
}

test('index - encodeThumbnail crops the box with a margin and encodes a small JPEG', async (t) => {
  const rgb = frame(640, 480);
  const jpeg = await encodeThumbnail(rgb, 640, 480, { x: 400, y: 100, w: 100, h: 200 });
  t.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
  const meta = await sharp(jpeg).metadata();
  t.is(meta.format, 'jpeg');
  // 100x200 box + 10% margin each side = 120x240, scaled to fit 160.
  t.is(meta.height, 160);
  t.is(meta.width, 80);
  const { data } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  t.true(data[2]! > 200 && data[0]! < 60, 'the crop comes from the blue half');
});

test('index - encodeThumbnail clamps boxes that run off the frame and never enlarges', async (t) => {
  const rgb = frame(64, 48);
  const jpeg = await encodeThumbnail(rgb, 64, 48, { x: -20, y: 40, w: 30, h: 30 }, 320);
  const meta = await sharp(jpeg).metadata();
  t.true((meta.width ?? 0) <= 64 && (meta.height ?? 0) <= 48);
  t.true((meta.width ?? 0) >= 1 && (meta.height ?? 0) >= 1);
  await t.throwsAsync(encodeThumbnail(rgb, 64, 47, { x: 0, y: 0, w: 5, h: 5 }), { instanceOf: RangeError });
});
