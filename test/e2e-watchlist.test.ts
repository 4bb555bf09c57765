/**
 * The live alarm path end to end, every component real: the face camera (faces.mp4, the astronaut on camera 7 s
 * of every 16, a distinct track each time) through RTSP, ffmpeg, centernet, the tracker, the live face task
 * (blazeface + faceres), the alarm rules, the durable outbox, a nats-server from nats.conf and a durable JetStream
 * consumer; the watch-list store and the search index on disk; lists managed through the HTTP API. One stack for
 * every case, serial. Outcomes are waited for with generous bounds; no timing is asserted (the latency is a
 * benchmark figure: bench/alarm-latency.ts).
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alarmSubject } from '../alerts/index.js';
import type { FrequencyAlarmV1, StrangerAlarmV1, WatchlistAlarmV1 } from '../common/alarm-schemas.js';
import { createLogger } from '../common/log.js';
import { mediaPath } from '../common/paths.js';
import { parseConfig } from '../config/index.js';
import { embedFacesFromImage } from '../inference/index.js';
import { openWatchlists } from '../watchlist/index.js';
import { DEMO_FACE_CAMERA, demoConfig, startDemoCameras, startStack, type Stack } from '../runtime/index.js';
import type { SimulatedCameraPool } from '../ingest/index.js';
import { followAlarms, type AlarmFollower } from '../bench/alarm-follow.js';
import { waitFor } from './support/wait.js';
import { openDataKeyring } from '../common/data-key.js';

const CAM = DEMO_FACE_CAMERA.id;
const PS = { authorization: 'Bearer demo-investigator-ps' };
const TRAFFIC = { authorization: 'Bearer demo-investigator-traffic' };
let sim: SimulatedCameraPool;
let stack: Stack;
let follower: AlarmFollower;
let dataDir: string;
let allowList: string;
/** Person records of the face camera (track ends), in order. */
const people: { id: string; start: number; end: number }[] = [];

test.before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'cvcore-e2e-watchlist-'));
  // The restricted zone's allow-list must exist before the config names it: made in the stack's own store, then
  // closed (the stack opens the same directory). It holds Messi only.
  const store = await openWatchlists({ dir: join(dataDir, 'watchlists'), embedder: { embedFacesFromImage }, log: createLogger({ level: 'error' }), dataKey: (await openDataKeyring(dataDir, undefined)).ring });
  const list = await store.createList({ name: 'staff', department: DEMO_FACE_CAMERA.department, kind: 'face' }, 'e2e');
  await store.addFaceEntry(list.id, { label: 'staff member', photos: [new Uint8Array(await readFile(mediaPath('messi5.jpg')))] }, 'e2e', 'all');
  await store.close();
  allowList = list.id;

  sim = await startDemoCameras(0, { faceCamera: true });
  const base = JSON.parse(JSON.stringify(demoConfig(sim, { cameras: 0, dataDir, apiPort: 0, faceCamera: true }))) as Record<string, unknown> & { cameras: Record<string, unknown>[] };
  const { width: W, height: H } = DEMO_FACE_CAMERA;
  const config = parseConfig({
    ...base,
    // Only the face camera's people matter here.
    inference: { ...(base['inference'] as object), classes: ['person'] },
    // The person comes back every 16 s: a cooldown under that gap, so each appearance may alarm.
    alarms: { ...(base['alarms'] as object), cooldownMs: 5_000, frequency: [{ id: 'thrice', cameras: [CAM], minCount: 3, window: '10m', minGap: '5s' }] },
    cameras: base.cameras.map((c) => ({
      ...c,
      // The whole view is restricted, Messi allowed. People are in a zone by their foot point, and the person
      // stands on the frame's bottom edge: the polygon reaches below it.
      zones: [{ id: 'vault', name: 'restricted', polygon: [[0, 0], [W, 0], [W, H + 40], [0, H + 40]], restricted: { allowLists: [allowList], noFace: null } }],
    })),
  });
  stack = await startStack({ config, log: createLogger({ level: 'warn' }) });
  stack.pipeline.on((e) => {
    if (e.type === 'record' && e.record.cameraId === CAM && e.record.cls === 'person' && e.record.embedding !== null) people.push({ id: e.record.id, start: e.record.start, end: e.record.end });
  });
  follower = await followAlarms(stack.natsUrl, 'e2e-watchlist');
});

test.after.always(async () => {
  await follower?.stop();
  await stack?.stop();
  await sim?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const ofKind = (kind: string) => follower.received.filter((r) => r.alarm.kind === kind);
const watchAlarms = () => ofKind('watchlist').map((r) => r.alarm as WatchlistAlarmV1);
/** Waits until `n` more people with a face have left the camera (appearances ended). */
async function appearances(n: number, what: string): Promise<void> {
  const seen = people.length;
  await waitFor(`${n} more appearances (${what})`, 60_000 + n * 40_000, async () => people.length >= seen + n);
  await stack.pipeline.idle();
}

test.serial('e2e watchlist - a restricted zone whose allow-list holds Messi raises a stranger alarm (unknown_face) for the astronaut', async (t) => {
  t.timeout(240_000);
  const first = await waitFor('a stranger alarm at the durable consumer', 180_000, async () => ofKind('stranger')[0]);
  const a = first.alarm as StrangerAlarmV1;
  t.is(first.subject, alarmSubject('stranger', 'shinan', CAM));
  t.is(a.zone, 'vault');
  t.is(a.reason, 'unknown_face');
  t.deepEqual(a.allowLists, [allowList]);
  t.true(a.similarity !== null && a.threshold !== null && a.similarity < a.threshold, `similarity ${a.similarity} threshold ${a.threshold}`);
  t.is(a.department, DEMO_FACE_CAMERA.department);
  t.regex(a.track, new RegExp(`^${CAM}:\\d+:\\d+$`));
  t.is(a.snapshotRef, `/api/v1/alarms/${a.id}/snapshot`);
});

test.serial('e2e watchlist - with only Messi on the department\'s face lists, the astronaut raises no watch-list alarm', async (t) => {
  t.timeout(240_000);
  await appearances(2, 'Messi only');
  t.deepEqual(watchAlarms(), []);
});

test.serial('e2e watchlist - the astronaut on a face list: one watch-list alarm per appearance; removed, no more', async (t) => {
  t.timeout(480_000);
  const api = stack.apiUrl;
  const created = await fetch(`${api}/api/v1/watchlists`, { method: 'POST', headers: { ...PS, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'wanted', department: DEMO_FACE_CAMERA.department, kind: 'face' }) });
  t.is(created.status, 201);
  const list = await created.json() as { id: string };
  const form = new FormData();
  form.append('label', 'astronaut');
  form.append('photo', new Blob([await readFile(mediaPath('astronaut.png'))], { type: 'image/png' }), 'astronaut.png');
  const added = await fetch(`${api}/api/v1/watchlists/${list.id}/entries`, { method: 'POST', headers: PS, body: form });
  t.is(added.status, 201, await added.clone().text());
  const entry = await added.json() as { id: string };
  const listedAt = Date.now();

  // Appearances that begin after the entry exists: each alarms once, at the durable consumer.
  await waitFor('watch-list alarms for two appearances', 240_000, async () => new Set(watchAlarms().map((a) => a.track)).size >= 2);
  const alarms = watchAlarms();
  const got = follower.received.filter((r) => r.alarm.kind === 'watchlist');
  for (const r of got) t.is(r.subject, alarmSubject('watchlist', 'shinan', CAM));
  for (const a of alarms) {
    t.is(a.list, list.id);
    t.is(a.entry, entry.id);
    t.is(a.entryKind, 'face');
    t.is(a.department, DEMO_FACE_CAMERA.department);
    t.true(a.similarity! >= a.threshold!, `similarity ${a.similarity}`);
    t.true(a.matchedFrameAt >= a.firstSeenAt);
    t.is(a.track.split(':')[2], String(a.firstSeenAt));
  }
  t.is(new Set(alarms.map((a) => a.track)).size, alarms.length, 'one alarm per track');
  t.log('receive - firstSeenAt (ms):', got.map((r) => r.receivedAt - (r.alarm as WatchlistAlarmV1).firstSeenAt).join(', '));
  // Every appearance that ended after listing (and began after it) alarmed.
  await appearances(1, 'one more listed appearance');
  const tracks = new Set(watchAlarms().map((a) => a.track));
  for (const p of people.filter((x) => x.start > listedAt)) t.true(tracks.has(p.id), `appearance ${p.id} alarmed`);

  // The alarm is in the alarm log, with its snapshot, for the camera's department only.
  const one = alarms[0]!;
  const mine = await fetch(`${api}/api/v1/alarms/${one.id}`, { headers: PS });
  t.is(mine.status, 200);
  const snap = await fetch(`${api}/api/v1/alarms/${one.id}/snapshot`, { headers: PS });
  t.is(snap.status, 200);
  t.is(snap.headers.get('content-type'), 'image/jpeg');
  const theirs = await fetch(`${api}/api/v1/alarms/${one.id}`, { headers: TRAFFIC });
  t.is(theirs.status, 404);
  t.is((await fetch(`${api}/api/v1/alarms/${one.id}/snapshot`, { headers: TRAFFIC })).status, 404);
  const page = await (await fetch(`${api}/api/v1/alarms`, { headers: TRAFFIC })).json() as { alarms: unknown[] };
  t.deepEqual(page.alarms, []);

  // Removed: later appearances raise nothing.
  const removed = await fetch(`${api}/api/v1/watchlists/${list.id}/entries/${entry.id}`, { method: 'DELETE', headers: PS });
  t.true(removed.status === 200 || removed.status === 204, `DELETE ${removed.status}`);
  const removedAt = Date.now();
  await appearances(2, 'after removal');
  t.deepEqual(watchAlarms().filter((a) => a.firstSeenAt > removedAt).map((a) => a.track), []);
});

test.serial('e2e watchlist - a frequency rule (3 appearances in 10 min, 5 s apart) raised exactly one frequency alarm', async (t) => {
  t.timeout(240_000);
  const got = await waitFor('a frequency alarm at the durable consumer', 120_000, async () => ofKind('frequency')[0]);
  const a = got.alarm as FrequencyAlarmV1;
  t.is(got.subject, alarmSubject('frequency', 'shinan', CAM));
  t.is(a.rule, 'thrice');
  t.is(a.minCount, 3);
  t.is(a.count, 3, JSON.stringify(a.appearances));
  t.is(a.windowMs, 600_000);
  t.is(a.minGapMs, 5_000);
  t.is(a.appearances.length, 3);
  t.is(a.appearances[2]!.track, a.track, 'the raising track is the last appearance');
  t.is(new Set(a.appearances.map((x) => x.track)).size, 3);
  for (let i = 1; i < 3; i++) t.true(a.appearances[i]!.at - a.appearances[i - 1]!.at >= 5_000);
  // Many appearances since: the rule's cooldown (its window) keeps the same face quiet.
  t.true(people.length >= 6, `appearances ${people.length}`);
  t.is(ofKind('frequency').length, 1, 'one frequency alarm only');
  // One stranger alarm per track at most.
  const strangers = ofKind('stranger').map((r) => r.alarm.track);
  t.is(new Set(strangers).size, strangers.length, 'no track alarmed twice as a stranger');
});

test.serial('e2e watchlist - /metrics counts the alarms by kind and the live face reads by result', async (t) => {
  const text = await (await fetch(`${stack.apiUrl}/metrics`)).text();
  const value = (line: string): number => Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  const stats = stack.pipeline.stats();
  t.true(stats.alarms.watchlist >= 1 && stats.alarms.frequency === 1 && stats.alarms.stranger >= 1, JSON.stringify(stats.alarms));
  for (const kind of ['watchlist', 'frequency', 'stranger'] as const) t.true(value(`cvcore_alarms_total{kind="${kind}"}`) >= stats.alarms[kind], kind);
  t.true(value('cvcore_live_face_reads_total{result="usable"}') >= 1, text.split('\n').filter((l) => l.startsWith('cvcore_live_face')).join('\n'));
});
