/**
 * Beyond capacity: one camera asks for more than the node can detect (25 fps at the model's full 512 input, on
 * one worker thread). It is served what the node can give, its queue sheds the rest, and it is flagged:
 * an `overloaded` load event, `stats().load`, and the Prometheus gauges. Real stack: RTSP pool, ffmpeg, wasm.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import { parseConfig } from '../config/index.js';
import type { PipelineEvent } from '../runtime/index.js';
import { demoConfig, startDemoCameras, startStack } from '../runtime/index.js';
import { waitFor } from './support/wait.js';

test('runtime - a camera beyond the node\'s capacity is flagged overloaded in an event, the stats and the metrics', async (t) => {
  t.timeout(170_000);
  const dataDir = await mkdtemp(join(tmpdir(), 'cvcore-overload-'));
  const sim = await startDemoCameras(1);
  let stack: Awaited<ReturnType<typeof startStack>> | null = null;
  try {
    const raw = JSON.parse(JSON.stringify(demoConfig(sim, { cameras: 1, dataDir, apiPort: 0, fps: 25 }))) as Record<string, unknown> & { cameras: Record<string, unknown>[]; inference: Record<string, unknown> };
    raw.cameras[0]!['detectEvery'] = 1;
    raw.inference = { ...raw.inference, workers: 1, inputSize: 512 };
    stack = await startStack({ config: parseConfig(raw), log: createLogger({ level: 'error' }) });
    const events: PipelineEvent[] = [];
    stack.pipeline.on((e) => { if (e.type === 'load') events.push(e); });
    const ev = await waitFor('an overloaded load event', 120_000, async () => events.find((e) => e.type === 'load' && e.overloaded));
    t.is(ev.type === 'load' ? ev.cameraId : null, 'cam-1');
    const load = stack.pipeline.stats().load['cam-1']!;
    t.is(load.targetFps, 25);
    t.true(load.overloaded);
    t.true(load.handledFps < 25 * 0.95, `handled ${load.handledFps} fps`);
    t.true(load.handledFps > 0, 'the camera is still served, at what the node can give');
    const res = await fetch(`${stack.apiUrl}/metrics`, { headers: { authorization: 'Bearer demo-admin' } });
    const text = await res.text();
    t.regex(text, /cvcore_camera_overloaded\{camera="cam-1"\} 1/);
    t.regex(text, /cvcore_camera_handled_fps\{camera="cam-1"\} [\d.]+/);
    t.regex(text, /cvcore_structure_queue_depth \d+/);
  } finally {
    await stack?.stop();
    await sim.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
