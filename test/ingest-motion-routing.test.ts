/**
 * Frames the motion gate held back never reach the model, yet reach the pipeline in frame order (so the
 * tracker can `skip` them): the batcher with a real inference engine (centernet on wasm).
 */
import test from 'ava';
import type { Frame } from '../common/messages.js';
import { Batcher, InferenceEngine } from '../inference/index.js';
import { FrameQueue, shouldAnalyse, type GatedFrame } from '../ingest/index.js';

test('ingest - gated frames skip the detector but are delivered in order', async (t) => {
  t.timeout(120_000);
  const engine = await InferenceEngine.start({ backend: 'wasm', model: 'centernet', workers: 1, minScore: 0.3, iouThreshold: 0.5, classes: ['person'] });
  try {
    const delivered: { seq: number; gated: boolean; batchSize: number }[] = [];
    const batcher = new Batcher(engine, { maxBatch: 4, maxDelayMs: 10, maxInFlight: 1, analyse: shouldAnalyse },
      (f, r) => { delivered.push({ seq: f.seq, gated: !shouldAnalyse(f), batchSize: r.batchSize }); });
    const q = new FrameQueue(64);
    batcher.add('c', q);
    const frame = (seq: number, analyse: boolean): GatedFrame => ({
      cameraId: 'c', seq, pts: 0, capturedAt: Date.now(), width: 64, height: 64,
      data: new Uint8Array(new SharedArrayBuffer(64 * 64 * 3)), motion: { analyse, forced: false, regions: [] },
    });
    const plain: Frame = { cameraId: 'c', seq: 10, pts: 0, capturedAt: Date.now(), width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) };
    const pattern = [true, false, false, true, false, true, true, false, false, false];
    pattern.forEach((a, i) => q.push(frame(i, a)));
    q.push(plain);
    await new Promise<void>((resolve) => { const iv = setInterval(() => { if (delivered.length === 11) { clearInterval(iv); resolve(); } }, 20); });
    t.deepEqual(delivered.map((d) => d.seq), [...pattern.keys(), 10], 'every frame, in order');
    t.deepEqual(delivered.map((d) => d.gated), [...pattern.map((a) => !a), false]);
    for (const d of delivered) if (d.gated) t.is(d.batchSize, 0, 'a gated frame was not in a model batch');
    const stats = batcher.stats();
    t.is(stats.frames, 5, 'only the 4 frames with motion and the ungated one went to the model');
    t.is(stats.skipped, 6);
    await batcher.stop();
  } finally {
    await engine.stop();
  }
});
