import test from 'ava';
import { TrackingError } from '../common/errors.js';
import type { TrackState, TrackUpdate } from '../common/messages.js';
import { validateLine, validateZone, ZoneAnalyzer, type ZoneSpec } from '../tracking/index.js';

// A person whose foot point (bottom centre) is at (fx, fy).
const person = (trackId: number, fx: number, fy: number, at: number, state: TrackState = 'confirmed', lastSeen = at): TrackUpdate => ({
  cameraId: 'cam', trackId, cls: 'person', box: { x: fx - 10, y: fy - 50, w: 20, h: 50 },
  velocity: { vx: 0, vy: 0 }, score: 0.9, age: 1, state, at, lastSeen, bestShot: false,
});

const square: ZoneSpec = { id: 'plaza', polygon: [[0, 0], [100, 0], [100, 100], [0, 100]], areaM2: 50 };

test('tracking - zones count confirmed people by foot point, with density', (t) => {
  const z = new ZoneAnalyzer('cam', [square], []);
  const updates = [
    person(1, 50, 50, 0),
    person(2, 50, 150, 0), // head inside, feet outside
    person(3, 20, 20, 0, 'tentative'),
    person(4, 30, 30, 10_000, 'lost', 7_000), // lost 3 s ago: gone
    { ...person(5, 60, 60, 0), cls: 'car' as const },
  ];
  const { counts } = z.update(updates, 10_000);
  t.deepEqual(counts, [{ cameraId: 'cam', zoneId: 'plaza', count: 1, density: 1 / 50, at: 10_000 }]);
});

test('tracking - zones keep counting a person the tracker lost a moment ago, for holdLostMs', (t) => {
  const z = new ZoneAnalyzer('cam', [square], [], { holdLostMs: 2_000 });
  t.is(z.update([person(1, 50, 50, 0), person(2, 60, 60, 0)], 0).counts[0]!.count, 2);
  // One frame without a detection for person 2: still in the zone where the tracker predicts them.
  t.is(z.update([person(1, 50, 50, 200), person(2, 60, 60, 200, 'lost', 0)], 200).counts[0]!.count, 2);
  t.is(z.dwellMs('plaza', 2), 200, 'the stay goes on');
  // Past the hold, a lost person no longer counts, and a lost person predicted outside never does.
  t.is(z.update([person(1, 50, 50, 2_500), person(2, 60, 60, 2_500, 'lost', 0), person(3, 150, 50, 2_500, 'lost', 2_400)], 2_500).counts[0]!.count, 1);
  t.throws(() => new ZoneAnalyzer('cam', [square], [], { holdLostMs: -1 }), { instanceOf: RangeError, message: /options\.holdLostMs/ });
});

test('tracking - zones measure dwell per stay', (t) => {
  const z = new ZoneAnalyzer('cam', [square], []);
  z.update([person(1, 50, 50, 1000)], 1000);
  z.update([person(1, 55, 50, 3500)], 3500);
  t.is(z.dwellMs('plaza', 1), 2500);
  z.update([person(1, 150, 50, 4000)], 4000);
  t.is(z.dwellMs('plaza', 1), 0);
  z.update([person(1, 50, 50, 5000)], 5000);
  z.update([person(1, 50, 50, 5400)], 5400);
  t.is(z.dwellMs('plaza', 1), 400, 'a new stay starts from zero');
});

test('tracking - lines count crossings with direction and running totals', (t) => {
  const z = new ZoneAnalyzer('cam', [], [{ id: 'door', a: [0, 100], b: [200, 100] }]);
  const seen: string[] = [];
  const path: [number, number, number][] = [
    [1, 50, 80], [1, 50, 120], // down across: a_to_b (line drawn left to right)
    [1, 50, 130], [1, 50, 90], // back up: b_to_a
    [2, 100, 90], [2, 100, 100], [2, 100, 110], // touches the line on the way, still one crossing
    [3, 300, 80], [3, 300, 120], // beyond the end of the segment: not a crossing
  ];
  path.forEach(([id, x, y], k) => {
    for (const c of z.update([person(id, x, y, k)], k).crossings) seen.push(`${c.trackId}:${c.direction}:${c.totals.a_to_b}/${c.totals.b_to_a}`);
  });
  t.deepEqual(seen, ['1:a_to_b:1/0', '1:b_to_a:1/1', '2:a_to_b:2/1']);
});

test('tracking - zones reject bad polygons naming the path', (t) => {
  const cases: [ZoneSpec, string][] = [
    [{ id: 'z', polygon: [[0, 0], [1, 1]] }, 'cameras[0].zones[1].polygon'],
    [{ id: 'z', polygon: [[0, 0], [10, 10], [10, 0], [0, 10]] }, 'cameras[0].zones[1].polygon'], // bow tie
    [{ id: 'z', polygon: [[0, 0], [5, 0], [10, 0]] }, 'cameras[0].zones[1].polygon'], // no area
    [{ id: 'z', polygon: [[0, 0], [10, 0], [10, 10]], areaM2: -1 }, 'cameras[0].zones[1].areaM2'],
  ];
  for (const [zone, path] of cases) {
    const err = t.throws(() => validateZone(zone, 'cameras[0].zones[1]'), { instanceOf: TrackingError });
    t.is(err?.code, 'TRACKING_BAD_ZONE');
    t.is(err?.detail['path'], path);
    t.true(err?.message.startsWith(path));
  }
  t.notThrows(() => validateZone({ id: 'l', polygon: [[0, 0], [10, 0], [10, 5], [5, 5], [5, 10], [0, 10]] }, 'z'));
  const err = t.throws(() => validateLine({ id: 'l', a: [1, 1], b: [1, 1] }, 'cameras[0].lines[0]'), { instanceOf: TrackingError });
  t.is(err?.code, 'TRACKING_BAD_ZONE');
  t.throws(() => new ZoneAnalyzer('cam', [square, { id: 'x', polygon: [] }], []), { message: /^zones\[1\]\.polygon/ });
});

test('tracking - lines forget tracks that are no longer reported', (t) => {
  const z = new ZoneAnalyzer('cam', [], [{ id: 'door', a: [0, 100], b: [200, 100] }]);
  z.update([person(1, 50, 80, 0)], 0);
  z.update([], 1); // track 1 ended without a removed update (camera stopped)
  // Reappearing on the other side is a new sighting, not a crossing.
  t.deepEqual(z.update([person(1, 50, 120, 2)], 2).crossings, []);
});
