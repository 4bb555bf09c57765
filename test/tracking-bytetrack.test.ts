import test from 'ava';
import type { Detection, ObjectClass, TrackUpdate } from '../common/messages.js';
import { createTracker, DEFAULT_TRACKER_OPTIONS } from '../tracking/index.js';

const det = (x: number, y: number, score = 0.9, cls: ObjectClass = 'person', w = 40, h = 100): Detection => ({ box: { x, y, w, h }, score, cls });
const confirmed = (u: readonly TrackUpdate[]) => u.filter((x) => x.state === 'confirmed');

test('tracking - bytetrack keeps ids of two people walking past each other', (t) => {
  const tracker = createTracker('cam');
  const ids = new Map<number, number>();
  for (let k = 0; k < 40; k++) {
    // Boxes overlap for a few frames in the middle; motion decides who is who.
    const step = tracker.update(k, k * 40, [det(100 + 6 * k, 100), det(400 - 6 * k, 104)]);
    for (const u of confirmed(step.updates)) {
      const leftMover = u.velocity.vx > 0 ? 1 : 0;
      if (k > 5) t.is(ids.get(u.trackId) ?? leftMover, leftMover, `frame ${k} track ${u.trackId}`);
      if (k > 5) ids.set(u.trackId, leftMover);
    }
  }
  t.is(ids.size, 2);
});

test('tracking - bytetrack keeps a track alive on low-score detections', (t) => {
  const tracker = createTracker('cam');
  for (let k = 0; k < 5; k++) tracker.update(k, k * 40, [det(100 + 2 * k, 100, 0.95)]);
  // An occlusion drops the score below the high threshold but above the low one.
  for (let k = 5; k < 10; k++) {
    const step = tracker.update(k, k * 40, [det(100 + 2 * k, 100, 0.3)]);
    t.is(step.updates.length, 1);
    t.is(step.updates[0]!.trackId, 1);
    t.is(step.updates[0]!.state, 'confirmed');
  }
});

test('tracking - bytetrack confirms after minHits and drops one-frame clutter silently', (t) => {
  const tracker = createTracker('cam');
  tracker.update(0, 0, []);
  let step = tracker.update(1, 40, [det(100, 100)]);
  t.deepEqual(step.updates.map((u) => u.state), ['tentative']);
  step = tracker.update(2, 80, [det(101, 100)]);
  t.deepEqual(step.updates.map((u) => u.state), ['confirmed']);
  tracker.update(3, 120, [det(102, 100), det(500, 300)]); // clutter appears once
  step = tracker.update(4, 160, [det(103, 100)]);
  t.is(step.ended.length, 0);
  t.is(tracker.size, 1);
});

test('tracking - bytetrack associates within a class only', (t) => {
  const tracker = createTracker('cam');
  tracker.update(0, 0, [det(100, 100, 0.9, 'person')]);
  const step = tracker.update(1, 40, [det(100, 100, 0.9, 'car')]);
  const person = step.updates.find((u) => u.cls === 'person');
  t.is(person?.state, 'lost');
  t.is(step.updates.find((u) => u.cls === 'car')?.state, 'tentative');
});

test('tracking - bytetrack ends a lost track with its best shot after maxLostMs', (t) => {
  const tracker = createTracker('cam', { maxLostMs: 300 });
  const shots: number[] = [];
  const sizes = [40, 60, 50];
  sizes.forEach((w, k) => {
    const step = tracker.update(k, k * 100, [det(100, 100, 0.9, 'person', w, 100)]);
    if (step.updates[0]!.bestShot) shots.push(k);
  });
  t.deepEqual(shots, [0, 1]);
  let ended: readonly { bestShot: { seq: number } ; hits: number }[] = [];
  for (let k = 3; k < 8 && ended.length === 0; k++) ended = tracker.update(k, k * 100, []).ended;
  t.is(ended.length, 1);
  t.is(ended[0]!.bestShot.seq, 1);
  t.is(ended[0]!.hits, 3);
  t.is(tracker.size, 0);
});

test('tracking - bytetrack skip ages tracks and finish ends them', (t) => {
  const tracker = createTracker('cam', { maxLostMs: 200 });
  tracker.update(0, 0, [det(100, 100), det(300, 100)]);
  let step = tracker.skip(1, 40);
  t.is(step.updates.length, 2);
  t.is(step.updates[0]!.age, 1);
  for (let k = 2; k < 10; k++) step = tracker.skip(k, k * 40);
  t.is(tracker.size, 0, 'skipped frames count toward removal');
  tracker.update(10, 400, [det(100, 100)]);
  t.deepEqual(tracker.finish(420), [], 'a tentative track ends without an event');
  tracker.update(11, 440, [det(100, 100)]);
  tracker.update(12, 480, [det(101, 100)]);
  const ended = tracker.finish(500);
  t.is(ended.length, 1);
  t.is(tracker.size, 0);
});

test('tracking - bytetrack reports velocity in pixels per second', (t) => {
  const tracker = createTracker('cam');
  let last: TrackUpdate | undefined;
  for (let k = 0; k < 30; k++) last = tracker.update(k, k * 100, [det(100 + 5 * k, 100)]).updates[0];
  t.true(Math.abs(last!.velocity.vx - 50) < 3, `vx ${last!.velocity.vx}`);
});

test('tracking - bytetrack rejects unknown or out-of-range options', (t) => {
  t.throws(() => createTracker('cam', { highScore: 2 }), { instanceOf: RangeError, message: /options\.highScore/ });
  t.throws(() => createTracker('cam', { nope: 1 } as never), { instanceOf: TypeError, message: /options\.nope/ });
  t.true(Object.isFrozen(DEFAULT_TRACKER_OPTIONS));
});

test('tracking - bytetrack does not revive a track in the frame it is removed', (t) => {
  const tracker = createTracker('cam', { maxLostMs: 80 });
  tracker.update(0, 0, [det(100, 100)]);
  tracker.update(1, 40, []);
  tracker.update(2, 80, []);
  const step = tracker.update(3, 120, [det(100, 100)]);
  t.deepEqual(step.ended.map((e) => e.trackId), [1]);
  t.deepEqual(step.updates.map((u) => [u.trackId, u.state]), [[1, 'removed'], [2, 'tentative']]);
});
