import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { AlertError } from '../common/errors.js';
import {
  ALARM_KINDS, alarmSubject, renderAlertSchemas, validateAlarm, validateAlert, validateWireAlert,
  type AlarmKind, type AlarmV1, type CrowdAlertV1,
} from '../alerts/index.js';
import { alertsCommand, staleAlertSchemas } from '../cli/commands/alerts.js';

// Built path from dist/test to the source tree: the JSON files are not copied by tsc.
const schemaDir = fileURLToPath(new URL('../../alerts/schema/', import.meta.url));

const head = {
  schemaVersion: 1 as const, messageId: 'n1:x:1', seq: 7, district: 'Shinan', camera: 'cam-1', department: 'police-shinan',
  location: { lat: 36.06, lon: 120.38 }, track: 'cam-1:12:1700000000000', at: 1_700_000_001_000, emittedAt: 1_700_000_001_005,
  publishedAt: null, snapshotRef: '/api/v1/alarms/wl-1/snapshot', node: 'n1',
};
const good: Record<AlarmKind, AlarmV1> = {
  watchlist: {
    ...head, kind: 'watchlist', id: 'wl-1', list: 'wanted', entry: 'e-1', entryKind: 'face', similarity: 0.71, threshold: 0.55,
    plate: null, plateEdits: null, firstSeenAt: 1_700_000_000_000, matchedFrameAt: 1_700_000_000_400,
  },
  frequency: {
    ...head, kind: 'frequency', id: 'fq-1', rule: 'ten-in-seven', count: 3, minCount: 3, windowMs: 600_000, minGapMs: 60_000, threshold: 0.6,
    appearances: [{ camera: 'cam-1', track: 'cam-1:3:1699999000000', at: 1_699_999_000_000, similarity: 0.8 }],
  },
  stranger: {
    ...head, kind: 'stranger', id: 'st-1', zone: 'server-room', reason: 'unknown_face', similarity: 0.2, threshold: 0.55,
    allowLists: ['staff'], dwellMs: 3_000,
  },
};
const crowd: CrowdAlertV1 = {
  schemaVersion: 1, kind: 'crowd', id: 'inc-1', messageId: 'n1:inc-1:raised:2000', seq: 1, phase: 'raised', district: 'Shinan',
  camera: 'cam-1', zone: 'gate', location: null, count: 30, threshold: 20, density: null, windowMs: 5000,
  severity: 'high', startedAt: 1000, at: 2000, emittedAt: 2001, publishedAt: null, evidence: [21, 25, 30], snapshotRef: null, node: 'n1',
};

function invalidPath(t: import('ava').ExecutionContext, fn: () => unknown, path: string): void {
  const err = t.throws(fn, { instanceOf: AlertError }, `expected a failure at ${path}`);
  t.is(err?.code, 'ALERT_INVALID_EVENT');
  t.is(err?.detail['path'], path, err?.message);
}

test('alerts - every alarm kind: a good one passes; an unknown field, a wrong kind, a similarity over 1 fail naming the path', (t) => {
  for (const kind of ALARM_KINDS) {
    const a = good[kind];
    t.deepEqual(validateAlarm(kind, a), a);
    t.deepEqual(validateWireAlert(a), a);
    invalidPath(t, () => validateAlarm(kind, { ...a, extra: 1 }), 'extra');
    const other = ALARM_KINDS.find((k) => k !== kind) ?? 'watchlist';
    invalidPath(t, () => validateAlarm(kind, { ...a, kind: other }), 'kind');
    invalidPath(t, () => validateAlarm(other, a), 'kind');
    invalidPath(t, () => validateAlarm(kind, { ...a, camera: '' }), 'camera');
    invalidPath(t, () => validateAlarm(kind, { ...a, schemaVersion: 2 }), 'schemaVersion');
    invalidPath(t, () => validateAlarm(kind, { ...a, location: { lat: 0, lon: 181 } }), 'location.lon');
    invalidPath(t, () => validateAlarm(kind, { ...a, seq: 1.5 }), 'seq');
    const { department: _d, ...missing } = a;
    t.throws(() => validateAlarm(kind, missing), { message: /alarm\.department is required/ });
  }
  invalidPath(t, () => validateAlarm('watchlist', { ...good.watchlist, similarity: 1.01 }), 'similarity');
  invalidPath(t, () => validateAlarm('stranger', { ...good.stranger, similarity: 1.2 }), 'similarity');
  const appearance = { camera: 'cam-1', track: 't', at: 1, similarity: 1.5 };
  invalidPath(t, () => validateAlarm('frequency', { ...good.frequency, appearances: [appearance] }), 'appearances[0].similarity');
  invalidPath(t, () => validateAlarm('frequency', { ...good.frequency, appearances: [{ ...appearance, similarity: 1, name: 'x' }] }), 'appearances[0].name');
  invalidPath(t, () => validateAlarm('watchlist', { ...good.watchlist, threshold: -0.1 }), 'threshold');
  invalidPath(t, () => validateAlarm('watchlist', { ...good.watchlist, entryKind: 'person' }), 'entryKind');
  invalidPath(t, () => validateAlarm('stranger', { ...good.stranger, reason: 'odd' }), 'reason');
  invalidPath(t, () => validateAlarm('stranger', { ...good.stranger, allowLists: ['staff', ''] }), 'allowLists[1]');
  t.throws(() => validateAlarm('watchlist', null), { instanceOf: AlertError, message: /must be object/ });
  t.throws(() => validateAlarm('crowd' as AlarmKind, crowd), { instanceOf: TypeError });
});

test('alerts - cross-field rules the schemas do not say', (t) => {
  const plate = { ...good.watchlist, entryKind: 'plate' as const, similarity: null, threshold: null, plate: '鲁B12345', plateEdits: 1 };
  t.deepEqual(validateAlarm('watchlist', plate), plate);
  invalidPath(t, () => validateAlarm('watchlist', { ...plate, plate: null }), 'plate');
  invalidPath(t, () => validateAlarm('watchlist', { ...plate, similarity: 0.9 }), 'similarity');
  invalidPath(t, () => validateAlarm('watchlist', { ...good.watchlist, similarity: null }), 'similarity');
  invalidPath(t, () => validateAlarm('watchlist', { ...good.watchlist, plate: 'X1' }), 'plate');
  invalidPath(t, () => validateAlarm('watchlist', { ...plate, plateEdits: 2 }), 'plateEdits');
  invalidPath(t, () => validateAlarm('watchlist', { ...good.watchlist, matchedFrameAt: 1 }), 'matchedFrameAt');
  invalidPath(t, () => validateAlarm('frequency', { ...good.frequency, count: 2 }), 'count');
  const noFace = { ...good.stranger, reason: 'no_face' as const, similarity: null, threshold: null };
  t.deepEqual(validateAlarm('stranger', noFace), noFace);
  invalidPath(t, () => validateAlarm('stranger', { ...noFace, similarity: 0.1 }), 'similarity');
  // Crowd keeps its own: the phase is decided after the incident began.
  invalidPath(t, () => validateAlert({ ...crowd, at: 500 }), 'at');
  t.deepEqual(validateWireAlert(crowd), crowd);
  // A kind this version does not know is not an error for a reader: it is shown raw.
  t.is(validateWireAlert({ ...good.stranger, kind: 'loitering' }), null);
  t.is(alarmSubject('watchlist', 'Shinan', 'cam.1'), 'citybrain.alerts.watchlist.Shinan.cam_1');
});

test('alerts - the committed JSON Schema files are what `cvcore alerts schemas` generates', async (t) => {
  const rendered = renderAlertSchemas();
  t.deepEqual(rendered.map((r) => r.file).sort(), ['crowd-alert.v1.json', 'crowd-alert.v2.json', 'frequency-alarm.v1.json', 'stranger-alarm.v1.json', 'watchlist-alarm.v1.json']);
  for (const { file, text } of rendered) t.is(await readFile(join(schemaDir, file), 'utf8'), text, `${file} is stale: run cvcore alerts schemas --out alerts/schema`);
  t.deepEqual(await staleAlertSchemas(schemaDir), []);

  // The command itself writes exactly those files, and --check notices a stale one.
  const out = await mkdtemp(join(tmpdir(), 'cvcore-schemas-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  const errWrite = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    t.is(await alertsCommand.run(['schemas', '--out', out]), 0);
    for (const { file, text } of rendered) t.is(await readFile(join(out, file), 'utf8'), text);
    t.is(await alertsCommand.run(['schemas', '--out', out, '--check']), 0);
    await writeFile(join(out, 'stranger-alarm.v1.json'), '{}\n');
    t.is(await alertsCommand.run(['schemas', '--out', out, '--check']), 1);
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }

  // A subscriber in another language only has the files: compiled on their own they accept and refuse the same.
  const crowdSchema = JSON.parse(await readFile(join(schemaDir, 'crowd-alert.v1.json'), 'utf8')) as { $id: string };
  t.is(crowdSchema.$id, 'https://cvcore.example/schema/crowd-alert.v1.json');
  const ajv = new Ajv2020({ strict: true });
  const check = ajv.compile(crowdSchema);
  t.true(check(crowd));
  t.false(check({ ...crowd, severity: 'extreme' }));
  for (const kind of ALARM_KINDS) {
    const file = rendered.find((r) => r.file.startsWith(kind))?.file ?? '';
    const v = ajv.compile(JSON.parse(await readFile(join(schemaDir, file), 'utf8')) as object);
    t.true(v(good[kind]), `${file} accepts a good ${kind} alarm`);
    t.false(v({ ...good[kind], extra: 1 }), `${file} refuses an unknown field`);
  }
});
