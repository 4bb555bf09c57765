import test from 'ava';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flatPng, noisePng, startHarness, TOKENS, type ApiHarness } from './support/api-app.js';
import { makeRecord, tempDir } from './support/index-records.js';

const BIN = fileURLToPath(new URL('../../bin/cvcore.js', import.meta.url));

let h: ApiHarness;
test.before(async () => {
  h = await startHarness({ perDepartment: 6 });
  for (const [id, plate, start] of [['cam-ps-1:91:1', '鲁B12345', 1], ['cam-ps-1:92:2', '鲁B1Z345', 2]] as const) {
    await h.index.put(makeRecord({ id, cameraId: 'cam-ps-1', department: 'public-security', cls: 'car', start: 1_700_000_900_000 + start, attributes: { plate, plateColour: 'blue' } }));
  }
  await h.index.put(makeRecord({ id: 'cam-ps-2:93:3', cameraId: 'cam-ps-2', department: 'public-security', cls: 'person', start: 1_700_000_900_003, attributes: { upperColour: 'red', lowerColour: 'black' } }));
  await h.index.flush();
});
test.after.always(async () => { await h?.close(); });

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'search', '--api', h.url, ...args], { env: { ...process.env, CVCORE_TOKEN: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('cli - search prints the caller\'s records, pages with --cursor, and --json gives the API answer', async (t) => {
  const json = await cli('--token', TOKENS.traffic, '--class', 'car', '--limit', '2', '--json');
  t.is(json.code, 0, json.stderr);
  const page = JSON.parse(json.stdout) as { records: { id: string; department: string; cls: string }[]; nextCursor: string };
  t.is(page.records.length, 2);
  t.true(page.records.every((r) => r.department === 'traffic' && r.cls === 'car'));
  const next = await cli('--token', TOKENS.traffic, '--class', 'car', '--limit', '2', '--cursor', page.nextCursor);
  t.is(next.code, 0);
  t.regex(next.stdout, /cam-tr-1\s+car/);
  t.false(page.records.some((r) => next.stdout.includes(r.id)));
  const text = await cli('--token', TOKENS.ps, '--camera', 'cam-tr-1');
  t.regex(text.stdout, /no records/);
});

test('cli - search --plate shows plates in display form with how they matched; colours filter', async (t) => {
  const res = await cli('--token', TOKENS.ps, '--plate', '鲁B·12345', '--plate-colour', 'blue');
  t.is(res.code, 0, res.stderr);
  t.regex(res.stdout, /^exact .*plate=鲁B·12345 .*cam-ps-1:91:1$/m);
  t.regex(res.stdout, /^confusion .*plate=鲁B·1Z345 .*cam-ps-1:92:2$/m);
  const exact = await cli('--token', TOKENS.ps, '--plate', '鲁B12345', '--no-fuzzy', '--json');
  t.deepEqual((JSON.parse(exact.stdout) as { records: { id: string }[] }).records.map((r) => r.id), ['cam-ps-1:91:1']);
  const wild = await cli('--token', TOKENS.ps, '--plate', '*345', '--json');
  t.is((JSON.parse(wild.stdout) as { records: unknown[] }).records.length, 2);
  const clothes = await cli('--token', TOKENS.ps, '--upper-colour', 'red', '--lower-colour', 'black');
  t.regex(clothes.stdout, /cam-ps-2:93:3$/m);
  const bad = await cli('--token', TOKENS.ps, '--plate', '鲁B12#45');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /error INDEX_BAD_QUERY: plate/);
  const noPlate = await cli('--token', TOKENS.ps, '--no-fuzzy');
  t.is(noPlate.code, 2);
});

test('cli - search reports API errors with their code and a non-zero exit', async (t) => {
  const bad = await cli('--token', TOKENS.ps, '--from', 'yesterday-ish');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /error INDEX_BAD_QUERY: from/);
  const denied = await cli('--token', 'wrong-token');
  t.is(denied.code, 2);
  t.regex(denied.stderr, /error API_UNAUTHORIZED/);
  const none = await cli();
  t.is(none.code, 2);
  t.regex(none.stderr, /token is needed/);
  const unknown = await cli('--token', TOKENS.ps, '--colur', 'red');
  t.is(unknown.code, 2);
});

test('cli - search --face uploads a photo and lists the matches', async (t) => {
  const { dir, cleanup } = tempDir('cli-face');
  t.teardown(cleanup);
  const face = join(dir, 'face.png');
  await writeFile(face, await noisePng(h.faceSeeds['public-security']));
  const res = await cli('--token', TOKENS.ps, '--face', face, '--k', '3');
  t.is(res.code, 0, res.stderr);
  t.regex(res.stdout, /face found/);
  t.regex(res.stdout, new RegExp(`^1\\.000 .*${h.records['public-security'][0]!.id}$`, 'm'));
  const blank = join(dir, 'blank.png');
  await writeFile(blank, await flatPng());
  const noFace = await cli('--token', TOKENS.ps, '--face', blank);
  t.is(noFace.code, 2);
  t.regex(noFace.stderr, /error API_NO_FACE/);
});
