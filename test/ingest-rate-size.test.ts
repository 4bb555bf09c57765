/** Real RTSP server, real ffmpeg publisher and decoder: frames come at the analysis rate and size asked for. */
import test from 'ava';
import type { Frame } from '../common/messages.js';
import { simCamera, sleep, startSim, until } from './support/ingest.js';

test('ingest - frames arrive at the requested rate and size', async (t) => {
  t.timeout(60_000);
  const { sim, pool, stop } = await startSim([{ id: 'rate', source: 'vtest' }]);
  try {
    pool.add(simCamera(sim, 'rate', { fps: 4, width: 352, height: 264 }));
    const runner = pool.get('rate');
    await until('the camera to go live', 20_000, () => runner.state === 'live');
    await sleep(1_000); // past the RTSP start-up burst
    const frames: Frame[] = [];
    const drain = setInterval(() => { for (let f = runner.queue.shift(); f; f = runner.queue.shift()) frames.push(f); }, 20);
    await sleep(5_000);
    clearInterval(drain);
    const fps = frames.length / 5;
    t.true(fps >= 3 && fps <= 5, `4 fps asked, ${fps} measured`);
    for (const f of frames) {
      t.is(f.width, 352);
      t.is(f.height, 264);
      t.is(f.data.byteLength, 352 * 264 * 3);
    }
    for (let i = 1; i < frames.length; i++) t.is(frames[i]!.seq, frames[i - 1]!.seq + 1, 'no gap in sequence numbers');
  } finally {
    await stop();
  }
});
