/**
 * The recording routes over a real recorder (simulated RTSP pool, ffmpeg, RocksDB): segments and gaps, clips with
 * range requests (206, 416), HEAD and ?token=, a track's clip containing the track, scope (another department's
 * camera is a 404 like an unknown one, operators 403), the audit trail (a clip once per token and clip, not per
 * range request) and legal holds placed, listed and released within scope.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLogger } from '../common/log.js';
import { SimulatedCameraPool } from '../ingest/index.js';
import { openRecordings, type RecordingServiceExt, type RecordedCamera, type Segment } from '../recording/index.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';
import { makeRecord, tempDir } from './support/index-records.js';
import { waitFor } from './support/wait.js';
import { sharedTestDataKey } from './support/data-key.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/cvcore.js', import.meta.url));
const log = createLogger({ level: 'error', sink: () => undefined });
const sim = new SimulatedCameraPool();
const { dir, cleanup } = tempDir('api-rec');
let rec: RecordingServiceExt;
let h: ApiHarness;
let segs: Segment[];

const camera = (id: string, department: string): RecordedCamera => ({
  id, url: sim.url(id), transport: 'udp', department,
  recording: { mode: 'continuous', preRollMs: 0, postRollMs: 0, classes: [], retentionDays: 30, quotaBytes: 0 },
});
const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const auditOf = async (action: string): Promise<{ tokenId: string; query: Record<string, unknown>; results: unknown }[]> =>
  (await h.index.readAudit({ limit: 1000 })).entries.filter((e) => e.action === action) as never;

test.before(async () => {
  await sim.start({ cameras: [{ id: 'cam-ps-1', source: 'vtest' }, { id: 'cam-tr-1', source: 'vtest' }] });
  rec = await openRecordings({ dir, settings: { segmentSeconds: 4, totalQuotaBytes: 0, minFreeBytes: 0, maxClipMs: 60_000, clipCacheMs: 600_000, retentionIntervalMs: 3_600_000 }, log, dataKey: await sharedTestDataKey() });
  h = await startHarness({ perDepartment: 2, recordings: rec });
  await rec.setCamera(camera('cam-ps-1', 'public-security'));
  await rec.setCamera(camera('cam-tr-1', 'traffic'));
  segs = await waitFor('three segments of cam-ps-1', 60_000, async () => {
    const s = (await rec.recordings('cam-ps-1', 0, Date.now() + 60_000)).segments;
    return s.length >= 3 ? [...s] : null;
  });
  await rec.removeCamera('cam-tr-1');
  await rec.removeCamera('cam-ps-1');
});
test.after.always(async () => {
  await h?.close();
  await rec?.close();
  await sim.stop();
  cleanup();
});

test('api recordings - segments and gaps in scope; another department\'s camera is a 404 like an unknown one; operators 403', async (t) => {
  const from = segs[0]!.start - 5_000;
  const to = segs[2]!.end;
  const ok = await h.get(`/api/v1/cameras/cam-ps-1/recordings?from=${from}&to=${to}`, TOKENS.ps);
  t.is(ok.status, 200);
  const body = await ok.json() as { segments: Segment[]; gaps: { reason: string; from: number; to: number }[] };
  t.deepEqual(body.segments.map((s) => s.file), segs.slice(0, 3).map((s) => s.file));
  t.deepEqual(body.gaps, [{ from, to: segs[0]!.start, reason: 'off' }]);
  const iso = await h.get(`/api/v1/cameras/cam-ps-1/recordings?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`, TOKENS.ps);
  t.is(iso.status, 200);

  const other = await h.get(`/api/v1/cameras/cam-tr-1/recordings?from=${from}&to=${to}`, TOKENS.ps);
  const unknown = await h.get(`/api/v1/cameras/cam-xx-9/recordings?from=${from}&to=${to}`, TOKENS.ps);
  t.is(other.status, 404);
  t.is(unknown.status, 404);
  t.is((await other.text()).replace('cam-tr-1', 'ID'), (await unknown.text()).replace('cam-xx-9', 'ID'));
  t.is((await h.get(`/api/v1/cameras/cam-tr-1/recordings?from=${from}&to=${to}`, TOKENS.traffic)).status, 200);
  t.is((await h.get(`/api/v1/cameras/cam-ps-1/recordings?from=${from}&to=${to}`, TOKENS.operator)).status, 403);
  const bad = await h.get(`/api/v1/cameras/cam-ps-1/recordings?from=${to}&to=${from}`, TOKENS.ps);
  t.is(bad.status, 400);
  t.is((await bad.json() as { code: string }).code, 'RECORDING_BAD_RANGE');
  t.is((await h.get(`/api/v1/cameras/cam-ps-1/recordings?from=yesterday&to=${to}`, TOKENS.ps)).status, 400);
  const audit = await auditOf('recordings');
  t.true(audit.some((e) => e.tokenId === 'inv-ps' && e.results === 3));
});

test('api recordings - a track\'s clip contains the track: ranges 206 and 416, HEAD, ?token=, audited once per token and clip', async (t) => {
  // A track seen across the second segment boundary.
  const r = makeRecord({ id: 'live-track-1', cameraId: 'cam-ps-1', department: 'public-security', cls: 'person', start: segs[1]!.start - 1_500 });
  const track = { ...r, end: segs[1]!.start + 2_000 };
  await h.index.put(track);
  await h.index.flush();
  const from = track.start - 2_000;
  const to = track.end + 2_000;
  const url = `/api/v1/cameras/cam-ps-1/clip?from=${from}&to=${to}`;

  const full = await fetch(h.url + url, { headers: auth(TOKENS.ps) });
  t.is(full.status, 200);
  t.is(full.headers.get('content-type'), 'video/mp4');
  t.is(full.headers.get('accept-ranges'), 'bytes');
  const start = Number(full.headers.get('x-clip-start'));
  const end = Number(full.headers.get('x-clip-end'));
  t.true(start <= track.start && end >= track.end, `clip ${start}-${end} holds the track ${track.start}-${track.end}`);
  const spans = JSON.parse(full.headers.get('x-clip-spans')!) as { offsetMs: number; start: number; end: number }[];
  t.deepEqual(spans, [{ offsetMs: 0, start, end }]);
  const bytes = Buffer.from(await full.arrayBuffer());
  t.is(bytes.length, Number(full.headers.get('content-length')));
  const file = join(dir, 'downloaded.mp4');
  await writeFile(file, bytes);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  t.true(Math.abs(Number(stdout) * 1000 - (end - start)) < 400, `${stdout} s vs ${end - start} ms`);

  const part = await fetch(h.url + url, { headers: { ...auth(TOKENS.ps), range: 'bytes=100-1099' } });
  t.is(part.status, 206);
  t.is(part.headers.get('content-range'), `bytes 100-1099/${bytes.length}`);
  t.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 1100));
  const tail = await fetch(h.url + url, { headers: { ...auth(TOKENS.ps), range: 'bytes=-500' } });
  t.is(tail.status, 206);
  t.deepEqual(Buffer.from(await tail.arrayBuffer()), bytes.subarray(bytes.length - 500));
  const beyond = await fetch(h.url + url, { headers: { ...auth(TOKENS.ps), range: `bytes=${bytes.length}-` } });
  t.is(beyond.status, 416);
  t.is(beyond.headers.get('content-range'), `bytes */${bytes.length}`);
  const head = await fetch(h.url + url, { method: 'HEAD', headers: auth(TOKENS.ps) });
  t.is(head.status, 200);
  t.is(Number(head.headers.get('content-length')), bytes.length);
  // The console's <video> sends the token in the query.
  const byQuery = await fetch(`${h.url}${url}&token=${TOKENS.ps}`, { headers: { range: 'bytes=0-9' } });
  t.is(byQuery.status, 206);

  // One audit line for all those requests of inv-ps, one for the admin's first look.
  const clipAudit = (await auditOf('clip')).filter((e) => e.query['from'] === from && e.query['to'] === to);
  t.is(clipAudit.filter((e) => e.tokenId === 'inv-ps').length, 1);
  t.is((await h.get(url, TOKENS.admin)).status, 200);
  t.is((await auditOf('clip')).filter((e) => e.query['from'] === from && e.query['to'] === to && e.tokenId === 'admin').length, 1);

  // Scope, role and bad input.
  const other = await h.get(`/api/v1/cameras/cam-tr-1/clip?from=${from}&to=${to}`, TOKENS.ps);
  t.is(other.status, 404);
  t.is((await other.json() as { code: string }).code, 'API_NOT_FOUND');
  t.is((await h.get(url, TOKENS.operator)).status, 403);
  t.is((await h.get(url)).status, 401);
  const long = await h.get(`/api/v1/cameras/cam-ps-1/clip?from=${from}&to=${from + 60_001}`, TOKENS.ps);
  t.is((await long.json() as { code: string }).code, 'RECORDING_RANGE_TOO_LONG');
  const empty = await h.get(`/api/v1/cameras/cam-ps-1/clip?from=${segs[0]!.start - 60_000}&to=${segs[0]!.start - 30_000}`, TOKENS.ps);
  t.is(empty.status, 404);
  const e = await empty.json() as { code: string; detail: { gaps: { reason: string }[] } };
  t.is(e.code, 'RECORDING_NOT_RECORDED');
  t.deepEqual(e.detail.gaps.map((g) => g.reason), ['off']);
  // The downloaded bytes are the clip the service cut (the evidence export hashes the same bytes); the cached
  // file on disk is sealed and holds none of them in clear.
  const clip = await rec.clip('cam-ps-1', from, to);
  const parts: Buffer[] = [];
  for await (const c of clip.read()) parts.push(c as Buffer);
  t.deepEqual(Buffer.concat(parts), bytes);
  const cached = await readFile(clip.path);
  t.false(cached.includes(bytes.subarray(2048, 2112)), 'the cached clip is sealed');
});

test('api recordings - legal holds on cameras and on tracks, listed and released within scope, audited', async (t) => {
  const post = (token: string, body: unknown): Promise<Response> =>
    fetch(`${h.url}/api/v1/holds`, { method: 'POST', headers: { ...auth(token), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const r1 = await post(TOKENS.ps, { cameraIds: ['cam-ps-1'], from: segs[0]!.start, to: segs[0]!.end, reason: 'case 118' });
  t.is(r1.status, 200);
  const hold = await r1.json() as { id: string; createdBy: string; cameraIds: string[] };
  t.is(hold.createdBy, 'inv-ps');
  // Placed on a track: the track's camera and span, 10 s either side.
  const track = makeRecord({ id: 'held-track', cameraId: 'cam-ps-1', department: 'public-security', start: segs[1]!.start });
  await h.index.put(track);
  await h.index.flush();
  const r2 = await post(TOKENS.ps, { trackIds: ['held-track'], reason: 'case 119' });
  t.is(r2.status, 200);
  const th = await r2.json() as { from: number; to: number; cameraIds: string[]; trackIds: string[] };
  t.deepEqual(th.cameraIds, ['cam-ps-1']);
  t.is(th.from, track.start - 10_000);
  t.is(th.to, track.end + 10_000);
  t.deepEqual(th.trackIds, ['held-track']);

  // Another department: its camera is unknown, its tracks too, the holds invisible, release refused alike.
  const r3 = await post(TOKENS.traffic, { cameraIds: ['cam-ps-1'], from: 1, to: 2, reason: 'x' });
  t.is(r3.status, 404);
  t.is((await post(TOKENS.traffic, { trackIds: ['held-track'], reason: 'x' })).status, 404);
  t.is((await post(TOKENS.operator, { cameraIds: ['cam-ps-1'], from: 1, to: 2, reason: 'x' })).status, 403);
  t.is((await post(TOKENS.ps, { cameraIds: ['cam-ps-1'], reason: 'x' })).status, 400);
  t.is((await post(TOKENS.ps, { reason: 'x' })).status, 400);
  const listed = await (await h.get('/api/v1/holds?active=true', TOKENS.traffic)).json() as { holds: unknown[] };
  t.deepEqual(listed.holds, []);
  const del = (token: string, id: string): Promise<Response> => fetch(`${h.url}/api/v1/holds/${id}`, { method: 'DELETE', headers: auth(token) });
  const refused = await del(TOKENS.traffic, hold.id);
  const missing = await del(TOKENS.traffic, 'no-such-hold');
  t.is(refused.status, 404);
  t.is((await refused.text()).replace(hold.id, 'ID'), (await missing.text()).replace('no-such-hold', 'ID'));

  const mine = await (await h.get('/api/v1/holds?active=true', TOKENS.ps)).json() as { holds: { id: string }[] };
  t.true(mine.holds.some((x) => x.id === hold.id));
  const released = await del(TOKENS.ps, hold.id);
  t.is(released.status, 200);
  t.is((await released.json() as { releasedBy: string }).releasedBy, 'inv-ps');
  const after = await (await h.get('/api/v1/holds?active=true', TOKENS.ps)).json() as { holds: { id: string }[] };
  t.false(after.holds.some((x) => x.id === hold.id));

  const actions = (await h.index.readAudit({ limit: 1000 })).entries.map((e) => `${e.tokenId}:${e.action}`);
  for (const a of ['inv-ps:hold_add', 'inv-traffic:hold_add', 'inv-ps:hold_release', 'inv-traffic:hold_release', 'inv-ps:holds']) t.true(actions.includes(a), a);
});

test('api recordings - health carries each camera\'s recording state in scope; metrics name bytes and state', async (t) => {
  const body = await (await h.get('/api/v1/health', TOKENS.opTraffic)).json() as { recording: { cameraId: string; segments: number; state: string }[] };
  t.deepEqual(body.recording.map((r) => r.cameraId), ['cam-tr-1']);
  t.true(body.recording[0]!.segments > 0);
  const metrics = await (await h.get('/metrics')).text();
  t.regex(metrics, /cvcore_recording_bytes\{camera="cam-ps-1"\} \d+/);
  t.regex(metrics, /cvcore_recording_state\{camera="cam-ps-1",state="off"\} 1/);
});

test('api recordings - cvcore recordings lists segments and gaps, saves a clip, places and releases a hold', async (t) => {
  const cli = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'recordings', ...args, '--api', h.url], { env: { ...process.env, CVCORE_TOKEN: TOKENS.ps, CVCORE_API: '' } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }));
  });
  const from = new Date(segs[0]!.start - 2_000).toISOString();
  const list = await cli('cam-ps-1', '--from', from, '--to', String(segs[2]!.end));
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /gap \(off\)/);
  t.regex(list.stdout, /3 segment\(s\), 1 gap\(s\)/);
  const file = join(dir, 'cli-clip.mp4');
  const clip = await cli('clip', 'cam-ps-1', '--from', String(segs[0]!.start + 500), '--to', String(segs[1]!.end - 500), '-o', file, '--json');
  t.is(clip.code, 0, clip.stderr);
  const info = JSON.parse(clip.stdout) as { bytes: number; sha256: string };
  t.is((await readFile(file)).length, info.bytes);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  t.true(Number(stdout) > 4);
  const add = await cli('hold', 'add', '--camera', 'cam-ps-1', '--from', String(segs[0]!.start), '--to', String(segs[0]!.end), '--reason', 'cli case', '--json');
  t.is(add.code, 0, add.stderr);
  const hold = JSON.parse(add.stdout) as { id: string };
  t.regex((await cli('hold', 'list', '--active')).stdout, new RegExp(hold.id));
  t.regex((await cli('hold', 'release', hold.id)).stdout, /released by inv-ps/);
  const bad = await cli('cam-ps-1', '--from', 'soon', '--to', '1');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--from/);
  const refused = await cli('cam-tr-1', '--from', '1', '--to', '2');
  t.is(refused.code, 2);
  t.regex(refused.stderr, /API_NOT_FOUND/);
});
