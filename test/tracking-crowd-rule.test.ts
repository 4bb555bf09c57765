import test from 'ava';
import { TrackingError } from '../common/errors.js';
import type { CrowdAlertEvent } from '../common/messages.js';
import { CrowdRule, DEFAULT_CROWD_RULE, validateCrowdRule, type CrowdRuleOptions } from '../tracking/index.js';

const RULE: CrowdRuleOptions = {
  ...DEFAULT_CROWD_RULE,
  threshold: 10,
  clearThreshold: 6,
  sustainMs: 3000,
  clearMs: 4000,
  cooldownMs: 10_000,
  updateStep: 5,
  severities: [
    { severity: 'low', minCount: 10 },
    { severity: 'high', minCount: 20 },
  ],
};

/** Feed one count per second starting at t0; returns the events. */
function run(rule: CrowdRule, counts: readonly number[], t0 = 0): CrowdAlertEvent[] {
  const out: CrowdAlertEvent[] = [];
  counts.forEach((count, k) => {
    const ev = rule.observe({ cameraId: 'cam', zoneId: 'z', count, density: null, at: t0 + k * 1000 }, 100 + k);
    if (ev) out.push(ev);
  });
  return out;
}

test('tracking - crowd rule raises only after the sustain window', (t) => {
  const rule = new CrowdRule('cam', 'z', RULE);
  const events = run(rule, [5, 12, 12, 12, 12]);
  t.is(events.length, 1);
  const e = events[0]!;
  t.is(e.phase, 'raised');
  t.is(e.startedAt, 1000);
  t.is(e.at, 4000);
  t.is(e.incidentId, 'cam.z.1000');
  t.deepEqual(e.evidence, [12, 12, 12, 12]);
  t.is(e.snapshotSeq, 104);
  t.is(e.severity, 'low');
  t.is(e.windowMs, 3000);
  t.true(rule.active);
});

test('tracking - crowd rule makes one incident of a count flapping around the threshold', (t) => {
  const rule = new CrowdRule('cam', 'z', RULE);
  const flapping = [11, 11, 11, 11, 9, 10, 8, 11, 9, 12, 7, 10, 9, 11, 8, 10];
  const events = run(rule, flapping);
  t.deepEqual(events.map((e) => e.phase), ['raised']);
  // Drop below the clear threshold for clearMs: cleared, then quiet during the cooldown despite a new crowd.
  const later = run(rule, [3, 3, 3, 3, 3, 12, 12, 12, 12, 12], 20_000);
  t.deepEqual(later.map((e) => e.phase), ['cleared']);
  t.is(later[0]!.incidentId, events[0]!.incidentId);
  t.false(rule.active);
  const next = run(rule, [12, 12, 12, 12], 36_000);
  t.deepEqual(next.map((e) => e.phase), ['raised']);
  t.not(next[0]!.incidentId, events[0]!.incidentId);
});

test('tracking - crowd rule updates on growth by updateStep and on severity change', (t) => {
  const rule = new CrowdRule('cam', 'z', RULE);
  const events = run(rule, [10, 10, 10, 10, 12, 14, 15, 16, 21, 21, 15]);
  t.deepEqual(events.map((e) => [e.phase, e.count, e.severity]), [
    ['raised', 10, 'low'],
    ['updated', 15, 'low'],
    ['updated', 21, 'high'],
    ['updated', 15, 'low'],
  ]);
  t.true(events.every((e) => e.incidentId === 'cam.z.0'));
});

test('tracking - crowd rule a short dip does not clear', (t) => {
  const rule = new CrowdRule('cam', 'z', RULE);
  const events = run(rule, [12, 12, 12, 12, 2, 2, 2, 12, 2, 2, 2, 2, 2]);
  t.deepEqual(events.map((e) => e.phase), ['raised', 'cleared']);
  t.is(events[1]!.at, 12_000);
});

test('tracking - crowd rule uses density when configured', (t) => {
  const rule = new CrowdRule('cam', 'z', { ...RULE, useDensity: true, threshold: 2, clearThreshold: 1 });
  let ev: CrowdAlertEvent | null = null;
  for (let k = 0; k < 5; k++) ev = rule.observe({ cameraId: 'cam', zoneId: 'z', count: 6, density: 3, at: k * 1000 }, null) ?? ev;
  t.is(ev?.phase, 'raised');
  t.is(ev?.density, 3);
});

test('tracking - crowd rule rejects bad thresholds naming the path', (t) => {
  const cases: [Partial<CrowdRuleOptions>, string][] = [
    [{ threshold: 0 }, 'cameras[0].zones[0].crowd.threshold'],
    [{ clearThreshold: 12 }, 'cameras[0].zones[0].crowd.clearThreshold'],
    [{ sustainMs: -1 }, 'cameras[0].zones[0].crowd.sustainMs'],
    [{ updateStep: 0 }, 'cameras[0].zones[0].crowd.updateStep'],
    [{ severities: [{ severity: 'high', minCount: 20 }, { severity: 'low', minCount: 10 }] }, 'cameras[0].zones[0].crowd.severities[1].minCount'],
  ];
  for (const [patch, path] of cases) {
    const err = t.throws(() => validateCrowdRule({ ...RULE, ...patch }, 'cameras[0].zones[0].crowd'), { instanceOf: TrackingError });
    t.is(err?.code, 'TRACKING_BAD_RULE');
    t.is(err?.detail['path'], path);
  }
  t.notThrows(() => validateCrowdRule(DEFAULT_CROWD_RULE, 'crowd'));
});
