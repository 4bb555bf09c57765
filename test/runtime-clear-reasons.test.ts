/**
 * No incident left open, and each one's end says why (crowd alert schema v2, `clearReason`), against the real
 * stack (embedded nats-server, the stack's incident store, a durable consumer on the v2 stream). Incidents left
 * open by a last run are seeded in <dataDir>/incidents.json, as a stop leaves them; the cameras' streams are
 * unreachable on purpose, so no frame can end an incident first (the rule's own clear, zone-empty, is covered where
 * the sink is tested): at start, a camera gone from the config clears with camera-removed, a disabled one with
 * camera-disabled, a zone gone with zone-removed, a zone without its crowd rule any more with rule-changed; a
 * camera removed through the pool (DELETE /api/v1/cameras/:id) clears its open incident with camera-removed.
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import { freePort } from '../common/net.js';
import { parseConfig } from '../config/index.js';
import { demoConfig, startStack, type Stack } from '../runtime/index.js';
import type { SimulatedCameraPool } from '../ingest/index.js';
import { readDurable, readDurableV2 } from './harness/nats.js';
import { waitFor } from './support/wait.js';

let dir = '';
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'cvcore-clear-reasons-')); });
test.after.always(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

test('open incidents end with the reason: camera removed (at start and at run time), disabled, zone removed, rule changed', async (t) => {
  t.timeout(180_000);
  const log = createLogger({ level: 'error' });
  // Nothing listens there: the cameras are in the pool, their decoders keep retrying, and no frame ever arrives.
  const dead = await freePort();
  const fake = { url: (id: string) => `rtsp://127.0.0.1:${dead}/${id}` } as unknown as SimulatedCameraPool;
  const base = JSON.parse(JSON.stringify(demoConfig(fake, { cameras: 2, dataDir: dir, apiPort: 0, threshold: 3, plateCamera: false, faceCamera: false }))) as {
    cameras: Array<{ id: string; enabled?: boolean; zones: Array<Record<string, unknown>> }>;
    recording: Record<string, unknown>;
  };
  const [cam1, cam2] = base.cameras as [typeof base.cameras[0], typeof base.cameras[0]];
  const plaza = cam1.zones[0]!;
  // cam-1: 'plaza' (crowd rule, continued), 'steps' (no crowd rule: its incident's rule is gone). cam-2: disabled.
  cam1.zones = [plaza, { ...plaza, id: 'steps', name: 'steps', crowd: undefined }];
  cam2.enabled = false;
  const config = parseConfig(JSON.parse(JSON.stringify({ ...base, cameras: [cam1, cam2], recording: { ...base.recording, mode: 'off' } })));

  const t0 = Date.now() - 60_000;
  const kept = (cameraId: string, zoneId: string) => ({
    cameraId, zoneId, incident: { id: `${cameraId}.${zoneId}.${t0}`, startedAt: t0, published: 5, severity: 'low' },
    threshold: 3, windowMs: 2_000, district: 'shinan', location: null, at: t0 + 1_000,
  });
  await writeFile(join(dir, 'incidents.json'), JSON.stringify([
    kept('cam-1', 'plaza'), kept('cam-1', 'steps'), kept('cam-1', 'pier'), kept('cam-2', 'plaza'), kept('cam-9', 'plaza'),
  ]));

  let stack: Stack | null = await startStack({ config, log, natsPort: await freePort() });
  t.teardown(async () => { await stack?.stop(); });
  const s = stack;
  // The start-up clears (cam-9 gone, cam-2 disabled, cam-1's pier and steps), then the removal of cam-1.
  await waitFor('the start-up clears in the outbox', 30_000, async () => (s.pipeline.alertHistory(100).length >= 4 ? true : null));
  s.pipeline.cameras.remove('cam-1');
  await s.pipeline.idle();
  t.true(await s.alerts.drain(15_000), 'every clear acked by JetStream');

  // A desk on the v2 stream: one clear per kept incident, each with its reason (and nothing more).
  const got = await readDurableV2(s.natsUrl, 'reasons-desk', 5, 20_000);
  const reasonOf = (camera: string, zone: string): string | null | undefined => got.find((a) => a.camera === camera && a.zone === zone)?.clearReason;
  t.is(got.length, 5, 'one clear per kept incident, no more');
  t.true(got.every((a) => a.phase === 'cleared' && a.id === `${a.camera}.${a.zone}.${t0}`), 'each clear is the kept incident\'s own');
  t.is(reasonOf('cam-9', 'plaza'), 'camera-removed', 'a camera gone from the config while the core was down');
  t.is(reasonOf('cam-2', 'plaza'), 'camera-disabled');
  t.is(reasonOf('cam-1', 'pier'), 'zone-removed');
  t.is(reasonOf('cam-1', 'steps'), 'rule-changed');
  t.is(reasonOf('cam-1', 'plaza'), 'camera-removed', 'removed through the pool at run time');

  // The v1 desk got the same five clears, valid v1 (no reason field): nothing changed for it.
  const v1 = await readDurable(s.natsUrl, 'reasons-v1-desk', 5, 10_000);
  t.is(v1.length, 5);
  t.true(v1.every((a) => a.phase === 'cleared' && !('clearReason' in a)));
  await stack.stop();
  stack = null;
});
