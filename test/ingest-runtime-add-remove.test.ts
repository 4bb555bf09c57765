/** Cameras added and removed while another runs: the running one never notices. */
import test from 'ava';
import { liveChildren } from '../common/proc.js';
import { simCamera, sleep, startSim, until } from './support/ingest.js';

test('ingest - cameras added and removed at run time while another camera runs', async (t) => {
  // Generous bounds: on two cores beside a lavapipe test, the first RTSP probe alone has taken over 20 s.
  t.timeout(200_000);
  const { sim, pool, stop } = await startSim([{ id: 'a', source: 'synthetic' }, { id: 'b', source: 'vtest' }]);
  try {
    const added: string[] = [];
    const removed: string[] = [];
    pool.onCamera((r) => added.push(r.config.id), (id) => removed.push(id));
    pool.add(simCamera(sim, 'a'));
    await until('a live', 60_000, () => pool.get('a').state === 'live');
    const children = liveChildren().length;

    pool.add(simCamera(sim, 'b'));
    t.throws(() => pool.add(simCamera(sim, 'b')), { code: 'INGEST_DUPLICATE_CAMERA' } as never);
    await until('b live', 60_000, () => pool.get('b').state === 'live');
    t.is(liveChildren().length, children + 1, 'one more decoder');

    const aBefore = pool.get('a').health().framesDecoded;
    const b = pool.get('b');
    pool.remove('b');
    t.is(b.state, 'stopped');
    t.false(pool.has('b'));
    t.throws(() => pool.get('b'), { code: 'INGEST_UNKNOWN_CAMERA' } as never);
    await until('b decoder gone', 15_000, () => liveChildren().length === children);
    await sleep(1_000);
    t.is(pool.get('a').state, 'live');
    t.true(pool.get('a').health().framesDecoded > aBefore);
    t.deepEqual(added, ['a', 'b']);
    t.deepEqual(removed, ['b']);

    const changed = pool.update('a', { ...simCamera(sim, 'a'), fps: 2 });
    t.is(changed.fps, 2);
    await until('a live after the change', 60_000, () => pool.get('a').state === 'live');
  } finally {
    await stop();
  }
});
