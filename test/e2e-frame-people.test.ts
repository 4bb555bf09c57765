/**
 * The whole path of a crowd frame's people, on the real stack (simulated vtest camera, real detector, tracker,
 * crowd rule, index and API): the frame the pipeline keeps for a raised crowd alert carries its person boxes;
 * a token issued through the API without the face grant gets that frame with the heads blurred, an issued token
 * with the grant gets it as kept. The stack also opens its token store in the data folder.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import { freePort } from '../common/net.js';
import { peopleOf } from '../common/frame-people.js';
import { demoConfig, startDemoCameras, startStack, type Stack } from '../runtime/index.js';
import { exclusively } from './support/exclusive.js';
import { waitFor } from './support/wait.js';

test('e2e - a crowd alert\'s frame carries its people; without the face grant their heads come blurred', async (t) => {
  t.timeout(1_200_000);
  await exclusively(async () => {
    t.timeout(300_000);
    const dir = await mkdtemp(join(tmpdir(), 'cvcore-frame-people-'));
    const sim = await startDemoCameras(1, { plateCamera: false, faceCamera: false });
    let stack: Stack | null = null;
    try {
      const config = demoConfig(sim, { cameras: 1, dataDir: dir, apiPort: 0, threshold: 2, plateCamera: false, faceCamera: false });
      stack = await startStack({ config, log: createLogger({ level: 'warn' }), natsPort: await freePort() });
      const s = stack;
      const alert = await waitFor('a raised crowd alert with a frame', 240_000, async () =>
        s.pipeline.alertHistory(1000).find((a) => a.phase === 'raised' && a.snapshotRef !== null) ?? null);
      const id = alert.snapshotRef!.split('/').pop()!;
      const kept = await s.index.alarmFrame!(id, 'all');
      t.truthy(kept, 'the frame is in the index');
      const people = peopleOf(kept!.jpeg);
      t.truthy(people, 'the kept frame carries its person boxes');
      t.log(`alert ${alert.id}: count ${alert.count}, ${people!.length} person boxes in the frame`);
      t.true(people!.length >= alert.count, 'at least as many boxes as people the rule counted');

      const issue = async (faces: boolean): Promise<string> => {
        const r = await fetch(`${s.apiUrl}/api/v1/tokens`, {
          method: 'POST', headers: { authorization: 'Bearer demo-admin', 'content-type': 'application/json' },
          body: JSON.stringify({ person: faces ? 'Investigator' : 'Traffic Desk', role: 'investigator', departments: ['*'], faces, expiresIn: '1h' }),
        });
        t.is(r.status, 201);
        return ((await r.json()) as { secret: string }).secret;
      };
      const get = async (secret: string): Promise<Buffer> => {
        const r = await fetch(`${s.apiUrl}${alert.snapshotRef}`, { headers: { authorization: `Bearer ${secret}` } });
        t.is(r.status, 200);
        return Buffer.from(await r.arrayBuffer());
      };
      t.deepEqual(await get(await issue(true)), Buffer.from(kept!.jpeg));
      const blurred = await get(await issue(false));
      t.notDeepEqual(blurred, Buffer.from(kept!.jpeg));
      t.is(peopleOf(blurred), null, 'the served frame carries no boxes');
    } finally {
      await stack?.stop();
      await sim.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
