/**
 * The tests that run a whole demo stack and judge what its detector sees (e2e-demo, the console's demo test)
 * take this lock, so ava's two workers never run two of them at once on a 2-core machine: two full stacks starve
 * each other's detection, and a scene that never empties then reads as empty. A lock left by a dead process is
 * taken over. Call `t.timeout` again once the lock is held: waiting for it is not the test's own time.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK = join(tmpdir(), 'cvcore-demo-stack.lock');

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

export async function exclusively<T>(fn: () => Promise<T>, waitMs = 900_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(await readFile(join(LOCK, 'pid'), 'utf8').catch(() => 'NaN'));
      // A lock whose owner is gone (or that is mid-creation for more than a moment) is stale.
      if (Number.isInteger(owner) && !alive(owner)) await rm(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited ${waitMs} ms for ${LOCK} (held by pid ${owner})`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}
