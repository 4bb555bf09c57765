/**
 * The engine on webgpu (issue 21), over Mesa's software Vulkan (lavapipe), in one child process: two cameras'
 * queues -> the real Batcher -> the engine's GPU thread (webgpu-worker.ts) in batches of 4; the detections equal
 * wasm's within the conformance tolerance; batches larger than 1 are observed in the batcher's stats; a device
 * destroyed by the test hook (as a driver reset loses it) fails one batch with INFERENCE_WEBGPU_DEVICE_LOST and
 * the next batch runs on a new device with the same detections; a best shot is structured (on the GPU thread,
 * inference/README-webgpu.md) as the wasm engine does, within the structuring tolerance; and after stop() the process exits by itself (Dawn no longer holds it).
 * Input 256 (one of centernet's inputSizes) keeps lavapipe at ~10-30 s a batch.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OBJECT_CLASSES, type Detection } from '../common/messages.js';
import { InferenceEngine, StructureQueue } from '../inference/index.js';
import { DetectorRunner } from '../inference/runner.js';
import { compareDetections, compareStructure, lavapipeEnv, runLavapipeChild, vtestFrames, type JsonStructure } from './support/lavapipe.js';
import type { EngineChildRequest, EngineChildResult } from './support/webgpu-engine-child.js';

const MIN_SCORE = 0.2;
const IOU = 0.5;
const SIZE = 256;
const BATCH = 4;

function runChild(env: NodeJS.ProcessEnv, req: EngineChildRequest, dir: string, boundMs: number): Promise<{ result: EngineChildResult; exitMs: number }> {
  return runLavapipeChild<EngineChildRequest, EngineChildResult>('webgpu-engine-child', env, req, dir, boundMs);
}

test('inference - the engine on webgpu batches across cameras, matches wasm, survives a lost device and exits cleanly (lavapipe)', async (t) => {
  t.timeout(9 * 60_000, 'lavapipe: shader compilation plus three batches of 4 at input 256 on software Vulkan, on a shared 2-core machine');
  const lvp = lavapipeEnv();
  if ('missing' in lvp) { t.fail(lvp.missing); return; }
  const frames = vtestFrames(BATCH);
  const dir = mkdtempSync(join(tmpdir(), 'cvcore-webgpu-engine-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const framesFile = join(dir, 'frames.rgb');
  writeFileSync(framesFile, frames.data);
  const started = Date.now();
  const child = runChild(lvp.env, { framesFile, width: frames.width, height: frames.height, count: frames.count, maxBatch: BATCH, inputSize: SIZE, minScore: MIN_SCORE, iouThreshold: IOU }, dir, 8 * 60_000);
  child.catch(() => undefined);

  // The wasm reference, here, meanwhile: the same frames at the same input size, and the same best shot structured.
  const decode = { minScore: MIN_SCORE, iouThreshold: IOU, classes: OBJECT_CLASSES };
  const wasm = await DetectorRunner.create('wasm', 'centernet', decode, SIZE);
  const px = frames.width * frames.height * 3;
  const frame = (i: number): Uint8Array => frames.data.subarray(i * px, (i + 1) * px);
  const ref: Detection[][] = [];
  for (let i = 0; i < frames.count; i++) ref.push(await wasm.detect({ data: frame(i), width: frames.width, height: frames.height }));
  wasm.dispose();

  const { result: r, exitMs } = await child;
  t.log(`child: start ${r.ms.start} ms, first batch ${r.ms.first} ms, lost batch ${r.ms.loss} ms, batch on the new device ${r.ms.after} ms, stop ${r.ms.stop} ms, exit ${exitMs} ms after the result; total ${Math.round((Date.now() - started) / 1000)} s`);
  t.log(`adapter ${JSON.stringify(r.gpu?.adapter)}; device ${JSON.stringify(r.gpu?.device)}; batcher ${JSON.stringify(r.stats)}`);
  t.true(ref.some((d) => d.length > 0), 'the reference frames hold detections (vtest.avi has pedestrians)');

  // Detections equal wasm's within the tolerance, before and after the device was recreated.
  const worst = { box: 0, score: 0 };
  t.is(r.before.length, BATCH);
  t.is(r.after.length, BATCH, `every frame after the loss is delivered (errors: ${r.errors.join(', ')})`);
  for (const [phase, rows] of [['before', r.before], ['after', r.after]] as const) {
    for (const row of rows) t.deepEqual(compareDetections(ref[row.frame]!, row.detections, MIN_SCORE, worst), [], `${phase} the loss, frame ${row.frame}`);
  }
  t.log(`largest differences from wasm: box ${worst.box.toExponential(2)} px, score ${worst.score.toExponential(2)}`);

  // The batcher sent whole batches of 4 frames from both cameras to the GPU thread.
  t.is(r.stats.batches, 3, 'three batches: before, on the lost device, after');
  t.true(r.stats.meanBatch > 1, `mean batch ${r.stats.meanBatch}`);
  t.is(r.stats.meanBatch, BATCH);

  // The lost device: one typed error, that batch's frames dropped, a new device made, and nothing else lost.
  t.deepEqual(r.errors, ['INFERENCE_WEBGPU_DEVICE_LOST']);
  t.is(r.lostBatchDelivered, 0);
  t.is(r.gpu?.device.losses, 1);
  t.is(r.gpu?.device.recreated, 1);
  t.is(r.gpu?.device.lastLoss?.reason, 'destroyed');
  t.true(r.gpu?.adapter?.software, 'lavapipe is reported as a software adapter');
  t.regex(r.gpu?.adapter?.description ?? '', /llvmpipe/);

  // People are structured on the GPU thread too (inference.webgpu.structure, default true): the same attributes as
  // the wasm engine on the same best shot, within the structuring tolerance (support/lavapipe.ts).
  t.truthy(r.structure, 'frame 0 holds a person to structure');
  t.true(r.gpu?.structuring, 'structuring is on the GPU');
  t.is(r.gpu?.scheduler.batches, 1, 'the best shot was one structuring batch on the GPU');
  if (r.structure) {
    const cpu = await InferenceEngine.start({ backend: 'wasm', model: 'centernet', inputSize: SIZE, workers: 1, ...decode });
    try {
      const mine = await cpu.structure({ data: new Uint8Array(frame(0)), width: frames.width, height: frames.height, box: r.structure.box, cls: 'person' });
      // The GPU's result crossed a process boundary as JSON (a Float32Array becomes an object of its indices).
      const json = (x: { attributes: JsonStructure['attributes']; embedding: unknown }): JsonStructure => ({ attributes: x.attributes, embedding: x.embedding ? Object.values(x.embedding as Record<string, number>) : null });
      const worstS = { age: 0, attr: 0, cos: 1 };
      t.deepEqual(compareStructure(json(mine), json(r.structure.result), worstS), []);
      t.log(`structuring differences from wasm: age ${worstS.age} y, quality/confidence ${worstS.attr.toExponential(2)}, lowest descriptor cosine ${worstS.cos.toFixed(6)}`);
    } finally {
      await cpu.stop();
    }
  }
});

test('inference - with the GPU detecting, structuring may use every CPU thread', async (t) => {
  // The webgpu engine's queue: no thread is kept back for detection, which runs on the GPU thread.
  const q = new StructureQueue(2, 8, { reserveForDetection: false });
  const started: string[] = [];
  const gates = [0, 1, 2].map(() => { let open: () => void = () => undefined; const p = new Promise<void>((r) => { open = r; }); return { p, open }; });
  const runs = ['a', 'b', 'c'].map((id, i) => q.submit(async () => { started.push(id); await gates[i]!.p; return id; }));
  await new Promise((r) => setImmediate(r));
  t.deepEqual(started, ['a', 'b'], 'both threads structure at once');
  gates[0]!.open();
  t.is(await runs[0], 'a');
  await new Promise((r) => setImmediate(r));
  t.deepEqual(started, ['a', 'b', 'c']);
  gates[1]!.open();
  gates[2]!.open();
  t.deepEqual(await Promise.all(runs), ['a', 'b', 'c']);
});
