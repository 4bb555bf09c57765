/**
 * Conformance: the webgpu backend gives the wasm backend's detections on the same frames, within 1 px per box
 * edge and 1e-3 in score, at batch 1 (one frame) and batch 8 (eight frames in one GPU batch). It runs on
 * Mesa's software Vulkan (lavapipe, from scripts/setup-vulkan.sh), so it needs no GPU: in CI it proves the
 * path, not the speed (~4-13 s a frame, plus ~60-90 s of shader compilation when the shader cache is cold).
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OBJECT_CLASSES, type Detection } from '../common/messages.js';
import { DetectorRunner } from '../inference/runner.js';
import { compareDetections, lavapipeEnv, vtestFrames } from './support/lavapipe.js';
import type { ChildRequest, ChildResult } from './support/webgpu-child.js';

const MIN_SCORE = 0.2;
const IOU = 0.5;

/** Largest differences seen over all matched pairs, for the log (the figures the README quotes). */
const worst = { box: 0, score: 0 };

/** What breaks the tolerance (1 px per box edge, 1e-3 in score; support/lavapipe.ts). */
const compare = (wasm: readonly Detection[], gpu: readonly Detection[]): string[] => compareDetections(wasm, gpu, MIN_SCORE, worst);

function runChild(env: NodeJS.ProcessEnv, req: ChildRequest, dir: string): Promise<ChildResult> {
  const reqFile = join(dir, 'req.json');
  const outFile = join(dir, 'out.json');
  writeFileSync(reqFile, JSON.stringify(req));
  const script = fileURLToPath(new URL('./support/webgpu-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, reqFile, outFile], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000); });
    child.on('error', reject);
    child.on('exit', (code) => {
      // The child must exit by itself once its runner is disposed: that is the clean-shutdown check.
      if (code !== 0) { reject(new Error(`webgpu child exited ${code}: ${stderr}`)); return; }
      try { resolve(JSON.parse(readFileSync(outFile, 'utf8')) as ChildResult); } catch (err) { reject(err); }
    });
  });
}

test('inference - webgpu detections match wasm at batch 1 and 8 (lavapipe)', async (t) => {
  // ~1-2 min of CPU (55 s with a warm shader cache, ~2 min cold); the margin is for CI runners shared with
  // other jobs: at load 17 on 2 cores it took 3m48s-4m18s with a warm cache.
  t.timeout(6 * 60_000, 'lavapipe: shader compilation plus 9 frames of centernet on software Vulkan');
  const lvp = lavapipeEnv();
  if ('missing' in lvp) { t.fail(lvp.missing); return; }
  const frames = vtestFrames(8);
  const dir = mkdtempSync(join(tmpdir(), 'cvcore-webgpu-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const framesFile = join(dir, 'frames.rgb');
  writeFileSync(framesFile, frames.data);

  const started = Date.now();
  const gpu = runChild(lvp.env, { framesFile, width: frames.width, height: frames.height, count: frames.count, batches: [1, 8], minScore: MIN_SCORE, iouThreshold: IOU }, dir);
  gpu.catch(() => undefined);

  // The wasm reference runs here meanwhile, frame by frame (its graph is batch 1).
  const wasm = await DetectorRunner.create('wasm', 'centernet', { minScore: MIN_SCORE, iouThreshold: IOU, classes: OBJECT_CLASSES });
  const px = frames.width * frames.height * 3;
  const ref: Detection[][] = [];
  for (let i = 0; i < frames.count; i++) ref.push(await wasm.detect({ data: frames.data.subarray(i * px, (i + 1) * px), width: frames.width, height: frames.height }));
  wasm.dispose();

  const res = await gpu;
  t.log(`adapter ${JSON.stringify(res.adapter)}; init ${(res.initMs / 1000).toFixed(1)} s; ${res.runs.map((r) => `batch ${r.batch}: ${(r.ms / 1000).toFixed(1)} s`).join(', ')}; total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  t.true(ref.some((d) => d.length > 0), 'the reference frames hold detections (vtest.avi has pedestrians)');
  // Frames go up as bytes packed four to an int32 word and are unpacked by a shader: every byte must come back.
  t.like(res.packCheck, { backend: 'webgpu', exact: true }, `packed upload of ${res.packCheck.lengths.join(', ')} bytes`);
  for (const run of res.runs) {
    t.is(run.detections.length, run.batch, `batch ${run.batch}: one result per frame`);
    run.detections.forEach((dets, i) => {
      t.deepEqual(compare(ref[i]!, dets), [], `batch ${run.batch}, frame ${i}`);
    });
    t.is(run.tensorsAfter, run.tensorsBefore, `batch ${run.batch}: no tensor left behind`);
  }
  t.log(`largest differences from wasm: box ${worst.box.toExponential(2)} px, score ${worst.score.toExponential(2)}`);
});
