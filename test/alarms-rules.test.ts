/**
 * The alarm rules' pure parts and their configuration: durations, the frequency rule's collapsing of
 * appearances closer than minGap, deterministic alarm ids, the config's bounds and cross-field checks; and which
 * cameras get live face reads, against a real watch-list store.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { mediaPath } from '../common/paths.js';
import { parseConfig, parseDuration } from '../config/index.js';
import { closeFaceEmbedder, embedFacesFromImage } from '../inference/index.js';
import { openWatchlists } from '../watchlist/index.js';
import { AlarmRules, alarmId, collapse } from '../watchlist/index.js';
import { sharedTestDataKey } from './support/data-key.js';

test('alarms - durations: s, m, h, d, ms and whole milliseconds; anything else is a typed error naming the path', (t) => {
  t.is(parseDuration('30s'), 30_000);
  t.is(parseDuration('10m'), 600_000);
  t.is(parseDuration('2h'), 7_200_000);
  t.is(parseDuration('7d'), 604_800_000);
  t.is(parseDuration('250ms'), 250);
  t.is(parseDuration('1500'), 1_500);
  t.is(parseDuration(60_000), 60_000);
  for (const bad of ['', '1w', '-5s', '1.5h', 's', 1.5, -1]) {
    const e = t.throws(() => parseDuration(bad as string | number, 'alarms.x'), { instanceOf: ConfigError });
    t.is(e.code, 'CONFIG_INVALID_VALUE');
    t.regex(e.message, /^alarms\.x: /);
  }
});

test('alarms - frequency appearances: sorted by time, one closer than minGap to the last counted one does not count', (t) => {
  const a = (track: string, at: number) => ({ camera: 'c', track, at, similarity: 0.9 });
  const counted = collapse([a('t3', 40_000), a('t1', 0), a('t2', 3_000), a('t4', 44_000), a('t5', 46_000)], 5_000);
  // t2 is 3 s after t1; t4 4 s after t3; t5 6 s after t3 (the last counted), so it counts.
  t.deepEqual(counted.map((x) => x.track), ['t1', 't3', 't5']);
  t.deepEqual(collapse([], 5_000), []);
  t.is(collapse([a('t1', 0), a('t2', 0)], 0).length, 2, 'minGap 0: every track counts');
});

test('alarms - alarm ids are the same for the same decision and differ across camera, track and entry', (t) => {
  const id = alarmId('watchlist', 'cam-1', 'cam-1:4:1000', 'e1');
  t.is(alarmId('watchlist', 'cam-1', 'cam-1:4:1000', 'e1'), id);
  t.regex(id, /^watchlist-[0-9a-f]{32}$/);
  t.not(alarmId('watchlist', 'cam-1', 'cam-1:4:1000', 'e2'), id);
  t.not(alarmId('watchlist', 'cam-1', 'cam-1:5:1000', 'e1'), id);
  t.not(alarmId('watchlist', 'cam-2', 'cam-1:4:1000', 'e1'), id);
});

test('alarms - config: defaults, frequency windows bounded by index.faceDays, restricted zones', (t) => {
  const cfg = parseConfig({});
  t.deepEqual({ ...cfg.alarms, frequency: [...cfg.alarms.frequency] }, { faceRetryMs: 1000, faceMinQuality: 0.5, faceMaxPerTrack: 4, cooldownMs: 60_000, faceThreshold: 0.6, frequency: [] });
  const rule = { id: 'r', minCount: 3, window: '7d' };
  const ok = parseConfig({ alarms: { frequency: [rule] } });
  t.deepEqual({ ...ok.alarms.frequency[0]!, cameras: [...ok.alarms.frequency[0]!.cameras] }, { id: 'r', cameras: ['*'], minCount: 3, window: '7d', minGap: '30s', threshold: 0.6, cooldown: null });
  const fail = (input: unknown, path: string, code = 'CONFIG_INVALID_VALUE'): void => {
    const e = t.throws(() => parseConfig(input), { instanceOf: ConfigError });
    t.is(e.code, code, e.message);
    t.is((e.detail as { path: string }).path, path, e.message);
  };
  fail({ alarms: { frequency: [{ ...rule, window: '8d' }] } }, 'alarms.frequency[0].window');
  fail({ index: { faceDays: 1 }, alarms: { frequency: [{ ...rule, window: '2d' }] } }, 'alarms.frequency[0].window');
  fail({ alarms: { frequency: [{ ...rule, window: '10m', minGap: '10m' }] } }, 'alarms.frequency[0].minGap');
  fail({ alarms: { frequency: [{ ...rule, window: 'soon' }] } }, 'alarms.frequency[0].window');
  fail({ alarms: { frequency: [{ ...rule, minCount: 1 }] } }, 'alarms.frequency[0].minCount', 'CONFIG_OUT_OF_RANGE');
  fail({ alarms: { frequency: [rule, rule] } }, 'alarms.frequency[1].id');
  fail({ alarms: { frequency: [{ ...rule, cameras: ['*', 'cam-1'] }] } }, 'alarms.frequency[0].cameras');
  fail({ alarms: { frequency: [{ ...rule, threshold: 1.5 }] } }, 'alarms.frequency[0].threshold', 'CONFIG_OUT_OF_RANGE');
  fail({ alarms: { faceMinQuality: 2 } }, 'alarms.faceMinQuality', 'CONFIG_OUT_OF_RANGE');
  const cam = { id: 'c', url: 'rtsp://127.0.0.1/c', zones: [{ id: 'z', polygon: [[0, 0], [10, 0], [10, 10]], restricted: { allowLists: ['l1'] } }] };
  const z = parseConfig({ cameras: [cam] }).cameras[0]!.zones[0]!;
  t.deepEqual(JSON.parse(JSON.stringify(z.restricted)), { allowLists: ['l1'], threshold: null, noFace: { afterMs: 30_000 } });
  fail({ cameras: [{ ...cam, zones: [{ ...cam.zones[0], restricted: { allowLists: [], threshold: -0.1 } }] }] }, 'cameras[0].zones[0].restricted.threshold', 'CONFIG_OUT_OF_RANGE');
});

test('alarms - live faces are read only where a rule needs them: a face entry of the department, a frequency rule on the camera, a restricted zone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-alarms-rules-'));
  const store = await openWatchlists({ dir, embedder: { embedFacesFromImage }, log: createLogger({ level: 'error' }), dataKey: await sharedTestDataKey() });
  t.teardown(async () => { await store.close(); await closeFaceEmbedder(); await rm(dir, { recursive: true, force: true }); });
  const log = createLogger({ level: 'error' });
  const cfg = parseConfig({});
  const cam = { id: 'cam-1', department: 'public-security', restricted: new Map() };
  const other = { id: 'cam-2', department: 'traffic', restricted: new Map() };
  const rules = new AlarmRules({ config: cfg.alarms, watchlists: store, faces: null, log });
  // Nothing listed, no rule, no zone: no face task runs (the capacity is what it was before alarms).
  t.false(rules.wantsFaces(cam));
  const list = await store.createList({ name: 'wanted', department: 'public-security', kind: 'face' }, 't');
  const entry = await store.addFaceEntry(list.id, { label: 'a', photos: [new Uint8Array(await readFile(mediaPath('astronaut.png')))] }, 't', 'all');
  t.true(rules.wantsFaces(cam), 'a face entry of the camera\'s department');
  t.false(rules.wantsFaces(other), 'another department\'s entries do not count');
  t.true(await store.removeEntry(list.id, entry!.id, 'all'));
  t.false(rules.wantsFaces(cam), 're-checked: the entry is gone');
  // A restricted zone always needs faces (strangers); a frequency rule on the camera needs them while the index is there.
  t.true(rules.wantsFaces({ ...cam, restricted: new Map([['z', { allowLists: [], threshold: null, noFace: null }]]) }));
  const freq = parseConfig({ alarms: { frequency: [{ id: 'f', cameras: ['cam-1'], minCount: 2, window: '1h' }] } }).alarms;
  const faces = { faceSearch: async () => [] };
  t.true(new AlarmRules({ config: freq, watchlists: store, faces, log }).wantsFaces(cam));
  t.false(new AlarmRules({ config: freq, watchlists: store, faces, log }).wantsFaces(other));
  t.false(new AlarmRules({ config: freq, watchlists: store, faces: null, log }).wantsFaces(cam), 'cluster mode: no index, no frequency rule');
});
