/**
 * The live alarm path's other two rules end to end, every component real: a plate on a traffic plate list raises
 * a watch-list alarm when the plate camera (plates.mp4) shows it, read confidently at track end; and a person who
 * stays in a restricted zone without a readable face (vtest.avi's pedestrians are too small for one) raises a
 * no_face stranger alarm. One stack, both cameras; outcomes waited for with generous bounds.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alarmSubject } from '../alerts/index.js';
import type { StrangerAlarmV1, WatchlistAlarmV1 } from '../common/alarm-schemas.js';
import { createLogger } from '../common/log.js';
import { CACHE_DIR } from '../common/paths.js';
import { parseConfig } from '../config/index.js';
import { DEMO_PLATE_CAMERA, demoConfig, startDemoCameras, startStack, type Stack } from '../runtime/index.js';
import type { SimulatedCameraPool } from '../ingest/index.js';
import { followAlarms, type AlarmFollower } from '../bench/alarm-follow.js';
import { waitFor } from './support/wait.js';

const TRAFFIC = { authorization: 'Bearer demo-investigator-traffic' };
const PS = { authorization: 'Bearer demo-investigator-ps' };
let sim: SimulatedCameraPool;
let stack: Stack;
let follower: AlarmFollower;
let dataDir: string;

test.before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'cvcore-e2e-watchlist-plates-'));
  sim = await startDemoCameras(1, { plateCamera: true });
  const base = JSON.parse(JSON.stringify(demoConfig(sim, { cameras: 1, dataDir, apiPort: 0, plateCamera: true }))) as Record<string, unknown> & { cameras: Record<string, unknown>[] };
  const config = parseConfig({
    ...base,
    cameras: base.cameras.map((c) => (c['id'] !== 'cam-1' ? c : {
      ...c,
      // cam-1 (public-security, vtest.avi): the whole view restricted, nobody allowed; a person in it for 3 s
      // with no face read is a stranger too.
      zones: [{ id: 'yard', name: 'restricted', polygon: [[0, 0], [640, 0], [640, 520], [0, 520]], restricted: { allowLists: [], noFace: { afterMs: 3_000 } } }],
    })),
  });
  stack = await startStack({ config, log: createLogger({ level: 'warn' }) });
  follower = await followAlarms(stack.natsUrl, 'e2e-watchlist-plates');
});

test.after.always(async () => {
  await follower?.stop();
  await stack?.stop();
  await sim?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test.serial('e2e watchlist plates - a person in a restricted zone with no readable face raises one no_face stranger alarm per track', async (t) => {
  t.timeout(240_000);
  const got = await waitFor('a no_face stranger alarm', 180_000, async () => follower.received.find((r) => r.alarm.kind === 'stranger' && (r.alarm as StrangerAlarmV1).reason === 'no_face'));
  const a = got.alarm as StrangerAlarmV1;
  t.is(got.subject, alarmSubject('stranger', 'shinan', 'cam-1'));
  t.is(a.zone, 'yard');
  t.is(a.similarity, null);
  t.is(a.threshold, null);
  t.true(a.dwellMs >= 3_000, `dwell ${a.dwellMs}`);
  t.is(a.department, 'public-security');
  const strangers = follower.received.filter((r) => r.alarm.kind === 'stranger').map((r) => r.alarm.track);
  t.is(new Set(strangers).size, strangers.length, 'no track alarmed twice');
});

test.serial('e2e watchlist plates - a plate on a traffic plate list raises a watch-list alarm on the plate camera, traffic\'s only', async (t) => {
  t.timeout(360_000);
  const truth = JSON.parse(await readFile(join(CACHE_DIR, 'media', 'plates.json'), 'utf8')) as { vehicles: { plate: string | null; firstFrame: number }[] };
  // A pass that does not start on the loop's first frame (that one begins while the pipeline warms up).
  const plates = truth.vehicles.filter((v) => v.plate !== null && v.firstFrame > 0).map((v) => v.plate!);
  const api = stack.apiUrl;
  const created = await fetch(`${api}/api/v1/watchlists`, { method: 'POST', headers: { ...TRAFFIC, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'hot plates', department: 'traffic', kind: 'plate' }) });
  t.is(created.status, 201);
  const list = await created.json() as { id: string };
  const entries: string[] = [];
  for (const plate of plates) {
    const res = await fetch(`${api}/api/v1/watchlists/${list.id}/entries`, { method: 'POST', headers: { ...TRAFFIC, 'content-type': 'application/json' }, body: JSON.stringify({ label: `vehicle ${plate}`, plate, match: 'fuzzy' }) });
    t.is(res.status, 201, await res.clone().text());
    entries.push((await res.json() as { id: string }).id);
  }
  const got = await waitFor('a plate watch-list alarm', 240_000, async () => follower.received.find((r) => r.alarm.kind === 'watchlist'));
  const a = got.alarm as WatchlistAlarmV1;
  t.is(got.subject, alarmSubject('watchlist', 'shinan', DEMO_PLATE_CAMERA.id));
  t.is(a.entryKind, 'plate');
  t.is(a.list, list.id);
  t.true(entries.includes(a.entry));
  t.is(a.department, 'traffic');
  t.true(a.plate !== null && a.plateEdits !== null && a.plateEdits <= 1, JSON.stringify(a));
  t.is(a.similarity, null);
  t.true(a.matchedFrameAt >= a.firstSeenAt);
  t.is((await fetch(`${api}/api/v1/alarms/${a.id}`, { headers: TRAFFIC })).status, 200);
  t.is((await fetch(`${api}/api/v1/alarms/${a.id}`, { headers: PS })).status, 404);
  // Once per track and entry.
  const keys = follower.received.filter((r) => r.alarm.kind === 'watchlist').map((r) => `${r.alarm.track}|${(r.alarm as WatchlistAlarmV1).entry}`);
  t.is(new Set(keys).size, keys.length);
});
