/**
 * Backend conformance: every backend installed here runs the detector in a real worker pool and must give the
 * reference detections for a vtest frame (same classes, boxes within IoU 0.9, scores within 0.02: native and
 * GPU kernels round differently from wasm). Every backend not installed must fail with its typed error, both
 * at engine start and at init, never fall back silently.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableBackends, getBackend, InferenceEngine, iou } from '../inference/index.js';
import { BACKENDS } from '../config/index.js';
import { InferenceError } from '../common/errors.js';
import { REPO_ROOT } from '../common/paths.js';
import { OBJECT_CLASSES, type Detection } from '../common/messages.js';
import { vtestFrames } from './support/media.js';

const reference = (JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'centernet-vtest-frame0.json'), 'utf8')) as { detections: Detection[] }).detections;
const present = availableBackends();

test('inference - wasm is always available', (t) => {
  t.true(present.includes('wasm'));
});

for (const name of BACKENDS) {
  // webgpu needs a Vulkan driver Dawn accepts, set in the environment before Dawn starts: its conformance
  // runs in a child process on lavapipe (test/inference-webgpu-conformance.test.ts), not in this process.
  if (name === 'webgpu') continue;
  if (present.includes(name)) {
    test(`inference - backend ${name} gives the reference detections`, async (t) => {
      const engine = await InferenceEngine.start({ backend: name, model: 'centernet', workers: 1, minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES });
      try {
        const [dets] = (await engine.run(vtestFrames(1, 50))).detections;
        t.is(dets!.length, reference.length);
        for (const r of reference) {
          const m = dets!.find((d) => d.cls === r.cls && iou(d.box, r.box) > 0.9 && Math.abs(d.score - r.score) < 0.02);
          t.truthy(m, `no match for ${JSON.stringify(r)}`);
        }
      } finally {
        await engine.stop();
      }
    });
  } else {
    test(`inference - backend ${name} is absent and says so`, async (t) => {
      const start = await t.throwsAsync(InferenceEngine.start({ backend: name, model: 'centernet', workers: 1, minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES }), { instanceOf: InferenceError });
      t.is((start as InferenceError).code, 'INFERENCE_BACKEND_UNAVAILABLE');
      t.is((start as InferenceError).detail['backend'], name);
      const init = await t.throwsAsync(getBackend(name).init(), { instanceOf: InferenceError });
      t.is((init as InferenceError).code, 'INFERENCE_BACKEND_UNAVAILABLE');
    });
  }
}
