/**
 * A rotation of the data key reaches a running core's other stores, not only its index: the watch-lists (alarm
 * images, the verifier), the recordings (the verifier, cached clips' headers) and the exports (zips' headers, the
 * verifier) are re-sealed under the new key without a restart (runtime/data-key.ts followRotationInStores), and
 * `cvcore keys status` / `retire` count their values: retire is refused while any store holds one under the key
 * (counted in a stopped core's folder, or the running core not done), and allowed once none does.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { initDataKeyFile, rotateDataKeyFile } from '../common/data-key.js';
import { createLogger } from '../common/log.js';
import { REPO_ROOT } from '../common/paths.js';
import { sealFile, sealedFilesUsage } from '../common/sealed-file.js';
import { parseConfig } from '../config/index.js';
import { openExports } from '../evidence/index.js';
import { openRecordings } from '../recording/index.js';
import { followRotationInStores, openCoreDataKey, STORES_KEY_STATUS_FILE, type StoresKeyStatus } from '../runtime/data-key.js';
import { closeFaceEmbedder, embedFacesFromImage } from '../inference/index.js';
import { openWatchlists, watchlistDataKeyUsage } from '../watchlist/index.js';
import { tempDir } from './support/index-records.js';
import { waitFor } from './support/wait.js';
import { watchAlarm } from './support/watchlist.js';

const log = createLogger({ level: 'error', sink: () => undefined });
const BIN = join(REPO_ROOT, 'bin', 'cvcore.js');
const SETTINGS = { segmentSeconds: 4, totalQuotaBytes: 0, minFreeBytes: 0, maxClipMs: 120_000, clipCacheMs: 600_000, retentionIntervalMs: 3_600_000 };
test.after.always(async () => { await closeFaceEmbedder(); });

function keys(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env['CVCORE_DATA_KEY_FILE'];
    execFile(process.execPath, [BIN, 'keys', ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface Status { stores: Record<string, Record<string, number> | null>; heldByRunningCore: string[]; storesReseal: StoresKeyStatus | null }

test('data key stores - a rotation re-seals watch-lists, recordings and exports of a running core; keys status counts them and retire waits for them', async (t) => {
  const { dir, cleanup } = tempDir('dk-stores');
  t.teardown(cleanup);
  const file = join(dir, 'keys', 'data-key.json');
  const first = await initDataKeyFile(file);
  const core = await openCoreDataKey(parseConfig({ dataDir: dir, dataKey: { file } }), dir, log, { reloadOnHup: false });
  t.teardown(() => core.stop());

  const watchlists = await openWatchlists({ dir: join(dir, 'watchlists'), embedder: { embedFacesFromImage }, log, sweepIntervalMs: 0, dataKey: core.ring });
  const list = await watchlists.createList({ name: 'Plates', department: 'public-security', kind: 'plate' }, 'inv');
  const snapshot = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 90, g: 30, b: 10 } } }).jpeg().toBuffer();
  await watchlists.recordAlarm(watchAlarm({ list: list.id, entry: 'e-1', department: 'public-security', at: Date.now(), id: 'al-1', entryKind: 'plate' }), { snapshot, face: null });
  const recordings = await openRecordings({ dir: join(dir, 'recordings'), settings: { ...SETTINGS }, log, dataKey: core.ring });
  // A cached clip, sealed as the service seals one (where = clip:<its key>).
  await mkdir(join(dir, 'recordings', 'clips'), { recursive: true });
  const clear = join(dir, 'clip.bin');
  await writeFile(clear, Buffer.alloc(200_000, 7));
  await sealFile(core.ring, clear, join(dir, 'recordings', 'clips', 'cam-1_1_2.mp4'), 'clip:cam-1_1_2');
  const exports = await openExports({ dataDir: dir, node: 'node-a', retentionDays: 30, limits: { maxTracks: 50, maxCameras: 8, maxRangeMs: 600_000 }, sweepIntervalMs: 0, dataKey: core.ring });
  const made = await exports.create({ createdBy: 'inv-ps', departments: ['public-security'], request: { trackIds: ['t1'] }, files: [{ name: 'records/t1.json', data: Buffer.from('{"id":"t1"}') }] });
  const follower = followRotationInStores(core, dir, [
    { name: 'watchlists', resealToCurrent: () => watchlists.resealToCurrent() },
    { name: 'recordings', resealToCurrent: () => recordings.resealToCurrent() },
    { name: 'exports', resealToCurrent: () => exports.resealToCurrent() },
  ], log);
  await follower.settled();
  const storesStatus = async (): Promise<StoresKeyStatus> => JSON.parse(await readFile(join(dir, STORES_KEY_STATUS_FILE), 'utf8')) as StoresKeyStatus;
  t.like(await storesStatus(), { target: first.id, done: true, stores: { watchlists: 'done', recordings: 'done', exports: 'done' } });

  // Beside the running core: the RocksDB stores are held, the files are counted.
  let r = await keys('status', '--data-dir', dir, '--json');
  t.is(r.code, 0, r.stderr);
  let st = JSON.parse(r.stdout) as Status;
  t.deepEqual(st.heldByRunningCore.sort(), ['recordings', 'watchlists']);
  t.is(st.stores['watchlists'], null);
  t.deepEqual(st.stores['recordings'], { [first.id]: 1 }, 'the cached clip');
  t.deepEqual(st.stores['exports'], { [first.id]: 2 }, 'the zip and the verifier');

  // Rotate: the running core follows the file and brings every store under the new key.
  const second = await rotateDataKeyFile(file);
  await waitFor('the stores re-sealed under the new key', 60_000, async () => {
    const s = await storesStatus().catch(() => null);
    return s && s.target === second.id && s.done ? s : null;
  }, () => 'the status file');
  t.deepEqual(await sealedFilesUsage(join(dir, 'recordings'), ['index']), { [second.id]: 1 });
  t.deepEqual(await sealedFilesUsage(join(dir, 'exports')), { [second.id]: 2 });
  // The re-sealed export and alarm image still open.
  const zip = await exports.open(made.id);
  t.truthy(zip);
  t.deepEqual(Buffer.from((await watchlists.alarmImage('al-1', 'snapshot', { departments: ['public-security'] }))!), snapshot);

  // The running core is done towards the current key: retiring the first is allowed.
  r = await keys('retire', first.id, '--data-dir', dir);
  t.is(r.code, 0, r.stderr);

  // Stopped, then rotated again: retire counts the stopped folders and refuses, naming a store.
  await follower.stop();
  await exports.close();
  await recordings.close();
  await watchlists.close();
  const third = await rotateDataKeyFile(file);
  r = await keys('status', '--data-dir', dir, '--json');
  st = JSON.parse(r.stdout) as Status;
  t.deepEqual(st.heldByRunningCore, []);
  t.deepEqual(st.stores['watchlists'], await watchlistDataKeyUsage(join(dir, 'watchlists')));
  t.true((st.stores['watchlists']![second.id] ?? 0) >= 2, 'the alarm image and the verifier');
  t.is(st.stores['recordings']![second.id], 2, 'the clip and the verifier');
  r = await keys('retire', second.id, '--data-dir', dir);
  t.is(r.code, 2);
  t.regex(r.stderr, /^error DATA_KEY_IN_USE: \d+ sealed values of the (watchlists|recordings|exports)/);
  t.not(third.id, second.id);
});
