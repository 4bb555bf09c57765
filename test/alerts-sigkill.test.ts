import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDurable, startNats, zoneOrderViolations } from './harness/nats.js';

const producer = fileURLToPath(new URL('./fixtures/alert-producer.js', import.meta.url));

/** Runs the producer; resolves with the submitted indices it printed and how it ended. */
function runProducer(args: string[], killAfter: number | null): Promise<{ submitted: number[]; code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [producer, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const submitted: number[] = [];
    let out = '';
    let buf = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      buf += b.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^submitted (\d+)$/.exec(line);
        if (m) submitted.push(Number(m[1]));
        if (killAfter !== null && submitted.length === killAfter) child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    child.on('error', reject);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ submitted, code, signal, out }); });
  });
}

test('alerts - SIGKILL the core mid-incident and start it again: nothing lost, nothing duplicated', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const dataDir = join(nats.dir, 'core');
  const total = 80;
  const first = await runProducer([nats.url, dataDir, '0', String(total), '1'], 30);
  t.is(first.signal, 'SIGKILL', first.out);
  const last = Math.max(...first.submitted);
  t.true(last < total - 1, 'killed before the end');
  // The rule upstream re-emits what it is not sure went out: resubmit the last few; they must not duplicate.
  const resume = Math.max(0, last - 3);
  const second = await runProducer([nats.url, dataDir, String(resume), String(total), '0'], null);
  t.is(second.code, 0, second.out);
  t.true(second.out.includes('drained'));
  const got = await readDurable(nats.url, 'sigkill-check', total);
  t.is(got.length, total, 'every alert once');
  t.deepEqual([...new Set(got.map((a) => a.at))].length, total, 'no duplicates');
  t.deepEqual(zoneOrderViolations(got), []);
});
