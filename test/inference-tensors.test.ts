/**
 * Tensor hygiene: hundreds of model runs in one thread leave the tfjs tensor count where it was after the
 * first run (models' own weights excluded). Counts are taken after a warm-up, since tfjs caches a few tensors
 * on first use of an op. Also: blazeface finds exactly one face on astronaut.png.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { getBackend } from '../inference/backends.js';
import { FaceModels } from '../inference/face.js';
import { DetectorRunner } from '../inference/index.js';
import { OBJECT_CLASSES } from '../common/messages.js';
import { loadImage, vtestFrames } from './support/media.js';

test('inference - tensor count stays flat over 500 face runs and 50 detector runs', async (t) => {
  // ~2 minutes on a loaded 2-core machine; the models are real, so the count is what it is.
  t.timeout(300_000);
  await getBackend('wasm').init();
  const faces = await FaceModels.load();
  const detector = await DetectorRunner.create('wasm', 'centernet', { minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES });
  try {
    const astronaut = await loadImage('astronaut.png');
    const found = await faces.detect(astronaut);
    t.is(found.length, 1, 'astronaut.png holds exactly one face');
    const face = found[0]!;
    // A small region around the face: blazeface still runs at 256x256, the crop itself is cheap.
    const region = { x: face.box.x - 20, y: face.box.y - 20, w: face.box.w + 40, h: face.box.h + 40 };
    await faces.detect(astronaut, region);
    await faces.describe(astronaut, FaceModels.cropBox(face));
    const frames = vtestFrames(2, 100);
    await detector.detectBatch(frames);
    await detector.detect(frames[0]!);
    const base = tf.memory().numTensors;

    for (let i = 0; i < 450; i++) await faces.detect(astronaut, region);
    for (let i = 0; i < 50; i++) await faces.describe(astronaut, FaceModels.cropBox(face));
    t.is(tf.memory().numTensors, base, 'after 500 face-model runs');
    // 20 single frames and 15 batches of two: 50 frame inferences through both paths.
    for (let i = 0; i < 20; i++) await detector.detect(frames[0]!);
    for (let i = 0; i < 15; i++) await detector.detectBatch(frames);
    t.is(tf.memory().numTensors, base, 'after 50 detector runs');
  } finally {
    faces.dispose();
    detector.dispose();
  }
});
