import test from 'ava';
import { combineMot, evaluateMot, type MotMetrics, type MotRow } from '../tracking/index.js';
import { loadMot } from './mot-data.js';

// py-motmetrics' own expected values for its TUD test data (shared/data/mot/README.md).
const EXPECTED: Record<string, Partial<MotMetrics>> = {
  'TUD-Campus': {
    idf1: 0.557659, idp: 0.72973, idr: 0.451253, recall: 0.582173, precision: 0.941441, numUniqueObjects: 8,
    mostlyTracked: 1, partiallyTracked: 6, mostlyLost: 1, falsePositives: 13, misses: 150, idSwitches: 7,
    fragmentations: 7, mota: 0.526462, motp: 0.277201,
  },
  'TUD-Stadtmitte': {
    idf1: 0.644619, idp: 0.81976, idr: 0.531142, recall: 0.608997, precision: 0.93992, numUniqueObjects: 10,
    mostlyTracked: 5, partiallyTracked: 4, mostlyLost: 1, falsePositives: 45, misses: 452, idSwitches: 7,
    fragmentations: 6, mota: 0.564014, motp: 0.345904,
  },
  overall: {
    idf1: 0.624296, idp: 0.799176, idr: 0.512211, recall: 0.60264, precision: 0.940268, numUniqueObjects: 18,
    mostlyTracked: 6, partiallyTracked: 10, mostlyLost: 2, falsePositives: 58, misses: 602, idSwitches: 14,
    fragmentations: 13, mota: 0.555116, motp: 0.330177,
  },
};

test('tracking - mot metrics reproduce the py-motmetrics reference table', (t) => {
  const parts = ['TUD-Campus', 'TUD-Stadtmitte'].map((s) => {
    const m = evaluateMot(loadMot(s, 'gt.txt'), loadMot(s, 'reference-tracker.txt'));
    return [s, m] as [string, MotMetrics];
  });
  const all: [string, MotMetrics][] = [...parts, ['overall', combineMot(parts.map(([, m]) => m))]];
  for (const [name, metrics] of all) {
    for (const [key, want] of Object.entries(EXPECTED[name]!) as [keyof MotMetrics, number][]) {
      if (Number.isInteger(want)) t.is(metrics[key], want, `${name} ${key}`);
      else t.true(Math.abs(metrics[key] - want) < 1e-3, `${name} ${key}: ${metrics[key]} vs ${want}`);
    }
  }
});

test('tracking - mot metrics ignore ground-truth rows flagged 0', (t) => {
  const gt: MotRow[] = [
    { frame: 1, id: 1, x: 0, y: 0, w: 10, h: 10, conf: 1 },
    { frame: 1, id: 2, x: 50, y: 50, w: 10, h: 10, conf: 0 },
  ];
  const m = evaluateMot(gt, [{ frame: 1, id: 7, x: 0, y: 0, w: 10, h: 10, conf: 1 }]);
  t.is(m.numObjects, 1);
  t.is(m.misses, 0);
  t.is(m.mota, 1);
  t.is(m.idf1, 1);
});

test('tracking - mot metrics count a switch and keep a still-valid previous pair', (t) => {
  const box = (frame: number, id: number, x: number): MotRow => ({ frame, id, x, y: 0, w: 10, h: 10, conf: 1 });
  // Frame 2: hypothesis 9 fits object 1 better, but 8 is still within the threshold, so no switch.
  const gt = [box(1, 1, 0), box(2, 1, 0), box(3, 1, 0)];
  const hyp = [box(1, 8, 0), box(2, 8, 2), box(2, 9, 0), box(3, 9, 0)];
  const m = evaluateMot(gt, hyp);
  t.is(m.idSwitches, 1); // frame 3 only: 8 is gone
  t.is(m.falsePositives, 1);
});
