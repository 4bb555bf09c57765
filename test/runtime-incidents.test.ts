/**
 * No incident left open, on one node, against the real stack (simulated RTSP camera, real models, embedded
 * nats-server, a durable consumer): an incident open at a graceful stop is continued by the next run (an update
 * or clear with the same id, never a second raise beside it), and one whose camera is gone at the next start is
 * cleared. A stop is not an end; a removal is.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import { freePort } from '../common/net.js';
import { parseConfig } from '../config/index.js';
import { demoConfig, startDemoCameras, startStack, type Stack } from '../runtime/index.js';
import type { CrowdAlertV1 } from '../alerts/index.js';
import type { SimulatedCameraPool } from '../ingest/index.js';
import { readDurable, readDurableV2 } from './harness/nats.js';
import { waitFor } from './support/wait.js';

let sim: SimulatedCameraPool | null = null;
let dir = '';
test.before(async () => {
  sim = await startDemoCameras(2, { plateCamera: false, faceCamera: false });
  dir = await mkdtemp(join(tmpdir(), 'cvcore-incidents-'));
});
test.after.always(async () => {
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('an incident open at a stop goes on after the restart; one whose camera is gone is cleared at start', async (t) => {
  t.timeout(420_000);
  const log = createLogger({ level: 'warn' });
  const natsPort = await freePort();
  // Two vtest cameras (people always on screen), a low threshold so incidents open within seconds.
  const both = demoConfig(sim!, { cameras: 2, dataDir: dir, apiPort: 0, threshold: 2, plateCamera: false, faceCamera: false });
  let stack: Stack | null = null;
  t.teardown(async () => { await stack?.stop(); });
  const seen = (s: Stack): CrowdAlertV1[] => s.pipeline.alertHistory(1000);

  // Run 1: both cameras raise; stop while the incidents are open.
  stack = await startStack({ config: both, log, natsPort });
  const s1 = stack;
  const first = await waitFor('an incident raised on each camera', 180_000, async () => {
    const raised = seen(s1).filter((a) => a.phase === 'raised');
    return ['cam-1', 'cam-2'].every((c) => raised.some((a) => a.camera === c)) ? raised : null;
  });
  await stack.stop();
  stack = null;
  const kept = JSON.parse(await readFile(join(dir, 'incidents.json'), 'utf8')) as { cameraId: string; incident: { id: string } }[];
  const open1 = (cam: string): string | undefined => kept.find((k) => k.cameraId === cam)?.incident.id;
  t.truthy(open1('cam-1'), 'cam-1\'s incident is kept open across the stop');
  t.truthy(open1('cam-2'), 'cam-2\'s incident is kept open across the stop');
  t.true(first.some((a) => a.id === open1('cam-1')));

  // Run 2: same cameras. The open incident goes on: its next decision has the same id, and no raise comes first.
  stack = await startStack({ config: both, log, natsPort });
  const s2 = stack;
  const next = await waitFor('the kept incident continued on cam-1', 120_000, async () => seen(s2).find((a) => a.camera === 'cam-1') ?? null);
  t.is(next.id, open1('cam-1')!);
  t.not(next.phase, 'raised');
  await stack.stop();
  stack = null;

  // Run 3: cam-2 was removed from the config while the core was down: its open incident is cleared at start.
  const one = parseConfig({ ...JSON.parse(JSON.stringify(both)), cameras: [JSON.parse(JSON.stringify(both.cameras[0]))] });
  stack = await startStack({ config: one, log, natsPort });
  const cleared = seen(stack).find((a) => a.camera === 'cam-2');
  t.truthy(cleared, 'a clear for cam-2 at start');
  t.is(cleared!.phase, 'cleared');
  t.is(cleared!.id, open1('cam-2')!);
  t.is(cleared!.count, 0);

  // A removal through the pool (what DELETE /api/v1/cameras/:id does) ends cam-1's open incident at once.
  const s3 = stack;
  const open3 = await waitFor('cam-1 with an open incident', 120_000, async () => {
    const last = seen(s3).filter((a) => a.camera === 'cam-1')[0];
    return last && last.phase !== 'cleared' ? last : null;
  });
  s3.pipeline.cameras.remove('cam-1');
  const removedClear = await waitFor('cam-1\'s incident cleared by the removal', 30_000, async () => seen(s3).find((a) => a.id === open3.id && a.phase === 'cleared') ?? null);
  t.is(removedClear.camera, 'cam-1');

  // What a subscriber desk saw, across the three runs: one raise per incident, and every incident ends cleared.
  const all = await readDurable(s3.natsUrl, 'incidents-test', 1, 10_000);
  const ids = new Set(all.map((a) => a.id));
  for (const id of ids) {
    const mine = all.filter((a) => a.id === id);
    t.is(mine.filter((a) => a.phase === 'raised').length, 1, `${id}: one raise`);
    t.is(mine.at(-1)!.phase, 'cleared', `${id}: ends cleared`);
  }
  // A desk on schema v2 learns why each ended: both cameras were removed (cam-2 while the core was down).
  const v2 = await readDurableV2(s3.natsUrl, 'incidents-test-v2', all.length);
  t.is(v2.find((a) => a.id === open3.id && a.phase === 'cleared')?.clearReason, 'camera-removed');
  t.is(v2.find((a) => a.id === open1('cam-2') && a.phase === 'cleared')?.clearReason, 'camera-removed');
  await stack.stop();
  stack = null;
});
