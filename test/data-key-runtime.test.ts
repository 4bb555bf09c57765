/**
 * The core's data key (runtime/data-key.ts): where it came from is logged, the default file beside the data is
 * warned about, and a rotation of the key file reaches a running core (a change of the file, and SIGHUP), so the
 * index it serves re-seals under the new key while reads go on.
 */
import test from 'ava';
import { join } from 'node:path';
import { initDataKeyFile, rotateDataKeyFile } from '../common/data-key.js';
import { createLogger } from '../common/log.js';
import { parseConfig } from '../config/index.js';
import { openCoreDataKey } from '../runtime/data-key.js';
import { openIndex } from '../search-index/index.js';
import { makeRecord, tempDir } from './support/index-records.js';
import { waitFor } from './support/wait.js';

function capture(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: createLogger({ level: 'debug', sink: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }), lines };
}

test('data key at start: the default file is made beside the data and warned about; a configured one is not', async (t) => {
  const { dir, cleanup } = tempDir('dk-default');
  t.teardown(cleanup);
  const saved = process.env['CVCORE_DATA_KEY_FILE'];
  delete process.env['CVCORE_DATA_KEY_FILE'];
  t.teardown(() => { if (saved !== undefined) process.env['CVCORE_DATA_KEY_FILE'] = saved; });
  let c = capture();
  const def = await openCoreDataKey(parseConfig({ dataDir: dir }), dir, c.log);
  await def.stop();
  t.is(def.ring.path, join(dir, 'keys', 'data-key.json'));
  t.like(c.lines.find((l) => l['msg'] === 'data key'), { source: 'default', created: true, file: def.ring.path });
  t.true(c.lines.some((l) => l['level'] === 'warn' && String(l['msg']).includes('protects copies and backups')));

  const file = join(dir, 'elsewhere', 'k.json');
  await initDataKeyFile(file);
  c = capture();
  const conf = await openCoreDataKey(parseConfig({ dataDir: dir, dataKey: { file } }), dir, c.log);
  await conf.stop();
  t.like(c.lines.find((l) => l['msg'] === 'data key'), { source: 'config', created: false, file });
  t.false(c.lines.some((l) => l['level'] === 'warn'));
});

test('data key at run time: a rotated file (changed on disk, or SIGHUP) reaches the ring, and the open index re-seals', async (t) => {
  const { dir, cleanup } = tempDir('dk-reload');
  t.teardown(cleanup);
  const file = join(dir, 'k.json');
  const first = await initDataKeyFile(file);
  const { log, lines } = capture();
  const core = await openCoreDataKey(parseConfig({ dataDir: dir, dataKey: { file } }), dir, log);
  t.teardown(() => core.stop());
  const index = await openIndex({ dataKey: core.ring, dir: join(dir, 'index'), sweepIntervalMs: 0, log });
  t.teardown(() => index.close());
  for (let i = 0; i < 40; i++) await index.put(makeRecord({ id: `d${i}`, thumbnail: Buffer.from(`t${i}`) }));
  await index.flush();

  // The file changes on disk: the poll picks it up.
  const second = await rotateDataKeyFile(file);
  await waitFor('the ring to follow the file', 30_000, async () => (core.ring.currentId === second.id ? true : null), () => core.ring.currentId);
  t.true(lines.some((l) => l['msg'] === 'data key rotated: new values are sealed under the new key; stores re-seal older ones in the background' && l['previous'] === first.id));
  // The index notices by itself and re-seals in the background; reads work meanwhile.
  t.is(Buffer.from((await index.thumbnail('d3', 'all'))!).toString(), 't3');
  // The status turns done while the sweep's last step is still writing its status row; the log line follows it.
  const sweepDone = (): boolean => index.dataKeyStatus().done && index.dataKeyStatus().target === second.id && lines.some((l) => l['msg'] === 'data key re-seal done');
  await waitFor('the re-seal sweep and its log line', 60_000, async () => (sweepDone() ? true : null), () => JSON.stringify(index.dataKeyStatus()));
  t.is(index.dataKeyStatus().resealed, 41);

  // SIGHUP reloads as well (a promote of a staged key, with the file's mtime unchanged by a restore, say).
  const third = await rotateDataKeyFile(file, { stage: true });
  await rotateDataKeyFile(file, { promote: third.id });
  process.kill(process.pid, 'SIGHUP');
  await waitFor('SIGHUP to reload the ring', 30_000, async () => (core.ring.currentId === third.id ? true : null), () => core.ring.currentId);
  t.is(Buffer.from((await index.thumbnail('d39', 'all'))!).toString(), 't39');
});
