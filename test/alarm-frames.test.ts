/**
 * Crowd-alert frames are kept in the search index with the alert's department: the snapshot route still answers
 * after the index (and the API) are closed and opened again, retention removes them with the records of their
 * time, and a frame of another department is the same 404 as a missing one. Real RocksDB on disk, real API.
 */
import test from 'ava';
import sharp from 'sharp';
import { CvcoreError } from '../common/errors.js';
import { openIndex } from '../search-index/index.js';
import { TOKENS, startHarness } from './support/api-app.js';
import { makeRecord, tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const DAY = 86_400_000;

async function jpeg(seed: number): Promise<Uint8Array> {
  const b = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: seed, g: 80, b: 160 } } }).jpeg().toBuffer();
  return new Uint8Array(b);
}

test('alarm frames - the snapshot route answers a stored frame after a restart, scoped by its department', async (t) => {
  const { dir, cleanup } = tempDir('alarm-frames-api');
  t.teardown(cleanup);
  const frame = await jpeg(200);
  let h = await startHarness({ indexDir: dir, perDepartment: 2 });
  await h.index.putAlarmFrame!({ id: 'cam-tr-1-7', cameraId: 'cam-tr-1', department: 'traffic', at: Date.now(), jpeg: frame });
  // No alert in memory points at it: the stored frame alone answers.
  t.is(h.history.alerts.length, 0);
  await h.close();

  h = await startHarness({ indexDir: dir, perDepartment: 2 });
  t.teardown(() => h.close());
  const ok = await h.get('/api/v1/snapshots/cam-tr-1-7', TOKENS.traffic);
  t.is(ok.status, 200);
  t.is(ok.headers.get('content-type'), 'image/jpeg');
  t.deepEqual(new Uint8Array(await ok.arrayBuffer()), frame);
  // Operators of every department see alert frames, as before (the dashboard shows them).
  t.is((await h.get('/api/v1/snapshots/cam-tr-1-7', TOKENS.operator)).status, 200);
  // Another department's token: the same answer as a frame that does not exist, byte for byte.
  const other = await h.get('/api/v1/snapshots/cam-tr-1-7', TOKENS.ps);
  const missing = await h.get('/api/v1/snapshots/cam-tr-1-8', TOKENS.ps);
  t.is(other.status, 404);
  t.is(missing.status, 404);
  t.is(await other.text(), (await missing.text()).replace('cam-tr-1-8', 'cam-tr-1-7'));
  t.is((await h.get('/api/v1/snapshots/cam-tr-1-7', null)).status, 401);
  // Every look is in the audit trail: who, which frame, and whether it was shown.
  const trail = await (await h.get('/api/v1/audit?limit=1000', TOKENS.admin)).json() as { entries: { tokenId: string; action: string; results: unknown }[] };
  const views = trail.entries.filter((e) => e.action === 'snapshot');
  t.is(views.length, 4);
  t.true(views.some((e) => e.tokenId === 'inv-traffic' && JSON.stringify(e.results).includes('cam-tr-1-7')));
  t.true(views.some((e) => e.tokenId === 'inv-ps' && !JSON.stringify(e.results).includes('cam-tr-1-7')));
});

test('alarm frames - retention removes a frame with the records of its time, and keeps the newer ones', async (t) => {
  const { dir, cleanup } = tempDir('alarm-frames-retention');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0, retention: { trackDays: 2, faceDays: 1 } });
  t.teardown(() => index.close());
  const now = Date.now();
  const old = now - 3 * DAY;
  await index.put(makeRecord({ id: 'old', cameraId: 'cam-1', start: old - 5000, end: old }));
  await index.put(makeRecord({ id: 'new', cameraId: 'cam-1', start: now - 5000, end: now }));
  await index.flush();
  await index.putAlarmFrame({ id: 'cam-1-1', cameraId: 'cam-1', department: 'police', at: old, jpeg: await jpeg(1) });
  await index.putAlarmFrame({ id: 'cam-1-2', cameraId: 'cam-1', department: 'police', at: now, jpeg: await jpeg(2) });
  // Stored again with a newer time (an alert re-sent): one frame, expiring by the newer time.
  await index.putAlarmFrame({ id: 'cam-1-3', cameraId: 'cam-1', department: 'police', at: old, jpeg: await jpeg(3) });
  await index.putAlarmFrame({ id: 'cam-1-3', cameraId: 'cam-1', department: 'police', at: now, jpeg: await jpeg(4) });
  t.truthy(await index.alarmFrame('cam-1-1', 'all'));
  t.is(await index.sweep(now), 1);
  t.is(await index.get('old', 'all'), null);
  t.is(await index.alarmFrame('cam-1-1', 'all'), null);
  t.truthy(await index.get('new', 'all'));
  const kept = await index.alarmFrame('cam-1-2', 'all');
  t.like(kept, { id: 'cam-1-2', cameraId: 'cam-1', department: 'police', at: now });
  t.deepEqual(kept!.jpeg, await jpeg(2));
  t.deepEqual((await index.alarmFrame('cam-1-3', 'all'))!.jpeg, await jpeg(4));
  // Later still, everything goes.
  await index.sweep(now + 3 * DAY);
  t.is(await index.alarmFrame('cam-1-2', 'all'), null);
  t.is(await index.alarmFrame('cam-1-3', 'all'), null);
});

test('alarm frames - scope and bad input', async (t) => {
  const { dir, cleanup } = tempDir('alarm-frames-bad');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
  t.teardown(() => index.close());
  const f = { id: 'cam-1-1', cameraId: 'cam-1', department: 'police', at: 1_700_000_000_000, jpeg: await jpeg(5) };
  await index.putAlarmFrame(f);
  t.truthy(await index.alarmFrame(f.id, { departments: ['police'] }));
  t.is(await index.alarmFrame(f.id, { departments: ['traffic'] }), null);
  t.is(await index.alarmFrame(f.id, { departments: [] }), null);
  t.is(await index.alarmFrame('', 'all'), null);
  const bad = [{ id: 'a\x00b' }, { id: '' }, { id: 'x'.repeat(257) }, { department: '' }, { at: -1 }, { at: 1.5 }, { jpeg: new Uint8Array(0) }];
  for (const b of bad) {
    const err = await t.throwsAsync(index.putAlarmFrame({ ...f, ...b }));
    t.true(err instanceof CvcoreError, JSON.stringify(b));
    t.is((err as CvcoreError).code, 'INDEX_BAD_RECORD', JSON.stringify(b));
  }
});
