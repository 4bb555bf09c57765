/**
 * Runs the webgpu detector on frames in its own process (started with lavapipeEnv()) and writes the result
 * as JSON. Usage: node webgpu-child.js <request.json> <result.json>
 * request: { framesFile, width, height, count, batches: number[], minScore, iouThreshold }.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { OBJECT_CLASSES, type Detection } from '../../common/messages.js';
import * as tf from '@tensorflow/tfjs-core';
import { WebgpuDetectorRunner, uploadBytes } from '../../inference/webgpu-runner.js';

export interface ChildRequest { framesFile: string; width: number; height: number; count: number; batches: number[]; minScore: number; iouThreshold: number }
export interface ChildResult {
  adapter: unknown;
  /** One entry per batch size: detections per frame, ms for the timed batch, tensors before/after. */
  runs: { batch: number; detections: Detection[][]; ms: number; tensorsBefore: number; tensorsAfter: number }[];
  initMs: number;
  /** Bytes packed four to a word, uploaded and unpacked on the GPU: lengths tried (not all whole words) and whether every byte came back. */
  packCheck: { backend: string; lengths: number[]; exact: boolean };
}

const [reqFile, outFile] = process.argv.slice(2);
if (!reqFile || !outFile) throw new TypeError('usage: webgpu-child.js <request.json> <result.json>');
const req = JSON.parse(readFileSync(reqFile, 'utf8')) as ChildRequest;
const all = new Uint8Array(readFileSync(req.framesFile));
const px = req.width * req.height * 3;
const frames = Array.from({ length: req.count }, (_, i) => ({ data: all.subarray(i * px, (i + 1) * px), width: req.width, height: req.height }));
const t0 = performance.now();
const maxBatch = Math.max(...req.batches);
const runner = await WebgpuDetectorRunner.create('centernet', { minScore: req.minScore, iouThreshold: req.iouThreshold, classes: OBJECT_CLASSES }, { maxBatch });
// Every byte value, in every position of a word (a high byte of 128+ is a negative int32), and tails of 1-3 bytes.
const lengths = [1, 2, 3, 5, 7, 45, 256 * 4 + 3, 640 * 360 * 3];
const parts = lengths.map((n, k) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + k * 31 + (i >> 8)) & 255));
const unpacked = tf.tidy(() => uploadBytes(parts));
const back = await unpacked.data(); // the webgpu backend in Node has no synchronous read
unpacked.dispose();
let exact = back.length === lengths.reduce((a, b) => a + b, 0);
let at = 0;
for (const p of parts) { for (let i = 0; i < p.length && exact; i++) exact = back[at + i] === p[i]; at += p.length; }
const result: ChildResult = { adapter: runner.adapter, runs: [], initMs: performance.now() - t0, packCheck: { backend: tf.getBackend(), lengths, exact } };
for (const batch of req.batches) {
  const tensorsBefore = runner.numTensors;
  const t = performance.now();
  const detections = await runner.detectBatch(frames.slice(0, batch));
  result.runs.push({ batch, detections, ms: performance.now() - t, tensorsBefore, tensorsAfter: runner.numTensors });
}
runner.dispose();
writeFileSync(outFile, JSON.stringify(result));
