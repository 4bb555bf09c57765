/**
 * The live alarm path end to end, every component real: the face camera (faces.mp4, the astronaut on camera 7 s
 * of every 16) through RTSP, ffmpeg, centernet, the tracker, the live face task (blazeface + faceres), the alarm
 * rules, the durable outbox, a nats-server from nats.conf and a durable JetStream consumer; RocksDB on disk for
 * the frequency rule's look-back. One stack for every case, serial. Outcomes are waited for with generous
 * bounds; no timing is asserted (latency is a benchmark figure: bench/alarm-latency.ts).
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alarmSubject } from '../alerts/index.js';
import type { FrequencyAlarmV1, StrangerAlarmV1 } from '../common/alarm-schemas.js';
import { createLogger } from '../common/log.js';
import { parseConfig } from '../config/index.js';
import { DEMO_FACE_CAMERA, demoConfig, startDemoCameras, startStack, type Stack } from '../runtime/index.js';
import type { SimulatedCameraPool } from '../ingest/index.js';
import { followAlarms, type AlarmFollower } from '../bench/alarm-follow.js';
import { waitFor } from './support/wait.js';

const CAM = DEMO_FACE_CAMERA.id;
let sim: SimulatedCameraPool;
let stack: Stack;
let follower: AlarmFollower;
let dataDir: string;
/** Person records of the face camera (track ends), in order. */
const people: { id: string; start: number; end: number; hasFace: boolean }[] = [];

test.before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'cvcore-e2e-watchlist-'));
  sim = await startDemoCameras(0, { faceCamera: true });
  const base = JSON.parse(JSON.stringify(demoConfig(sim, { cameras: 0, dataDir, apiPort: 0, faceCamera: true }))) as Record<string, unknown> & { cameras: Record<string, unknown>[] };
  const { width: W, height: H } = DEMO_FACE_CAMERA;
  const config = parseConfig({
    ...base,
    // Only the face camera's people matter here.
    inference: { ...(base['inference'] as object), classes: ['person'] },
    alarms: { ...(base['alarms'] as object), frequency: [{ id: 'thrice', cameras: [CAM], minCount: 3, window: '10m', minGap: '5s' }] },
    cameras: base.cameras.map((c) => ({
      ...c,
      // The whole view is restricted; nobody is on its allow-list, so each appearance is a stranger. People are in a
      // zone by their foot point, and the person stands on the frame's bottom edge: the polygon reaches below it.
      zones: [{ id: 'vault', name: 'restricted', polygon: [[0, 0], [W, 0], [W, H + 40], [0, H + 40]], restricted: { allowLists: [], noFace: null } }],
    })),
  });
  stack = await startStack({ config, log: createLogger({ level: 'warn' }) });
  stack.pipeline.on((e) => {
    if (e.type === 'record' && e.record.cameraId === CAM && e.record.cls === 'person') people.push({ id: e.record.id, start: e.record.start, end: e.record.end, hasFace: e.record.embedding !== null });
  });
  follower = await followAlarms(stack.natsUrl, 'e2e-watchlist');
});

test.after.always(async () => {
  await follower?.stop();
  await stack?.stop();
  await sim?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const ofKind = <K extends string>(kind: K) => follower.received.filter((r) => r.alarm.kind === kind);

test.serial('e2e watchlist - a restricted zone raises one stranger alarm (unknown_face) per appearance, on its subject', async (t) => {
  t.timeout(240_000);
  const first = await waitFor('a stranger alarm at the durable consumer', 180_000, async () => ofKind('stranger')[0]);
  const a = first.alarm as StrangerAlarmV1;
  t.is(first.subject, alarmSubject('stranger', 'shinan', CAM));
  t.is(a.zone, 'vault');
  t.is(a.reason, 'unknown_face');
  t.is(a.similarity, null);
  t.deepEqual(a.allowLists, []);
  t.is(a.department, DEMO_FACE_CAMERA.department);
  t.regex(a.track, new RegExp(`^${CAM}:\\d+:\\d+$`));
  t.is(a.snapshotRef, `/api/v1/alarms/${a.id}/snapshot`);
});

test.serial('e2e watchlist - a frequency rule (3 appearances in 10 min, 5 s apart) raises exactly one frequency alarm', async (t) => {
  t.timeout(360_000);
  const got = await waitFor('a frequency alarm at the durable consumer', 240_000, async () => ofKind('frequency')[0]);
  const a = got.alarm as FrequencyAlarmV1;
  t.is(got.subject, alarmSubject('frequency', 'shinan', CAM));
  t.is(a.rule, 'thrice');
  t.is(a.minCount, 3);
  t.is(a.count, 3, JSON.stringify(a.appearances));
  t.is(a.windowMs, 600_000);
  t.is(a.minGapMs, 5_000);
  t.is(a.appearances.length, 3);
  t.is(a.appearances[2]!.track, a.track, 'the raising track is the last appearance');
  // Distinct tracks, oldest first, each an appearance of the loop (16 s apart).
  t.is(new Set(a.appearances.map((x) => x.track)).size, 3);
  for (let i = 1; i < 3; i++) t.true(a.appearances[i]!.at - a.appearances[i - 1]!.at >= 5_000);
  // Two more appearances: the rule's cooldown (its window) keeps the same face quiet.
  const seen = people.length;
  await waitFor('two more appearances of the person', 120_000, async () => people.length >= seen + 2);
  await stack.pipeline.idle();
  t.is(ofKind('frequency').length, 1, 'one frequency alarm only');
  // One stranger alarm per appearance (track) with a face read, never two for one track.
  const strangers = ofKind('stranger').map((r) => r.alarm.track);
  t.is(new Set(strangers).size, strangers.length, 'no track alarmed twice');
  t.true(strangers.length >= 3, `stranger alarms ${strangers.length}, appearances ${people.length}`);
});
