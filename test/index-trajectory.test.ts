/**
 * A track's trajectory from the tracker to the index and across the cluster: the tracker keeps a measured box
 * about every 0.5 s (first and last always, at most 600, thinned evenly), the index stores it compactly at the end
 * of the record's value (records written before read without one, their thumbnail and plate crop intact), and the
 * cluster's record payload carries it in its head.
 */
import test from 'ava';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ClusterError, CvcoreError } from '../common/errors.js';
import type { Detection, TrackEnd, TrackRecord, TrajectoryPoint } from '../common/messages.js';
import { createTracker, TrajectorySampler, TRAJECTORY_INTERVAL_MS, TRAJECTORY_MAX_POINTS } from '../tracking/index.js';
import { openIndex } from '../search-index/index.js';
import { decodeRecordPayload, encodeRecordPayload } from '../cluster/records-index.js';
import { makeRecord, tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const require = createRequire(import.meta.url);
const T0 = 1_700_000_000_000;
const person = (x: number, y: number): Detection => ({ box: { x, y, w: 40, h: 100 }, score: 0.9, cls: 'person' });

/** Runs one person walking right across `frames` frames `stepMs` apart, then empty frames until the track ends. */
function walk(frames: number, stepMs: number, detectAt: (k: number) => boolean = () => true): { end: TrackEnd; seen: Map<number, number> } {
  const tracker = createTracker('cam-1');
  const seen = new Map<number, number>(); // capture time -> x of the detection
  let k = 0;
  for (; k < frames; k++) {
    const at = T0 + k * stepMs;
    const x = 10 + k * 0.5;
    if (detectAt(k)) {
      seen.set(at, x);
      tracker.update(k, at, [person(x, 50)]);
    } else {
      tracker.update(k, at, []);
    }
  }
  for (let i = 0; i < 200; i++, k++) {
    const step = tracker.update(k, T0 + k * stepMs, []);
    if (step.ended.length > 0) return { end: step.ended[0]!, seen };
  }
  throw new Error('the track did not end');
}

test('tracking - a finished track carries a measured box every ~0.5 s, its first and its last', (t) => {
  // 20 s at 10 fps: 200 boxes, one kept every 5th frame.
  const { end, seen } = walk(200, 100);
  const tr = end.trajectory;
  t.is(tr[0]!.t, end.firstSeen);
  t.is(tr[tr.length - 1]!.t, end.lastSeen);
  t.is(tr.length, Math.floor((end.lastSeen - end.firstSeen) / TRAJECTORY_INTERVAL_MS) + 2);
  for (let i = 1; i < tr.length - 1; i++) t.is(tr[i]!.t - tr[i - 1]!.t, TRAJECTORY_INTERVAL_MS, `gap before box ${i}`);
  // Every box is the detection measured at its time (not the filter's estimate), in the same pixels.
  for (const p of tr) {
    t.is(p.x, seen.get(p.t) ?? Number.NaN);
    t.like(p, { y: 50, w: 40, h: 100 });
  }
});

test('tracking - a trajectory holds only measured boxes: none while the track was lost', (t) => {
  // 10 fps for 12 s; no detection from 4.0 s to 5.5 s (the track is lost, then found again).
  const { end } = walk(120, 100, (k) => k < 40 || k >= 55);
  const tr = end.trajectory;
  t.false(tr.some((p) => p.t >= T0 + 4_000 && p.t < T0 + 5_500), 'no box while lost');
  t.true(tr.some((p) => p.t >= T0 + 5_500), 'boxes again once found');
  t.is(tr[tr.length - 1]!.t, end.lastSeen);
});

test('tracking - a long track is thinned evenly to at most 600 boxes, first and last kept', (t) => {
  // 400 s at 5 fps: 800 boxes at the base spacing, over the bound.
  const { end } = walk(2000, 200);
  const tr = end.trajectory;
  t.true(tr.length <= TRAJECTORY_MAX_POINTS, `${tr.length} boxes`);
  t.true(tr.length >= TRAJECTORY_MAX_POINTS / 2, `${tr.length} boxes`);
  t.is(tr[0]!.t, end.firstSeen);
  t.is(tr[tr.length - 1]!.t, end.lastSeen);
  // The spacing doubled once: every gap is twice the base spacing, up to one frame more (boxes come with frames).
  for (let i = 1; i < tr.length - 1; i++) {
    const gap = tr[i]!.t - tr[i - 1]!.t;
    t.true(gap >= 2 * TRAJECTORY_INTERVAL_MS && gap <= 2 * TRAJECTORY_INTERVAL_MS + 200, `gap ${gap} before box ${i}`);
  }

  // The sampler alone, far past the bound: memory stays bounded the whole time, spacing stays even.
  const s = new TrajectorySampler(500, 600);
  for (let i = 0; i <= 100_000; i++) s.add(i * 100, { x: i, y: 0, w: 1, h: 1 });
  const pts = s.points();
  t.true(pts.length <= 600 && pts.length > 300, `${pts.length} points`);
  t.is(pts[0]!.t, 0);
  t.is(pts[pts.length - 1]!.t, 10_000_000);
  const spacing = new Set(pts.slice(1, -1).map((p, i) => p.t - pts[i]!.t));
  t.is(spacing.size, 1);
  t.throws(() => new TrajectorySampler(500, 2), { instanceOf: RangeError });
  t.throws(() => new TrajectorySampler(0), { instanceOf: RangeError });
});

/** The record the pipeline builds from a track end (runtime/pipeline.ts #record), without the models. */
function recordOf(end: TrackEnd, extra: Partial<TrackRecord> = {}): TrackRecord {
  return {
    ...makeRecord({ id: `${end.cameraId}:${end.trackId}:${end.firstSeen}`, cameraId: end.cameraId, cls: end.cls, start: end.firstSeen, end: end.lastSeen }),
    box: end.bestShot.box, trajectory: end.trajectory, frame: { width: 640, height: 480 }, ...extra,
  };
}

test('index - a record keeps its trajectory and frame size across a restart; search results stay without it', async (t) => {
  const { dir, cleanup } = tempDir('traj');
  t.teardown(cleanup);
  const { end } = walk(200, 100);
  const plateCrop = new Uint8Array([0xff, 0xd8, 7, 7, 7, 0xff, 0xd9]);
  const thumbnail = new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]);
  const rec = recordOf(end, { thumbnail, plateCrop, attributes: { plate: '鲁B12345' } });
  let index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
  await index.put(rec);
  await index.flush();
  await index.close();
  index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
  t.teardown(() => index.close());
  const back = await index.get(rec.id, 'all');
  t.truthy(back);
  // Boxes are stored to the whole pixel: the walk's half-pixel steps come back within half a pixel.
  t.is(back!.trajectory!.length, end.trajectory.length);
  back!.trajectory!.forEach((p, i) => {
    const q = end.trajectory[i]!;
    t.is(p.t, q.t);
    t.true(Math.abs(p.x - q.x) <= 0.5 && p.y === q.y && p.w === q.w && p.h === q.h, `box ${i}`);
  });
  t.deepEqual(back!.frame, { width: 640, height: 480 });
  // The other bytes of the value are where they were.
  t.deepEqual([...back!.thumbnail!], [...thumbnail]);
  t.deepEqual([...back!.plateCrop!], [...plateCrop]);
  t.deepEqual([...(await index.plateCrop(rec.id, 'all'))!], [...plateCrop]);
  t.deepEqual([...(await index.thumbnail(rec.id, 'all'))!], [...thumbnail]);
  const page = await index.query({ cameraIds: ['cam-1'] }, 'all');
  t.is(page.records.length, 1);
  t.false('trajectory' in page.records[0]!);
  t.false('trajectoryLength' in page.records[0]!);
  t.deepEqual(page.records[0]!.frame, { width: 640, height: 480 });
});

test('index - a record written before trajectories reads without one, thumbnail and plate crop intact', async (t) => {
  const { dir, cleanup } = tempDir('traj-old');
  t.teardown(cleanup);
  const thumbnail = new Uint8Array([0xff, 0xd8, 4, 5, 6, 0xff, 0xd9]);
  const plateCrop = new Uint8Array([0xff, 0xd8, 8, 8, 0xff, 0xd9]);
  const rec = makeRecord({ id: 'old-1', cameraId: 'cam-1', thumbnail, attributes: { plate: '鲁B54321' } });
  let index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
  await index.put({ ...rec, plateCrop });
  await index.close();
  // Rewrite the record's value exactly as the version before trajectories wrote it: u32 head length, the JSON
  // summary (plateCropLength, no trajectoryLength, no frame), the thumbnail, then the plate crop (sealed).
  const { RocksLevel } = require('@nxtedition/rocksdb') as { RocksLevel: new (p: string, o: object) => { open(): Promise<void>; put(k: string, v: Buffer): Promise<void>; close(): Promise<void> } };
  const raw = new RocksLevel(join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await raw.open();
  const head = Buffer.from(JSON.stringify({
    id: rec.id, cameraId: rec.cameraId, department: rec.department, district: rec.district, cls: rec.cls, start: rec.start, end: rec.end,
    hits: rec.hits, score: rec.score, box: rec.box, attributes: rec.attributes, hasThumbnail: true, hasFace: false, hasPlateCrop: true,
    plateCropLength: plateCrop.byteLength, faceSeq: null, keys: 2,
  }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length);
  // Layout 3 seals the bytes after the summary (aad: the record's key).
  await raw.put(`r\x00${rec.id}`, Buffer.concat([len, head, testDataKey().seal(Buffer.concat([thumbnail, plateCrop]), `r\x00${rec.id}`)]));
  await raw.close();
  index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
  t.teardown(() => index.close());
  const back = await index.get(rec.id, 'all');
  t.truthy(back);
  t.is(back!.trajectory, undefined);
  t.is(back!.frame, undefined);
  t.deepEqual([...back!.thumbnail!], [...thumbnail]);
  t.deepEqual([...back!.plateCrop!], [...plateCrop]);
  t.is((await index.query({ plate: '鲁B54321' }, 'all')).records.length, 1);
});

test('index - a malformed trajectory or frame size is refused with INDEX_BAD_RECORD', async (t) => {
  const { dir, cleanup } = tempDir('traj-bad');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
  t.teardown(() => index.close());
  const p: TrajectoryPoint = { t: T0, x: 1, y: 2, w: 3, h: 4 };
  const bad: Array<Partial<TrackRecord>> = [
    { trajectory: [{ ...p, x: Number.NaN }] },
    { trajectory: 'boxes' as unknown as TrajectoryPoint[] },
    { trajectory: Array.from({ length: 5000 }, () => p) },
    { frame: { width: 0, height: 480 } },
    { frame: { width: 640.5, height: 480 } },
  ];
  for (const extra of bad) {
    const err = await t.throwsAsync(index.put({ ...makeRecord({ cameraId: 'cam-1' }), ...extra }));
    t.true(err instanceof CvcoreError);
    t.is((err as CvcoreError).code, 'INDEX_BAD_RECORD', JSON.stringify(Object.keys(extra)));
  }
});

test('record codec - a cluster payload carries the trajectory and frame size; one without them decodes without', (t) => {
  const { end } = walk(60, 100);
  const rec = recordOf(end, { thumbnail: new Uint8Array([1, 2, 3]), plateCrop: new Uint8Array([9, 9]) });
  const back = decodeRecordPayload(encodeRecordPayload(rec));
  t.deepEqual(back.trajectory!.map((p) => p.t), end.trajectory.map((p) => p.t));
  back.trajectory!.forEach((p, i) => t.true(Math.abs(p.x - end.trajectory[i]!.x) <= 0.5 && p.h === 100));
  t.deepEqual(back.frame, { width: 640, height: 480 });
  t.deepEqual([...back.thumbnail!], [1, 2, 3]);
  t.deepEqual([...back.plateCrop!], [9, 9]);
  // As a node before trajectories sends it: no j, no f.
  const plain = makeRecord({ id: 'cam-x:2:5', cameraId: 'cam-x' });
  const old = decodeRecordPayload(encodeRecordPayload(plain));
  t.false('trajectory' in old);
  t.false('frame' in old);
  // A head whose trajectory is not packed boxes is refused.
  const good = Buffer.from(encodeRecordPayload(rec));
  const n = good.readUInt32LE(4);
  const head = JSON.parse(good.toString('utf8', 8, 8 + n)) as Record<string, unknown>;
  for (const j of ['AAAA', 42]) {
    const json = Buffer.from(JSON.stringify({ ...head, j }));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(json.length);
    const bad = Buffer.concat([good.subarray(0, 4), len, json, good.subarray(8 + n)]);
    const err = t.throws(() => decodeRecordPayload(bad));
    t.true(err instanceof ClusterError);
    t.is((err as ClusterError).code, 'CLUSTER_BAD_MESSAGE');
  }
});
