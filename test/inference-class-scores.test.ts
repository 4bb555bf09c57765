/** Per-class score floors: config defaults and bounds, and the decoder applying them over minScore. */
import test from 'ava';
import { ConfigError } from '../common/errors.js';
import { parseConfig } from '../config/index.js';
import { decodeCenternet } from '../inference/index.js';
import { OBJECT_CLASSES } from '../common/messages.js';

test('inference - classMinScore has a default per class and is bounded', (t) => {
  const cfg = parseConfig({ inference: { classMinScore: { bus: 0.5 } } });
  t.deepEqual(Object.keys(cfg.inference.classMinScore).sort(), [...OBJECT_CLASSES].sort());
  t.is(cfg.inference.classMinScore.bus, 0.5);
  t.is(cfg.inference.classMinScore.person, 0.2);
  const err = t.throws(() => parseConfig({ inference: { classMinScore: { person: 2 } } }), { instanceOf: ConfigError });
  t.is(err?.detail['path'], 'inference.classMinScore.person');
  t.is(err?.code, 'CONFIG_OUT_OF_RANGE');
});

test('inference - per-class floors filter decoded detections, boxes scale to the frame', (t) => {
  const labels = ['person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus'];
  // x1, y1, x2, y2 (512-square input pixels), score, class index
  const rows = [
    0, 0, 256, 256, 0.25, 0, // person 0.25: kept (person floor 0.2)
    256, 256, 512, 512, 0.4, 5, // bus 0.4: dropped (bus floor 0.45)
    100, 100, 200, 200, 0.9, 4, // airplane: not a kept class
    300, 0, 400, 100, 0.5, 2, // car 0.5: kept
  ];
  const dets = decodeCenternet(rows, labels, 512, 1024, 768, { minScore: 0.3, iouThreshold: 0.5, classes: OBJECT_CLASSES, classMinScore: { person: 0.2, bus: 0.45 } });
  t.deepEqual(dets.map((d) => d.cls), ['car', 'person']);
  t.deepEqual(dets[1]!.box, { x: 0, y: 0, w: 512, h: 384 });
});
