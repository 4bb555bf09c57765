/**
 * The embedded default, end to end, with every component real: an RTSP server and ffmpeg publishers looping
 * vtest.avi, ffmpeg decoders, centernet on tfjs-wasm in a piscina worker, the tracker, RocksDB on disk, a
 * nats-server started from nats.conf. A real NATS subscriber must see a crowd alert, the search endpoint must
 * return person records, and after stop no child process may be left.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, StringCodec } from 'nats';
import { DEFAULT_SUBSCRIBER_USER } from '../alerts/index.js';
import { liveChildren } from '../common/proc.js';
import { CACHE_DIR } from '../common/paths.js';
import { DEMO_PLATE_CAMERA, demoConfig, startDemoCameras, startStack } from '../runtime/index.js';
import { createLogger } from '../common/log.js';
import { waitFor } from './support/wait.js';
import { exclusively } from './support/exclusive.js';


const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

test('e2e - demo stack raises a crowd alert on NATS, indexes person records with clothing colours and the plate camera\'s plates, then leaves no child behind', async (t) => {
  t.timeout(1_200_000);
  await exclusively(async () => {
  t.timeout(240_000);
  // What npm start runs: two vtest cameras and cam-plates, whose footage's truth lists the plates it shows.
  const truth = JSON.parse(await readFile(join(CACHE_DIR, 'media', 'plates.json'), 'utf8')) as { vehicles: { plate: string | null }[] };
  const plates = truth.vehicles.map((v) => v.plate).filter((p): p is string => typeof p === 'string');
  const dataDir = await mkdtemp(join(tmpdir(), 'cvcore-e2e-'));
  const logLines: string[] = [];
  const log = createLogger({ level: 'info', sink: (l) => logLines.push(l) });
  const sim = await startDemoCameras(2, { plateCamera: true });
  let stack: Awaited<ReturnType<typeof startStack>> | null = null;
  try {
    // The default configuration's rate and detector; threshold 3 clears below 1, so a count that collapses to 0
    // for the rule's clear time would clear the incident.
    const config = demoConfig(sim, { cameras: 2, dataDir, apiPort: 0, threshold: 3, plateCamera: true });
    stack = await startStack({ config, log });
    const counts: { camera: string; count: number; at: number }[] = [];
    stack.pipeline.on((e) => { if (e.type === 'zone_count') counts.push({ camera: e.count.cameraId, count: e.count.count, at: Date.now() }); });

    // A real NATS subscriber, as the subscriber user of nats.conf.
    const nc = await connect({ servers: stack.natsUrl, user: DEFAULT_SUBSCRIBER_USER.user, pass: DEFAULT_SUBSCRIBER_USER.pass });
    const alerts: Record<string, unknown>[] = [];
    const sub = nc.subscribe('citybrain.alerts.crowd.>');
    const sc = StringCodec();
    void (async () => { for await (const m of sub) alerts.push({ subject: m.subject, ...JSON.parse(sc.decode(m.data)) as Record<string, unknown> }); })();

    const raised = await waitFor('a raised crowd alert on NATS', 120_000, async () => alerts.find((a) => a['phase'] === 'raised'));
    t.regex(String(raised['subject']), /^citybrain\.alerts\.crowd\.shinan\.cam-[12]\.plaza$/);
    t.true(Number(raised['count']) >= 3);

    // vtest.avi never shows fewer than 2 people (3 to 8 most of the time): after the first alert, 20 s of zone
    // counts stay with the people on screen, and no incident clears.
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 20_000));
    for (const camera of ['cam-1', 'cam-2']) {
      const seen = counts.filter((c) => c.camera === camera && c.at >= since).map((c) => c.count).sort((a, b) => a - b);
      t.log(`${camera}: ${seen.length} zone counts after the first alert, min ${seen[0]} median ${seen[Math.floor(seen.length / 2)]} max ${seen.at(-1)}`);
      t.true(seen.length >= 5, `${camera}: zone counts keep coming`);
      t.true(seen[Math.floor(seen.length / 2)]! >= 2, `${camera}: median count ${seen[Math.floor(seen.length / 2)]}`);
    }
    t.deepEqual(alerts.filter((a) => a['phase'] === 'cleared').map((a) => a['subject']), [], 'no incident cleared over a scene that never empties');

    const api = stack.apiUrl;
    // cam-1 belongs to public-security in the demo config.
    const auth = { authorization: 'Bearer demo-investigator-ps' };
    const page = await waitFor('person records from the search endpoint', 120_000, async () => {
      const res = await fetch(`${api}/api/v1/search?class=person&camera=cam-1`, { headers: auth });
      t.is(res.status, 200);
      const body = await res.json() as { records: { id: string; cameraId: string; cls: string; thumbnailUrl: string }[] };
      return body.records.length > 0 ? body : null;
    });
    for (const r of page.records) {
      t.is(r.cameraId, 'cam-1');
      t.is(r.cls, 'person');
    }
    // Clothing colours come with every person seen whole, face or not.
    t.true(page.records.some((r) => typeof (r as { attributes?: Record<string, unknown> }).attributes?.['upperColour'] === 'string'), 'a person record has an upper-body colour');

    // A plate of the footage, searched by its end as an investigator would, with the traffic department's token
    // (cam-plates is theirs); public-security's token sees none of it.
    const traffic = { authorization: 'Bearer demo-investigator-traffic' };
    const found = await waitFor('a footage plate found by plate search', 150_000, async () => {
      for (const plate of plates) {
        const q = new URLSearchParams({ plate: `*${[...plate].slice(-4).join('')}`, camera: DEMO_PLATE_CAMERA.id });
        const res = await fetch(`${api}/api/v1/search?${q.toString()}`, { headers: traffic });
        t.is(res.status, 200);
        const body = await res.json() as { records: { id: string; attributes: Record<string, unknown>; plateMatch?: string; plateUrl?: string }[] };
        const hit = body.records.find((r) => r.attributes['plate'] === plate);
        if (hit) return { plate, hit, q };
      }
      return null;
    });
    t.is(found.hit.plateMatch, 'exact');
    t.log(`plate ${found.plate} found by ${found.q.get('plate')}`);
    const hidden = await fetch(`${api}/api/v1/search?${found.q.toString()}`, { headers: auth });
    t.is(hidden.status, 200);
    t.deepEqual(((await hidden.json()) as { records: unknown[] }).records, [], 'another department sees no plate');
    const crop = await fetch(`${api}/api/v1/tracks/${encodeURIComponent(found.hit.id)}/plate`, { headers: traffic });
    t.is(crop.status, 200);
    t.is(crop.headers.get('content-type'), 'image/jpeg');
    const thumb = await fetch(`${api}${page.records[0]!.thumbnailUrl}`, { headers: auth });
    t.is(thumb.status, 200);
    t.is(thumb.headers.get('content-type'), 'image/jpeg');

    // A bad query is a 400 with a stable code, not a crash.
    const bad = await fetch(`${api}/api/v1/search?from=yesterday-ish`, { headers: auth });
    t.is(bad.status, 400);
    t.is(((await bad.json()) as { code: string }).code, 'INDEX_BAD_QUERY');

    await sub.drain();
    await nc.close();
  } finally {
    const pids = liveChildren();
    await stack?.stop();
    await sim.stop();
    t.deepEqual(liveChildren(), [], 'every tracked child has exited');
    for (const pid of pids) t.false(alive(pid), `process ${pid} is gone`);
    await rm(dataDir, { recursive: true, force: true });
  }
  });
});
