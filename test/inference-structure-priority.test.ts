import test from 'ava';
import { InferenceError } from '../common/errors.js';
import { StructureQueue } from '../inference/index.js';

const later = (): { promise: Promise<string>; resolve: (v: string) => void } => {
  let resolve!: (v: string) => void;
  const promise = new Promise<string>((r) => { resolve = r; });
  return { promise, resolve };
};
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('inference - structuring waits for a thread detection is not using and never takes the last one', async (t) => {
  const q = new StructureQueue(2, 8);
  q.detecting(1);
  q.detecting(1);
  const started: string[] = [];
  const a = later();
  const b = later();
  const pa = q.submit(() => { started.push('a'); return a.promise; });
  const pb = q.submit(() => { started.push('b'); return b.promise; });
  await tick();
  t.deepEqual(started, [], 'both threads detect: structuring waits');
  q.detecting(-1);
  await tick();
  t.deepEqual(started, ['a'], 'one thread free: one structure task');
  q.detecting(-1);
  await tick();
  t.deepEqual(started, ['a'], 'never both threads: detection keeps one');
  a.resolve('A');
  t.is(await pa, 'A');
  await tick();
  t.deepEqual(started, ['a', 'b']);
  b.resolve('B');
  t.is(await pb, 'B');
  await tick();
  t.deepEqual(q.stats(), { queued: 0, running: 0, done: 2, dropped: 0 });
});

test('inference - a full structuring queue drops its oldest task with INFERENCE_BUSY, and close rejects the rest', async (t) => {
  const q = new StructureQueue(1, 2);
  q.detecting(1);
  const first = q.submit(async () => 'first');
  const second = q.submit(async () => 'second');
  const third = q.submit(async () => 'third');
  const err = await t.throwsAsync(first, { instanceOf: InferenceError });
  t.is((err as InferenceError).code, 'INFERENCE_BUSY');
  t.deepEqual(q.stats(), { queued: 2, running: 0, done: 0, dropped: 1 });
  q.detecting(-1);
  t.is(await second, 'second', 'one thread and no detection: structuring runs');
  t.is(await third, 'third');
  q.detecting(1);
  const waiting = q.submit(async () => 'never');
  q.close();
  t.is((await t.throwsAsync(waiting) as InferenceError).code, 'INFERENCE_POOL_CLOSED');
});
