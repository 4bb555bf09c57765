/** synth: rendered plates, the plate set made from real vehicle photos, and the demo footage's truth. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { CACHE_DIR } from '../common/paths.js';
import { plateFormat, PLATE_COLOURS, type PlateColour } from '../common/plates.js';
import {
  applyHomography, homography, motionBlurCase, plateLayout, plateSet, plateViews, Prng, PLATE_FONTS, PLATE_PAINT, POLICE_RED,
  randomPlateText, renderPlate, renderFootage, FOOTAGE_VERSION, PLATE_FOOTAGE, READABLE_PLATE_PX, type FootageTruth, type PlateRows, type Quad,
} from '../synth/index.js';

const rgb = (hex: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
const near = (a: readonly number[], b: readonly number[], tol: number): boolean => a.every((v, i) => Math.abs(v - b[i]!) <= tol);
const sha = (d: Uint8Array): string => createHash('sha256').update(d).digest('hex');

const LAYOUTS: readonly { colour: PlateColour; rows: PlateRows; size: [number, number] }[] = [
  { colour: 'blue', rows: 1, size: [440, 140] },
  { colour: 'yellow', rows: 1, size: [440, 140] },
  { colour: 'yellow', rows: 2, size: [440, 220] },
  { colour: 'green', rows: 1, size: [480, 140] },
  { colour: 'white', rows: 1, size: [440, 140] },
  { colour: 'black', rows: 1, size: [440, 140] },
];

test('synth - plate texts fit common/plates.ts for every colour', (t) => {
  const rng = new Prng(11);
  for (const colour of PLATE_COLOURS) {
    for (let i = 0; i < 300; i++) {
      const text = randomPlateText(rng, colour);
      t.is(plateFormat(text), colour === 'green' ? 'new-energy' : 'standard', `${colour} ${text}`);
      if (colour === 'white') t.true(text.endsWith('警'));
    }
  }
});

test('synth - rendered plates have their layout size and colours in every font', async (t) => {
  const rng = new Prng(5);
  for (const font of PLATE_FONTS) {
    for (const { colour, rows, size } of LAYOUTS) {
      const text = randomPlateText(rng, colour);
      const p = await renderPlate({ text, colour, rows, style: { font, rivets: false } });
      const what = `${font} ${colour}/${rows} ${text}`;
      t.deepEqual([p.width, p.height], size, what);
      t.is(p.data.length, p.width * p.height * 4);
      const px = (x: number, y: number): number[] => [...p.data.subarray((y * p.width + x) * 4, (y * p.width + x) * 4 + 3)];
      const layout = plateLayout(colour, rows, [...text].length);
      // Background: between the characters of the top of the plate, clear of border and characters.
      const bgAt = layout.dot ? { x: Math.round(layout.dot.x), y: 18 } : { x: 220, y: 45 };
      const paint = PLATE_PAINT[colour];
      if (colour === 'green') {
        // The new-energy gradient: light at the top, green at the bottom.
        t.true(near(px(bgAt.x, 10), rgb(paint.bg[0]), 30), `${what} top ${px(bgAt.x, 10).join(',')}`);
        t.true(near(px(bgAt.x, 128), rgb(paint.bg[1]), 40), `${what} bottom ${px(bgAt.x, 128).join(',')}`);
      } else {
        t.true(near(px(bgAt.x, bgAt.y), rgb(paint.bg[0]), 12), `${what} background ${px(bgAt.x, bgAt.y).join(',')}`);
      }
      // Text: a fair share of the character boxes is drawn in the text colour.
      let ink = 0;
      let total = 0;
      for (const b of layout.boxes) {
        for (let y = Math.round(b.y); y < b.y + b.h; y += 2) {
          for (let x = Math.round(b.x); x < b.x + b.w; x += 2) {
            total++;
            if (near(px(x, y), rgb(paint.fg), 60) || near(px(x, y), rgb(POLICE_RED), 60)) ink++;
          }
        }
      }
      t.true(ink / total > 0.12 && ink / total < 0.7, `${what} ink share ${(ink / total).toFixed(2)}`);
      if (colour === 'white') {
        const last = layout.boxes[6]!;
        let red = 0;
        for (let y = last.y; y < last.y + last.h; y++) for (let x = last.x; x < last.x + last.w; x++) if (near(px(Math.round(x), Math.round(y)), rgb(POLICE_RED), 60)) red++;
        t.true(red > 200, `${what} the police 警 is red (${red} px)`);
      }
    }
  }
});

test('synth - renderPlate rejects texts and layouts that do not fit', async (t) => {
  await t.throwsAsync(renderPlate({ text: '鲁B1234', colour: 'blue' }), { instanceOf: RangeError, message: /options\.text/ });
  await t.throwsAsync(renderPlate({ text: '鲁B12345', colour: 'green' }), { instanceOf: RangeError, message: /wrong length/ });
  await t.throwsAsync(renderPlate({ text: '鲁B12345', colour: 'blue', rows: 2 }), { instanceOf: RangeError, message: /options\.rows/ });
});

test('synth - the homography takes the corners where asked', (t) => {
  const src: Quad = [{ x: 0, y: 0 }, { x: 440, y: 0 }, { x: 440, y: 140 }, { x: 0, y: 140 }];
  const dst: Quad = [{ x: 10, y: 20 }, { x: 120, y: 26 }, { x: 118, y: 60 }, { x: 12, y: 58 }];
  const h = homography(src, dst);
  for (let i = 0; i < 4; i++) {
    const p = applyHomography(h, src[i]!);
    t.true(Math.abs(p.x - dst[i]!.x) < 1e-6 && Math.abs(p.y - dst[i]!.y) < 1e-6);
  }
});

test('synth - the plate set is deterministic for a seed', async (t) => {
  const a = await plateSet({ seed: 3, count: 4, widths: [60, 110] });
  const b = await plateSet({ seed: 3, count: 4, widths: [60, 110] });
  const c = await plateSet({ seed: 4, count: 4, widths: [60, 110] });
  t.deepEqual(a.map((s) => sha(s.image.data)), b.map((s) => sha(s.image.data)));
  t.deepEqual(a.map((s) => s.truth), b.map((s) => s.truth));
  t.notDeepEqual(a.map((s) => s.truth.plate), c.map((s) => s.truth.plate));
});

test('synth - plate boxes lie inside the images and the vehicles, at the asked widths', async (t) => {
  const widths = [60, 90, 120, 160, 200];
  const set = await plateSet({ seed: 9, count: 10, widths });
  for (const [i, s] of set.entries()) {
    const what = `${i} ${s.vehicle.id} ${s.truth.plate}`;
    t.is(s.image.data.length, s.image.width * s.image.height * 3);
    const { plateBox: p, vehicleBox: v } = s;
    t.true(p.x >= 0 && p.y >= 0 && p.x + p.w <= s.image.width && p.y + p.h <= s.image.height, `${what} plate inside the image`);
    t.true(v.x >= 0 && v.y >= 0 && v.x + v.w <= s.image.width && v.y + v.h <= s.image.height, `${what} vehicle inside the image`);
    t.true(p.x >= v.x && p.y >= v.y && p.x + p.w <= v.x + v.w && p.y + p.h <= v.y + v.h, `${what} plate on the vehicle`);
    const asked = widths[i % widths.length]!;
    // Yaw foreshortens the plate a little; rounding adds a pixel or two.
    t.true(s.plateWidth >= asked * 0.8 && s.plateWidth <= asked * 1.05 + 2, `${what} width ${s.plateWidth} for ${asked}`);
    t.not(plateFormat(s.truth.plate), null);
  }
});

test('synth - views of one vehicle share its plate and differ in framing', async (t) => {
  const [s] = await plateSet({ seed: 21, count: 1, widths: [120] });
  const views = await plateViews(s!.spec, 4);
  t.is(views.length, 4);
  t.is(sha(views[0]!.image.data), sha(s!.image.data));
  for (const v of views) { t.deepEqual(v.truth, s!.truth); t.is(v.vehicle.id, s!.vehicle.id); }
  t.is(new Set(views.map((v) => sha(v.image.data))).size, 4);
});

test('synth - opencv\'s motion-blurred plate is a robustness case without truth', async (t) => {
  const c = await motionBlurCase();
  t.is(c.truth, null);
  t.true(c.image.width > 100 && c.image.data.length === c.image.width * c.image.height * 3);
});

/** The median colour of a box in one decoded frame of the footage. */
function medianColour(rgb: Uint8Array, width: number, box: { x: number; y: number; w: number; h: number }): [number, number, number] {
  const ch: number[][] = [[], [], []];
  for (let y = box.y; y < box.y + box.h; y++) for (let x = box.x; x < box.x + box.w; x++) for (let c = 0; c < 3; c++) ch[c]!.push(rgb[(y * width + x) * 3 + c]!);
  return ch.map((v) => v.sort((a, b) => a - b)[v.length >> 1]!) as [number, number, number];
}

const LOOKS: Record<PlateColour, (c: readonly [number, number, number]) => boolean> = {
  blue: ([r, g, b]) => b > r + 50 && b > g + 20,
  yellow: ([r, g, b]) => r > 150 && g > 110 && b < 90,
  green: ([r, g, b]) => g > r + 15 && g > b,
  white: ([r, g, b]) => Math.min(r, g, b) > 150,
  black: ([r, g, b]) => Math.max(r, g, b) < 90,
};

test('synth - the plate footage and its truth file match the plates rendered', async (t) => {
  const dir = join(CACHE_DIR, 'media');
  const truth = JSON.parse(await readFile(join(dir, PLATE_FOOTAGE.truth), 'utf8')) as FootageTruth;
  // The truth on disk is what the renderer makes now (same seed, same version).
  let frames = 0;
  const again = await renderFootage(async () => { frames++; });
  t.deepEqual(truth, JSON.parse(JSON.stringify(again)) as FootageTruth);
  t.is(truth.version, FOOTAGE_VERSION);
  t.is(frames, truth.frames);
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=codec_name,width,height,nb_read_packets,has_b_frames', '-of', 'json', join(dir, PLATE_FOOTAGE.video)], { encoding: 'utf8' })) as { streams: { codec_name: string; width: number; height: number; nb_read_packets: string; has_b_frames: number }[] };
  const s = probe.streams[0]!;
  t.deepEqual([s.codec_name, s.width, s.height, Number(s.nb_read_packets), s.has_b_frames], ['h264', truth.width, truth.height, truth.frames, 0]);
  const plated = truth.vehicles.filter((v) => v.plate !== null);
  t.true(plated.length >= 4);
  t.true(new Set(plated.map((v) => v.colour)).size >= 4, 'several plate colours');
  for (const v of plated) {
    t.not(plateFormat(v.plate!), null, v.plate!);
    t.true(v.lastFrame - v.firstFrame + 1 >= 3 * truth.fps, `${v.id} in view for several seconds`);
    t.true(v.readableFrames >= 10, `${v.id} plate at least ${READABLE_PLATE_PX} px for a while (${v.readableFrames} frames)`);
    // The decoded frame where the plate is largest shows a plate of the truth's colour at the truth's box.
    const best = v.frames.reduce((a, b) => ((b.plateWidth ?? 0) > (a.plateWidth ?? 0) ? b : a));
    const rgb = execFileSync('ffmpeg', ['-v', 'error', '-i', join(dir, PLATE_FOOTAGE.video), '-vf', `select=eq(n\\,${best.frame})`, '-vsync', '0', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: truth.width * truth.height * 3 + 1024 });
    const pb = best.plateBox!;
    // The lower half of the plate: under the text line on two-tone (green) plates, and past the rivets.
    const c = medianColour(rgb, truth.width, { x: pb.x + Math.round(pb.w * 0.1), y: pb.y + Math.round(pb.h * 0.55), w: Math.round(pb.w * 0.8), h: Math.max(1, Math.round(pb.h * 0.35)) });
    t.true(LOOKS[v.colour!](c), `${v.id} ${v.plate} looks ${v.colour} at frame ${best.frame}: median ${c.join(',')}`);
  }
  for (const v of truth.vehicles.filter((x) => x.plate === null)) t.true(v.frames.length > 0 && v.frames.every((f) => f.plateBox === null));
});
