import test from 'ava';
import { FrameAssembler } from '../ingest/index.js';

test('ingest - a stream cut mid-frame yields only whole frames and reports the partial one', (t) => {
  const a = new FrameAssembler(12);
  const out: Uint8Array[] = [];
  const bytes = Uint8Array.from({ length: 30 }, (_, i) => i);
  // Chunks that straddle frame boundaries, as a pipe delivers them.
  for (const [s, e] of [[0, 5], [5, 17], [17, 30]] as const) a.push(bytes.subarray(s, e), (d) => out.push(d));
  t.is(out.length, 2);
  t.deepEqual([...out[1]!], Array.from({ length: 12 }, (_, i) => 12 + i));
  t.true(out[0]!.buffer instanceof SharedArrayBuffer);
  t.not(out[0]!.buffer, out[1]!.buffer, 'each frame owns its buffer');
  t.is(a.pending, 6);
  t.is(a.end(), 6, 'the 6 trailing bytes are discarded and reported');
  t.is(a.end(), 0);
});
