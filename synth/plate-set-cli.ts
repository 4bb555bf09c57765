/**
 * Writes a plate set to a folder for looking at or for other tools: one PNG per sample (and per view) and
 * index.json with each file's truth and boxes.
 *   node dist/synth/plate-set-cli.js --out DIR [--seed 1] [--count 24] [--widths 60,80,100,120,160,200] [--views 1]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DEFAULT_PLATE_WIDTHS, plateSpecs, plateViews } from './plate-set.js';

const { values } = parseArgs({
  strict: true,
  options: { out: { type: 'string' }, seed: { type: 'string', default: '1' }, count: { type: 'string', default: '24' }, widths: { type: 'string' }, views: { type: 'string', default: '1' } },
});
if (!values.out) {
  process.stderr.write('usage: node dist/synth/plate-set-cli.js --out DIR [--seed N] [--count N] [--widths 60,120] [--views N]\n');
  process.exit(2);
}
const widths = values.widths ? values.widths.split(',').map(Number) : DEFAULT_PLATE_WIDTHS;
const specs = plateSpecs({ seed: Number(values.seed), count: Number(values.count), widths });
await mkdir(values.out, { recursive: true });
const index: unknown[] = [];
for (const [i, spec] of specs.entries()) {
  for (const [k, s] of (await plateViews(spec, Number(values.views))).entries()) {
    const file = `${String(i).padStart(4, '0')}-${k}.png`;
    await sharp(s.image.data, { raw: { width: s.image.width, height: s.image.height, channels: 3 } }).png().toFile(join(values.out, file));
    index.push({ file, view: k, truth: s.truth, plateWidth: s.plateWidth, plateBox: s.plateBox, plateQuad: s.plateQuad, vehicleBox: s.vehicleBox, vehicle: s.vehicle, degradation: s.degradation, font: s.spec.style.font });
  }
}
await writeFile(join(values.out, 'index.json'), JSON.stringify(index, null, 1));
process.stderr.write(`${index.length} images and index.json in ${values.out}\n`);
