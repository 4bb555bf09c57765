/** A camera whose publisher dies goes to backoff (or stalled, then backoff) and comes back live when it returns. */
import test from 'ava';
import type { CameraState, IngestEvent } from '../ingest/index.js';
import { simCamera, startSim, until } from './support/ingest.js';

test('ingest - a camera that loses its publisher backs off and resumes with continuing sequence numbers', async (t) => {
  t.timeout(90_000);
  const cam = { id: 'flaky', source: 'synthetic' } as const;
  const { sim, pool, stop } = await startSim([cam]);
  const states: CameraState[] = [];
  pool.on((e: IngestEvent) => { if (e.type === 'health' && e.cameraId === 'flaky') states.push(e.state); });
  try {
    pool.add(simCamera(sim, 'flaky'));
    const runner = pool.get('flaky');
    let lastSeq = -1;
    runner.onFrame((f) => { t.true(f.seq > lastSeq, `seq ${f.seq} after ${lastSeq}`); lastSeq = f.seq; });
    await until('live', 20_000, () => runner.state === 'live');
    await until('a few frames', 10_000, () => lastSeq >= 5);

    await sim.killPublisher('flaky');
    await until('backoff after the publisher died', 20_000, () => runner.state === 'backoff');
    const seqAtLoss = lastSeq;
    t.true(['stalled', 'backoff'].includes(states[states.indexOf('live') + 1] ?? ''), states.join(' > '));
    t.truthy(runner.health().code?.startsWith('INGEST_'));

    sim.resumePublisher(cam);
    await until('live again', 40_000, () => runner.state === 'live' && lastSeq > seqAtLoss + 2);
    t.true(runner.health().restarts >= 1);
    t.is(runner.health().code, null);
    t.true(lastSeq > seqAtLoss, 'sequence numbers continued rather than restarting at 0');
  } finally {
    await stop();
  }
});
