/**
 * `cvcore bench audit`: audit-trail appends per second on a real RocksDB in a temp folder (every append synced),
 * one at a time (a route awaiting its entry before answering) and C at once (concurrent requests), and the time
 * `verify` takes to walk the chain. Prints a table or `--json`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadNodeKey } from '../common/node-key.js';
import { openIndex, type AuditEntry, type LocalIndex } from '../search-index/index.js';
import { benchDataKey } from './data-key.js';

const entry = (i: number): AuditEntry => ({
  at: Date.now(), tokenId: `tok-${i % 7}`, role: 'investigator', department: 'police', action: 'search',
  query: { attributes: { colour: 'red' }, cameraIds: ['cam-1', 'cam-2'], limit: 50 }, results: Array.from({ length: 20 }, (_, k) => `cam-1:${i}:${k}`),
});

async function timed(n: number, concurrency: number, index: LocalIndex, base: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await index.appendAudit(entry(base + next++));
  }));
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export async function benchAudit(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { entries: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '16' }, json: { type: 'boolean' } }, strict: true });
  const n = Number(values.entries);
  const c = Number(values.concurrency);
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(c) || c < 1) throw new RangeError('--entries and --concurrency must be positive integers');
  const dir = mkdtempSync(join(tmpdir(), 'cvcore-bench-audit-'));
  try {
    // The core's settings: the node key signs a checkpoint every 1000 entries (inside the appends timed here).
    const key = await loadNodeKey(dir);
    const index = await openIndex({ dataKey: benchDataKey(),  dir: join(dir, 'index'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0, dimensions: 8, audit: { key, node: 'bench' } });
    let serial: number;
    let parallel: number;
    let verifyMs: number;
    let verified: boolean;
    try {
      await timed(50, 1, index, 0);
      serial = await timed(n, 1, index, 100);
      parallel = await timed(n, c, index, 100 + n);
      const t0 = process.hrtime.bigint();
      verified = (await index.verifyAudit()).ok;
      verifyMs = Number(process.hrtime.bigint() - t0) / 1e6;
    } finally {
      await index.close();
    }
    const out = { entries: n, concurrency: c, appends_per_s_serial: Math.round(serial), appends_per_s_concurrent: Math.round(parallel), verify_ms: Math.round(verifyMs), verify_entries: 2 * n + 50, verified };
    process.stdout.write(values.json ? JSON.stringify(out, null, 2) + '\n' : Object.entries(out).map(([k, v]) => `${k.padEnd(26)} ${v}`).join('\n') + '\n');
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
