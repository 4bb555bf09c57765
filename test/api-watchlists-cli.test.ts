/**
 * `cvcore watchlist` against a running API (the shared harness with the real store and face models): create a
 * list, add the astronaut from a file, list entries, see an alarm and its entry history, acknowledge and dismiss
 * it, remove and delete; errors print the API's code and exit non-zero.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeFaceEmbedder } from '../inference/index.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';
import { tempDir } from './support/index-records.js';
import { astronautPng, gradientPng, watchAlarm } from './support/watchlist.js';

const BIN = fileURLToPath(new URL('../../bin/cvcore.js', import.meta.url));

let h: ApiHarness;
const files = tempDir('wl-cli');
test.before(async () => { h = await startHarness({ perDepartment: 1, watchlists: true }); });
test.after.always(async () => { await h?.close(); files.cleanup(); await closeFaceEmbedder(); });

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'watchlist', ...args, '--api', h.url], { env: { ...process.env, CVCORE_TOKEN: TOKENS.ps, CVCORE_API: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('cli - watchlist round trip: create, add-face, entries, alarms, matches, ack, dismiss, remove, delete', async (t) => {
  const photo = join(files.dir, 'astronaut.png');
  await writeFile(photo, await astronautPng());
  const gradient = join(files.dir, 'gradient.png');
  await writeFile(gradient, await gradientPng());

  const created = await cli('create', '--name', 'Wanted', '--department', 'public-security', '--kind', 'face', '--json');
  t.is(created.code, 0, created.stderr);
  const list = (JSON.parse(created.stdout) as { id: string }).id;
  const lists = await cli('lists');
  t.regex(lists.stdout, new RegExp(`^${list}\\s+face\\s+public-security\\s+0 entries\\s+Wanted$`, 'm'));

  const added = await cli('add-face', list, '--label', 'astronaut', '--photo', photo, '--threshold', '0.6', '--json');
  t.is(added.code, 0, added.stderr);
  const entry = (JSON.parse(added.stdout) as { id: string }).id;
  const entries = await cli('entries', list);
  t.regex(entries.stdout, new RegExp(`^${entry}\\s+astronaut\\s+face\\s+photos=1 threshold=0.6`, 'm'));

  const noFace = await cli('add-face', list, '--label', 'nobody', '--photo', gradient);
  t.is(noFace.code, 2);
  t.regex(noFace.stderr, /^error WATCHLIST_NO_FACE: photo 1 of 1 holds no face/m);
  const plateOnFace = await cli('add-plate', list, '--label', 'x', '--plate', '鲁B12345');
  t.is(plateOnFace.code, 2);
  t.regex(plateOnFace.stderr, /error WATCHLIST_KIND_MISMATCH/);
  const forbidden = await cli('create', '--name', 'X', '--department', 'traffic', '--kind', 'plate');
  t.regex(forbidden.stderr, /error API_FORBIDDEN/);

  const a = watchAlarm({ list, entry, department: 'public-security', at: Date.now() - 1000 });
  await h.watchlists!.recordAlarm(a, { snapshot: null, face: null });
  const alarms = await cli('alarms', '--kind', 'watchlist', '--state', 'open');
  t.is(alarms.code, 0, alarms.stderr);
  t.regex(alarms.stdout, new RegExp(`watchlist\\s+open\\s+cam-ps-1\\s+list=${list} entry=${entry} similarity=0.900\\s+${a.id}$`, 'm'));
  const matches = await cli('matches', list, entry);
  t.regex(matches.stdout, new RegExp(a.id));
  const ack = await cli('ack', a.id, '--note', 'on it');
  t.is(ack.code, 0, ack.stderr);
  t.regex(ack.stdout, /^acknowledged by inv-ps/m);
  const dismiss = await cli('dismiss', a.id);
  t.regex(dismiss.stdout, /^dismissed by inv-ps/m);
  const again = await cli('ack', a.id);
  t.is(again.code, 2);
  t.regex(again.stderr, /error WATCHLIST_ALARM_FINAL/);

  t.is((await cli('remove', list, entry)).code, 0);
  const missing = await cli('remove', list, entry);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /error API_NOT_FOUND/);
  t.is((await cli('delete', list)).code, 0);
  t.regex((await cli('lists')).stdout, /no watch-lists/);
  const usage = await cli('frobnicate');
  t.is(usage.code, 2);
  t.regex(usage.stderr, /unknown subcommand/);
});

test('cli - watchlist add-plate and a plate that is not one', async (t) => {
  const env = { ...process.env, CVCORE_TOKEN: TOKENS.traffic, CVCORE_API: h.url };
  const run = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'watchlist', ...args], { env }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }));
  });
  const list = (JSON.parse((await run('create', '--name', 'Hot', '--department', 'traffic', '--kind', 'plate', '--json')).stdout) as { id: string }).id;
  const ok = await run('add-plate', list, '--label', 'stolen', '--plate', '鲁b12345', '--fuzzy');
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /stolen\s+plate 鲁B·12345 fuzzy/);
  const bad = await run('add-plate', list, '--label', 'x', '--plate', 'XY');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /error WATCHLIST_BAD_PLATE: not a mainland plate/);
  const noToken = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [BIN, 'watchlist', 'lists', '--api', h.url], { env: { ...process.env, CVCORE_TOKEN: '' } }, (err, _o, stderr) => resolve({ code: err ? 2 : 0, stderr }));
  });
  t.is(noToken.code, 2);
});
