import test from 'ava';
import { measureTracker } from '../bench/tracker.js';

test('tracking - bench measures a short synthetic run', (t) => {
  const r = measureTracker(50, 5);
  t.is(r.objects, 50);
  t.true(r.updates_per_s > 0 && r.ms_per_frame > 0);
});
