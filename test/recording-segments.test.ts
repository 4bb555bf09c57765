/**
 * The recorder against the real simulated RTSP pool, real ffmpeg and ffprobe and a real RocksDB index on disk:
 * segments are valid and contiguous, a restart and a dropped camera continue after the last end with the time
 * between as a gap, files a crash left are recovered, clips contain their span and say how video time maps to
 * wall clock, bad ranges are typed, retention removes the oldest first and keeps held segments, a full disk stops
 * recording with a typed state, and events mode keeps only what a mark reaches.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { createRocks } from '../common/rocks.js';
import { DataKeyError } from '../common/errors.js';
import { pipeline } from 'node:stream/promises';
import { openSealedFile, SEALED_FILE_MAGIC, sealFile, unsealFile } from '../common/sealed-file.js';
import { rotateDataKeyFile } from '../common/data-key.js';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { statfsSync } from 'node:fs';
import { RecordingError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { liveChildren } from '../common/proc.js';
import { SimulatedCameraPool } from '../ingest/index.js';
import { openRecordings, segmentWhere, sha256File, type RecordedCamera, type RecordingServiceExt, type Segment } from '../recording/index.js';
import { tempDir } from './support/index-records.js';
import { waitFor } from './support/wait.js';
import { sharedTestDataKey, freshTestDataKey } from './support/data-key.js';

const run = promisify(execFile);
const log = createLogger({ level: 'error', sink: () => undefined });
const SETTINGS = { segmentSeconds: 4, totalQuotaBytes: 0, minFreeBytes: 0, maxClipMs: 120_000, clipCacheMs: 600_000, retentionIntervalMs: 3_600_000 };
const sim = new SimulatedCameraPool();

const camera = (id: string, extra: Partial<RecordedCamera['recording']> = {}): RecordedCamera => ({
  id, url: sim.url(id), transport: 'udp', department: 'public-security',
  recording: { mode: 'continuous', preRollMs: 0, postRollMs: 0, classes: [], retentionDays: 30, quotaBytes: 0, ...extra },
});

async function ffprobe(file: string): Promise<{ duration: number; codec: string }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', file]);
  const j = JSON.parse(stdout) as { format: { duration: string }; streams: { codec_name: string }[] };
  return { duration: Number(j.format.duration), codec: j.streams[0]?.codec_name ?? '' };
}

async function all(rec: RecordingServiceExt, cam: string): Promise<Segment[]> {
  return (await rec.recordings(cam, 0, Date.now() + 60_000)).segments as Segment[];
}

async function typed(t: import('ava').ExecutionContext, p: Promise<unknown>, code: string): Promise<RecordingError> {
  const err = await t.throwsAsync(p);
  t.true(err instanceof RecordingError, `${String(err)}`);
  t.is((err as RecordingError).code, code);
  return err as RecordingError;
}

test.before(async () => { await sim.start({ cameras: [{ id: 'c1', source: 'vtest' }, { id: 'c2', source: 'vtest' }, { id: 'c3', source: 'vtest' }] }); });
test.after.always(async () => { await sim.stop(); });

const { dir, cleanup } = tempDir('rec-seg');
test.after.always(() => cleanup());

test.serial('recording - segments are valid and contiguous; a restart, a dropped camera and a crash continue after the last end with the time between a gap', async (t) => {
  let rec = await openRecordings({ dir, settings: SETTINGS, log, dataKey: await sharedTestDataKey() });
  t.teardown(() => rec.close());
  await rec.setCamera(camera('c1'));
  await rec.setCamera(camera('c2'));
  await waitFor('four segments of c1', 60_000, async () => (await all(rec, 'c1')).length >= 4);
  t.is(rec.health('c1')?.state, 'recording');
  await rec.close();
  t.deepEqual(liveChildren().filter((pid) => rec.pids().includes(pid)), [], 'no recorder left running after close');
  rec = await openRecordings({ dir, settings: SETTINGS, log, dataKey: await sharedTestDataKey() });
  const run1 = await all(rec, 'c1');
  const endRun1 = run1[run1.length - 1]!.end;

  // Restart: the recorder continues after the last end; the downtime is a gap of reason off.
  await rec.setCamera(camera('c1'));
  await rec.setCamera(camera('c2'));
  await waitFor('two segments after the restart', 40_000, async () => (await all(rec, 'c1')).length >= run1.length + 2);

  // The camera drops mid-segment: the open segment is closed and indexed, the reconnect leaves a disconnected gap.
  await sim.killPublisher('c1');
  await waitFor('the recorder to notice the drop', 40_000, async () => rec.health('c1')?.state === 'reconnecting' || rec.health('c1')?.state === 'failed');
  const afterDrop = await all(rec, 'c1');
  const onDisk = (await readdir(join(dir, 'c1'))).filter((f) => f.endsWith('.ts'));
  t.deepEqual(onDisk.sort(), afterDrop.map((s) => s.file).sort(), 'every file, the one cut by the drop included, is indexed');
  sim.resumePublisher({ id: 'c1', source: 'vtest' });
  await waitFor('a segment after the reconnect', 60_000, async () => (await all(rec, 'c1')).length >= afterDrop.length + 1);
  await rec.close();

  // A crash: a segment written but never indexed (a clear copy of a real one under a newer run, as ffmpeg leaves
  // the segment it had open), one sealed but not indexed (a crash between the two), and an empty one.
  const camDir = join(dir, 'c1');
  const ring = await sharedTestDataKey();
  const files = (await readdir(camDir)).filter((f) => f.endsWith('.ts')).sort();
  const crashRun = Date.now();
  const lastFile = files[files.length - 1]!;
  await unsealFile(ring, join(camDir, lastFile), join(camDir, `${crashRun}-000000.ts`), segmentWhere('c1', lastFile));
  await writeFile(join(camDir, `${crashRun}-000001.ts`), Buffer.alloc(0));
  await unsealFile(ring, join(camDir, lastFile), join(camDir, `${crashRun + 1}-000000.ts`), segmentWhere('c1', lastFile));
  await sealFile(ring, join(camDir, `${crashRun + 1}-000000.ts`), join(camDir, `${crashRun + 1}-000000.ts`), segmentWhere('c1', `${crashRun + 1}-000000.ts`));
  t.false((await readFile(join(camDir, `${crashRun}-000000.ts`))).subarray(0, 4).equals(SEALED_FILE_MAGIC), 'the first leftover is in clear');
  rec = await openRecordings({ dir, settings: SETTINGS, log, dataKey: await sharedTestDataKey() });
  await rec.setCamera({ ...camera('c1'), recording: { ...camera('c1').recording, mode: 'off' } });
  await rec.setCamera({ ...camera('c1') }); // recovery runs when the camera is set up to record
  await rec.removeCamera('c1');
  const segs = await all(rec, 'c1');
  t.true(segs.some((s) => s.file === `${crashRun}-000000.ts`), 'the crash leftover with video was indexed');
  t.true(segs.some((s) => s.file === `${crashRun + 1}-000000.ts`), 'the sealed leftover was indexed');
  t.false((await readdir(camDir)).includes(`${crashRun}-000001.ts`), 'the empty leftover was deleted');

  // Every segment: sealed on disk (no MPEG-TS sync bytes, the crash leftover included), and opened, valid H.264
  // in MPEG-TS whose duration is its wall-clock span; no overlap anywhere.
  const plainDir = join(dir, 'plain-check');
  await mkdir(plainDir, { recursive: true });
  for (const s of segs) {
    const onDisk = await readFile(join(camDir, s.file));
    t.true(onDisk.subarray(0, 4).equals(SEALED_FILE_MAGIC), `${s.file} is sealed`);
    const clear = join(plainDir, s.file);
    await unsealFile(ring, join(camDir, s.file), clear, segmentWhere('c1', s.file));
    const plain = await readFile(clear);
    t.is(plain[0], 0x47, 'MPEG-TS opens with its sync byte');
    t.false(onDisk.includes(plain.subarray(1000, 1064)), `${s.file}: no 64 bytes of the video appear on disk`);
    const p = await ffprobe(clear);
    t.is(p.codec, 'h264', s.file);
    t.true(Math.abs(p.duration * 1000 - (s.end - s.start)) < 600, `${s.file}: ${p.duration} s vs ${s.end - s.start} ms`);
    t.is((await stat(join(camDir, s.file))).size, s.bytes);
  }
  for (let i = 1; i < segs.length; i++) t.true(segs[i]!.start >= segs[i - 1]!.end, `segment ${i} overlaps the one before`);
  const answer = await rec.recordings('c1', segs[0]!.start, segs[segs.length - 1]!.end);
  const reasons = answer.gaps.map((g) => g.reason);
  t.true(reasons.includes('off'), `a restart gap: ${JSON.stringify(answer.gaps)}`);
  t.true(reasons.includes('disconnected'), `a reconnect gap: ${JSON.stringify(answer.gaps)}`);
  const restartGap = answer.gaps.find((g) => g.from === endRun1);
  t.truthy(restartGap, 'the restart gap starts at the last end before the restart');
  // Between the gaps everything is covered: segments and gaps tile the range.
  const pieces = [...answer.segments.map((s) => [s.start, s.end] as const), ...answer.gaps.map((g) => [g.from, g.to] as const)].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < pieces.length; i++) t.is(pieces[i]![0], pieces[i - 1]![1], 'segments and gaps tile the range');
  await rec.close();
});

test.serial('recording - a clip contains its span, cut at a keyframe, with spans across a gap; bad ranges are typed', async (t) => {
  const rec = await openRecordings({ dir, settings: SETTINGS, log, dataKey: await sharedTestDataKey() });
  try {
    const segs = await all(rec, 'c1');
    // Inside one run: from the middle of the second segment to the middle of the fourth.
    const from = segs[1]!.start + 1_500;
    const to = segs[3]!.start + 1_000;
    const clip = await rec.clip('c1', from, to);
    t.true(clip.start <= from && clip.start >= from - 4_000, `keyframe start ${clip.start} for ${from}`);
    t.is(clip.end, to);
    t.is(clip.spans.length, 1);
    // The cached clip is sealed: its bytes come through clip.read(), whole or by range.
    const clear = join(dir, 'clip-check.mp4');
    await pipeline(clip.read(), createWriteStream(clear));
    const p = await ffprobe(clear);
    t.is(p.codec, 'h264');
    t.true(Math.abs(p.duration * 1000 - (clip.end - clip.start)) < 400, `clip ${p.duration} s vs ${clip.end - clip.start} ms`);
    t.is(clip.sha256, await sha256File(clear));
    t.is(clip.bytes, (await stat(clear)).size);
    const mp4 = await readFile(clear);
    const cached = await readFile(clip.path);
    t.true(cached.subarray(0, 4).equals(SEALED_FILE_MAGIC));
    t.false(cached.includes(mp4.subarray(4096, 4160)), 'the cached clip holds none of the MP4 in clear');
    const mid = Math.floor(mp4.length / 3);
    const part: Buffer[] = [];
    for await (const c of clip.read({ start: mid, end: mid + 70_000 })) part.push(c as Buffer);
    t.deepEqual(Buffer.concat(part), mp4.subarray(mid, mid + 70_001), 'a range across chunks reads the same bytes');
    t.deepEqual(await readdir(join(dir, '.plain')), [], 'no clear copy is left after a cut');
    // The same clip again comes from the cache.
    t.is((await rec.clip('c1', from, to)).sha256, clip.sha256);

    // Across the restart gap: two spans, the second starting where the first one's video ends.
    const answer = await rec.recordings('c1', segs[0]!.start, segs[segs.length - 1]!.end);
    const gap = answer.gaps.find((g) => g.reason === 'off')!;
    const across = await rec.clip('c1', gap.from - 3_000, gap.to + 3_000);
    t.is(across.spans.length, 2);
    t.is(across.spans[1]!.offsetMs, across.spans[0]!.end - across.spans[0]!.start);
    t.is(across.spans[1]!.start, gap.to);
    t.deepEqual(across.gaps.map((g) => g.reason), ['off']);
    const acrossClear = join(dir, 'across-check.mp4');
    await pipeline(across.read(), createWriteStream(acrossClear));
    const q = await ffprobe(acrossClear);
    const covered = across.spans.reduce((n, s) => n + s.end - s.start, 0);
    t.true(Math.abs(q.duration * 1000 - covered) < 400, `clip ${q.duration} s vs spans ${covered} ms`);

    await typed(t, rec.clip('c1', to, from), 'RECORDING_BAD_RANGE');
    await typed(t, rec.clip('c1', Number.NaN, to), 'RECORDING_BAD_RANGE');
    await typed(t, rec.recordings('c1', 5, 5), 'RECORDING_BAD_RANGE');
    await typed(t, rec.clip('c1', from, from + 120_001), 'RECORDING_RANGE_TOO_LONG');
    const none = await typed(t, rec.clip('c1', segs[0]!.start - 60_000, segs[0]!.start - 30_000), 'RECORDING_NOT_RECORDED');
    t.deepEqual((none.detail['gaps'] as { reason: string }[]).map((g) => g.reason), ['off']);
    await typed(t, rec.clip('nope', from, to), 'RECORDING_UNKNOWN_CAMERA');
  } finally {
    await rec.close();
  }
});

test.serial('recording - another key refuses at open; segments from before sealing are sealed in the background and clips read them meanwhile; a rotation re-seals their headers', async (t) => {
  const wrong = await t.throwsAsync(openRecordings({ dir, settings: SETTINGS, log, dataKey: await freshTestDataKey() }));
  t.true(wrong instanceof DataKeyError && wrong.code === 'DATA_KEY_UNKNOWN_ID', String(wrong));
  const ring = await sharedTestDataKey();
  let rec = await openRecordings({ dir, settings: SETTINGS, log, dataKey: ring });
  const segs = await all(rec, 'c1');
  await rec.close();
  // The folder as a core before sealing left it: the segments in clear, no "all sealed" mark in the index.
  const camDir = join(dir, 'c1');
  for (const s of segs) {
    await unsealFile(ring, join(camDir, s.file), join(camDir, `${s.file}.clear`), segmentWhere('c1', s.file));
    await rename(join(camDir, `${s.file}.clear`), join(camDir, s.file));
  }
  const idx = createRocks(join(dir, 'index'));
  await idx.open({ createIfMissing: false });
  await idx.batch([{ type: 'del', key: 'k!sealed' }]);
  await idx.close();
  // And a clip cached in clear: removed at open (it is cut again, sealed, when asked for).
  await writeFile(join(dir, 'clips', 'c1-1-2.mp4'), Buffer.from('clear clip'));
  await writeFile(join(dir, 'clips', 'c1-1-2.json'), '{}');
  rec = await openRecordings({ dir, settings: SETTINGS, log, dataKey: ring });
  t.false((await readdir(join(dir, 'clips'))).some((f) => f.startsWith('c1-1-2.')), 'the clear cached clip is gone');
  try {
    const clip = await rec.clip('c1', segs[1]!.start, segs[2]!.end);
    const clear = join(dir, 'old-clip.mp4');
    await pipeline(clip.read(), createWriteStream(clear));
    t.is((await ffprobe(clear)).codec, 'h264');
    await waitFor('every old segment sealed', 60_000, async () => {
      for (const s of segs) if (!(await readFile(join(camDir, s.file))).subarray(0, 4).equals(SEALED_FILE_MAGIC)) return false;
      return true;
    });
  } finally {
    await rec.close();
  }
  // A key rotation: the next open re-seals each segment's header (its file key) under the new key in the background.
  const old = ring.currentId;
  await rotateDataKeyFile(ring.path);
  await ring.reload();
  rec = await openRecordings({ dir, settings: SETTINGS, log, dataKey: ring });
  try {
    await waitFor('every segment\'s header under the new key', 60_000, async () => {
      for (const s of segs) if ((await openSealedFile(ring, join(camDir, s.file), segmentWhere('c1', s.file))).keyId === old) return false;
      return true;
    });
    const clip = await rec.clip('c1', segs[2]!.start, segs[3]!.end);
    const clear = join(dir, 'rotated-clip.mp4');
    await pipeline(clip.read(), createWriteStream(clear));
    t.is((await ffprobe(clear)).codec, 'h264');
  } finally {
    await rec.close();
  }
});

test.serial('recording - retention removes the oldest first at the camera and total quotas and after retentionDays; a held segment survives until released', async (t) => {
  const rec = await openRecordings({ dir, settings: SETTINGS, log, dataKey: await sharedTestDataKey() });
  try {
    const segs = await all(rec, 'c1');
    t.true(segs.length >= 6);
    const held = segs[1]!;
    const hold = await rec.addHold({ cameraIds: ['c1'], from: held.start + 100, to: held.start + 200, reason: 'case 2026-118', by: 'inv' });
    // Held bytes count against the quota (they take the disk): the quota is the newest three plus the held one.
    const keepBytes = segs.slice(-3).reduce((n, s) => n + s.bytes, 0) + held.bytes;
    // The camera is configured (mode off keeps it from recording) with that quota.
    await rec.setCamera({ ...camera('c1'), recording: { ...camera('c1').recording, mode: 'off', quotaBytes: keepBytes } });
    const r = await rec.enforceRetention();
    t.true(r.removed > 0);
    const left = await all(rec, 'c1');
    t.deepEqual(left.map((s) => s.file), [held.file, ...segs.slice(-3).map((s) => s.file)], 'oldest first, the held one kept');
    t.true(left[0]!.held);
    const files = await readdir(join(dir, 'c1'));
    t.false(files.includes(segs[0]!.file), 'the removed segment\'s file is gone');
    t.true(files.includes(held.file));
    t.is(rec.health('c1')?.bytes, left.reduce((n, s) => n + s.bytes, 0));

    // Days: two days on, with one day of retention, only the held segment is left; released, it goes too.
    await rec.setCamera({ ...camera('c1'), recording: { ...camera('c1').recording, mode: 'off', retentionDays: 1 } });
    await rec.enforceRetention(Date.now() + 2 * 86_400_000);
    t.deepEqual((await all(rec, 'c1')).map((s) => s.file), [held.file]);
    t.is((await rec.holds({ active: true })).length, 1);
    const released = await rec.releaseHold(hold.id, 'inv');
    t.is(released.releasedBy, 'inv');
    await typed(t, rec.releaseHold('no-such-hold', 'inv'), 'RECORDING_HOLD_NOT_FOUND');
    await typed(t, rec.addHold({ cameraIds: [], from: 1, to: 2, reason: 'x', by: 'inv' }), 'RECORDING_BAD_HOLD');
    await rec.enforceRetention(Date.now() + 2 * 86_400_000);
    t.deepEqual(await all(rec, 'c1'), []);
    const g = await rec.recordings('c1', held.start, held.end);
    t.deepEqual(g.gaps.map((x) => x.reason), ['removed']);
  } finally {
    await rec.close();
  }
  // Total quota across cameras (c2 recorded beside c1): the oldest go first until the total fits.
  const plain = await openRecordings({ dir, settings: SETTINGS, log, dataKey: await sharedTestDataKey() });
  const before = await all(plain, 'c2');
  await plain.close();
  t.true(before.length > 2);
  const bytes = before.reduce((n, s) => n + s.bytes, 0);
  const tq = await openRecordings({ dir, settings: { ...SETTINGS, totalQuotaBytes: bytes - before[0]!.bytes - before[1]!.bytes }, log, dataKey: await sharedTestDataKey() });
  try {
    await tq.enforceRetention();
    t.deepEqual((await all(tq, 'c2')).map((s) => s.file), before.slice(2).map((s) => s.file));
  } finally {
    await tq.close();
  }
});

test('recording - a full disk stops recording with state disk-full and RECORDING_DISK_FULL, no ffmpeg runs, and the gap says why', async (t) => {
  const { dir: d, cleanup: c } = tempDir('rec-full');
  const fs = statfsSync(d);
  const free = Number(fs.bavail) * Number(fs.bsize);
  const rec = await openRecordings({ dir: d, settings: { ...SETTINGS, minFreeBytes: free + 1e12 }, log, dataKey: await sharedTestDataKey() });
  try {
    await rec.setCamera(camera('c3'));
    const h = await waitFor('disk-full', 20_000, async () => (rec.health('c3')?.state === 'disk-full' ? rec.health('c3') : null));
    t.is(h.code, 'RECORDING_DISK_FULL');
    t.deepEqual(rec.pids(), [], 'no recording ffmpeg runs');
    t.deepEqual((await rec.recordings('c3', Date.now() - 1_000, Date.now())).gaps.map((g) => g.reason), ['disk-full']);
  } finally {
    await rec.close();
    c();
  }
});

test('recording - events mode keeps the segments a mark reaches and deletes the others', async (t) => {
  const { dir: d, cleanup: c } = tempDir('rec-events');
  const rec = await openRecordings({ dir: d, settings: SETTINGS, log, markLagMs: 1_000, dataKey: await sharedTestDataKey() });
  try {
    await rec.setCamera(camera('c3', { mode: 'events', preRollMs: 500, postRollMs: 500 }));
    // A moment of interest a little after recording starts.
    const markAt = await waitFor('the first segment', 60_000, async () => (await all(rec, 'c3'))[0]?.end);
    rec.mark('c3', markAt + 500, markAt + 1_000, 'track:t1');
    await waitFor('three more segments', 60_000, async () => { const h = rec.health('c3'); return h && h.newest !== null && h.newest > markAt + 12_000; });
    // Decided: 1 s of lag and 0.5 s of pre-roll after a segment's end, on a 2 s housekeeping tick.
    await new Promise((r) => setTimeout(r, 4_000));
    const decidedBefore = Date.now() - 4_000;
    const segs = await all(rec, 'c3');
    t.true(segs.length >= 1);
    for (const s of segs.filter((x) => x.end < decidedBefore)) {
      t.true(s.start < markAt + 1_500 && s.end > markAt, `segment ${s.start}-${s.end} kept without a mark at ${markAt}`);
    }
    t.true(segs.some((s) => s.start <= markAt + 500 && s.end >= markAt + 1_000), 'the marked span is kept');
    const files = (await readdir(join(d, 'c3'))).filter((f) => f.endsWith('.ts'));
    // Files on disk: the kept segments, the open one and perhaps the next one not listed yet; the rest were deleted.
    t.true(rec.segmentsWritten >= segs.length + 3, `${rec.segmentsWritten} written, ${segs.length} kept`);
    t.true(files.length <= segs.length + 2, `unmarked segment files are deleted: ${files.length} files, ${segs.length} kept`);
  } finally {
    await rec.close();
    c();
  }
});

test('recording - a camera that cannot be reached is failed with RECORDING_FFMPEG_FAILED and ffmpeg\'s own words, and keeps retrying', async (t) => {
  const { dir: d, cleanup: c } = tempDir('rec-fail');
  const rec = await openRecordings({ dir: d, settings: SETTINGS, log, dataKey: await sharedTestDataKey() });
  try {
    await rec.setCamera({ ...camera('c3'), id: 'gone', url: 'rtsp://127.0.0.1:1/gone', transport: 'tcp' });
    const h = await waitFor('failed', 40_000, async () => (rec.health('gone')?.state === 'failed' ? rec.health('gone') : null));
    t.is(h.code, 'RECORDING_FFMPEG_FAILED');
    t.regex(h.reason ?? '', /refused|gone/i);
    t.is(h.segments, 0);
    t.deepEqual((await rec.recordings('gone', Date.now() - 1_000, Date.now())).gaps.map((g) => g.reason), ['disconnected']);
  } finally {
    await rec.close();
    c();
  }
});
