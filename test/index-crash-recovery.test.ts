import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openIndex, verifyIndex } from '../search-index/index.js';
import { tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const WRITER = fileURLToPath(new URL('./fixtures/index-writer.js', import.meta.url));

/** Starts the writer, waits until at least `atLeast` records are durable, then SIGKILLs it mid-stream. */
function runAndKill(dir: string, seed: number, atLeast: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let durable = 0;
    let buf = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^durable (\d+)$/.exec(l);
        if (m) durable = Number(m[1]);
      }
      if (durable >= atLeast && !child.killed) {
        // A few ms more so the kill lands inside a batch, not at a flush boundary.
        setTimeout(() => child.kill('SIGKILL'), 3 + seed * 7);
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal === 'SIGKILL') resolve(durable);
      else reject(new Error(`writer exited without being killed (signal ${signal})`));
    });
  });
}

test('index - a writer killed with SIGKILL leaves a consistent index that keeps every flushed record', async (t) => {
  const { dir, cleanup } = tempDir('crash');
  t.teardown(cleanup);
  let durable = 0;
  // Two kills in a row: the second writer reopens what the first left (catch-up of the face graph included).
  for (const seed of [1, 2]) {
    durable = await runAndKill(dir, seed, 1500);
    const report = await verifyIndex(dir);
    t.deepEqual(report.problems.slice(0, 10), [], `after kill ${seed}`);
    // The second writer restarts its ids at w0, so it overwrites; at least its durable prefix is there.
    t.true(report.records >= durable, `records ${report.records} >= durable ${durable}`);
  }
  const index = await openIndex({ dataKey: testDataKey(),  dir, dimensions: 64, sweepIntervalMs: 0 });
  t.teardown(() => index.close());
  for (const id of [`w0`, `w${durable - 1}`, `w${Math.floor(durable / 2)}`]) t.truthy(await index.get(id, 'all'), id);
  // The face graph answers for faces written after its last save (rebuilt or caught up from RocksDB).
  const last = (durable - 1) - ((durable - 1) % 4);
  const rec = await index.get(`w${last}`, 'all');
  t.truthy(rec?.embedding);
  const [best] = await index.faceSearch(rec!.embedding!, { k: 1 }, 'all');
  t.is(best?.record.id, `w${last}`);
  t.true((best?.similarity ?? 0) > 0.999);
  const s = index.stats();
  t.true(s.records >= durable && s.faces > 0);
});
