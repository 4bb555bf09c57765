/**
 * Track views carry the trajectory (a box every ~0.5 s, in the analysis frame's pixels, with that frame's size)
 * and a link to their recorded clip; search results carry the link but not the trajectory; alarm and crowd alert
 * views link the clip around the alarm. Scope and audit stay as for every track view.
 */
import test from 'ava';
import type { CrowdAlertV1 } from '../common/messages.js';
import { startHarness, TOKENS, T0, type ApiHarness } from './support/api-app.js';
import { makeRecord } from './support/index-records.js';
import { watchAlarm } from './support/watchlist.js';

let h: ApiHarness;
const trajectory = [
  { t: T0 + 100_000, x: 10, y: 20, w: 30, h: 60 },
  { t: T0 + 100_500, x: 14, y: 21, w: 30, h: 61 },
  { t: T0 + 101_000, x: 19, y: 22, w: 31, h: 61 },
  { t: T0 + 101_200, x: 21, y: 22, w: 31, h: 62 },
];
const withTrajectory = {
  ...makeRecord({ id: 'cam-ps-1:77:traj', cameraId: 'cam-ps-1', department: 'public-security', cls: 'person', start: T0 + 100_000, end: T0 + 101_200 }),
  trajectory, frame: { width: 768, height: 576 },
};

test.before(async () => {
  h = await startHarness({ perDepartment: 4, watchlists: true });
  await h.index.put(withTrajectory);
  await h.index.flush();
});
test.after.always(async () => { await h?.close(); });

const json = async (path: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await h.get(path, token);
  return { status: res.status, body: await res.json() as Record<string, unknown> };
};

test('api - a track view carries its trajectory, its frame size and its clip link', async (t) => {
  const { status, body } = await json(`/api/v1/tracks/${encodeURIComponent(withTrajectory.id)}`, TOKENS.ps);
  t.is(status, 200);
  t.deepEqual(body['trajectory'], trajectory);
  t.deepEqual(body['frame'], { width: 768, height: 576 });
  t.is(body['clipRef'], `/api/v1/cameras/cam-ps-1/clip?from=${T0 + 97_000}&to=${T0 + 104_200}`);
  // Another department's investigator: the same 404 as a track that does not exist.
  const hidden = await h.get(`/api/v1/tracks/${encodeURIComponent(withTrajectory.id)}`, TOKENS.traffic);
  t.is(hidden.status, 404);
  // Operators do not see tracks at all.
  t.is((await h.get(`/api/v1/tracks/${encodeURIComponent(withTrajectory.id)}`, TOKENS.operator)).status, 403);
  // The view is audited like every track view.
  const audit = await json('/api/v1/audit?limit=1000', TOKENS.admin);
  const entries = audit.body['entries'] as Array<{ action: string; tokenId: string; results: unknown }>;
  t.true(entries.some((e) => e.action === 'track' && e.tokenId === 'inv-ps' && JSON.stringify(e.results) === JSON.stringify([withTrajectory.id])));
});

test('api - a track kept before trajectories shows an empty one and its camera\'s analysis size', async (t) => {
  const old = h.records['public-security'][0]!;
  const { status, body } = await json(`/api/v1/tracks/${encodeURIComponent(old.id)}`, TOKENS.ps);
  t.is(status, 200);
  t.deepEqual(body['trajectory'], []);
  const cam = h.cameras.get(old.cameraId).config;
  t.deepEqual(body['frame'], { width: cam.width, height: cam.height });
  t.is(body['clipRef'], `/api/v1/cameras/${old.cameraId}/clip?from=${old.start - 3000}&to=${old.end + 3000}`);
});

test('api - search results link their clips and leave the trajectory out', async (t) => {
  const { status, body } = await json('/api/v1/search?camera=cam-ps-1&class=person', TOKENS.ps);
  t.is(status, 200);
  const records = body['records'] as Array<Record<string, unknown>>;
  const r = records.find((x) => x['id'] === withTrajectory.id);
  t.truthy(r);
  t.is(r!['clipRef'], `/api/v1/cameras/cam-ps-1/clip?from=${T0 + 97_000}&to=${T0 + 104_200}`);
  t.false('trajectory' in r!);
  t.deepEqual(r!['frame'], { width: 768, height: 576 });
  t.true(records.every((x) => typeof x['clipRef'] === 'string' && (x['clipRef'] as string).startsWith(`/api/v1/cameras/${x['cameraId'] as string}/clip?from=`)));
});

test('api - alarm views and crowd alerts link the clip around the alarm', async (t) => {
  const at = Date.now() - 60_000;
  const a = watchAlarm({ list: 'l', entry: 'e', department: 'public-security', at, camera: 'cam-ps-2' });
  await h.watchlists!.recordAlarm(a, { snapshot: null, face: null });
  const one = await json(`/api/v1/alarms/${encodeURIComponent(a.id)}`, TOKENS.ps);
  t.is(one.status, 200);
  // Around the frame that matched, not the decision after it.
  t.is(one.body['clipRef'], `/api/v1/cameras/cam-ps-2/clip?from=${a.matchedFrameAt - 10_000}&to=${a.matchedFrameAt + 10_000}`);
  const list = await json('/api/v1/alarms', TOKENS.ps);
  const views = list.body['alarms'] as Array<{ alarm: { id: string }; clipRef?: string }>;
  t.is(views.find((v) => v.alarm.id === a.id)?.clipRef, one.body['clipRef'] as string);

  const alert: CrowdAlertV1 = {
    schemaVersion: 1, kind: 'crowd', id: 'inc-1', messageId: 'm-1', seq: 1, phase: 'raised', district: 'shinan', camera: 'cam-tr-1', zone: 'plaza',
    location: null, count: 9, threshold: 8, density: null, windowMs: 3000, severity: 'low', startedAt: T0, at: T0 + 3000, emittedAt: T0 + 3001,
    publishedAt: null, evidence: [8, 9, 9], snapshotRef: '/api/v1/snapshots/cam-tr-1-7', node: 'test',
  };
  h.history.alerts.push(alert);
  const alerts = await json('/api/v1/alerts', TOKENS.opTraffic);
  t.is(alerts.status, 200);
  const got = (alerts.body['alerts'] as Array<Record<string, unknown>>)[0]!;
  t.is(got['id'], 'inc-1');
  t.is(got['clipRef'], `/api/v1/cameras/cam-tr-1/clip?from=${T0 - 7000}&to=${T0 + 13_000}`);
  t.deepEqual((await json('/api/v1/alerts', TOKENS.ps)).body['alerts'], []);
});
