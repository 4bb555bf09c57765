// One-off tool that cut the person crops of test/fixtures/clothing/ from vtest.avi: frames every few seconds,
// people found by centernet (wasm), each box cut with a margin of context so that the classifier sees
// background around the body as it does in a real frame. Labels were then written by hand into labels.json.
// node scripts/clothing-crops.mjs [--every S] [--out DIR]   (needs a build: npx tsc -p tsconfig.json)
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { createDetector } from '../dist/inference/index.js';

const W = 768, H = 576;
const every = Number(process.argv[process.argv.indexOf('--every') + 1] || 6);
const out = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : 'test/fixtures/clothing';
mkdirSync(out, { recursive: true });
const det = await createDetector('wasm', 'centernet', { minScore: 0.45, iouThreshold: 0.5, classes: ['person'] }, 512);
const boxes = [];
for (let t = 1; t < 79; t += every) {
  const data = new Uint8Array(execFileSync('ffmpeg', ['-v', 'error', '-ss', String(t), '-i', '.cache/media/vtest.avi', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: W * H * 4 }));
  const found = (await det.detect({ data, width: W, height: H })).filter((d) => d.cls === 'person' && d.box.w >= 18 && d.box.h >= 50);
  for (const [k, d] of found.entries()) {
    const b = d.box;
    // 25% of the box's width and 10% of its height of context on each side, clamped to the frame.
    const x0 = Math.max(0, Math.floor(b.x - 0.25 * b.w)), y0 = Math.max(0, Math.floor(b.y - 0.1 * b.h));
    const x1 = Math.min(W, Math.ceil(b.x + 1.25 * b.w)), y1 = Math.min(H, Math.ceil(b.y + 1.1 * b.h));
    const file = `vtest-t${String(t).padStart(2, '0')}-${k}.png`;
    await sharp(Buffer.from(data.buffer), { raw: { width: W, height: H, channels: 3 } }).extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 }).png({ compressionLevel: 9 }).toFile(join(out, file));
    boxes.push({ file, box: { x: +(b.x - x0).toFixed(1), y: +(b.y - y0).toFixed(1), w: +b.w.toFixed(1), h: +b.h.toFixed(1) }, score: +d.score.toFixed(3) });
  }
}
writeFileSync(join(out, 'boxes.json'), JSON.stringify(boxes, null, 1) + '\n');
process.stdout.write(`${boxes.length} crops in ${out}\n`);
