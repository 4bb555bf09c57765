import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPairSync } from 'node:crypto';
import { buildExport, loadNodeKey, type NodeKey } from '../evidence/index.js';
import { tempDir } from './support/index-records.js';
import { startHarness, TOKENS } from './support/api-app.js';
import { flipStoredByte, makeMp4 } from './support/zips.js';

const BIN = fileURLToPath(new URL('../../bin/cvcore.js', import.meta.url));
const CLIP = 'clips/cam-1-1-2.mp4';

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'export', ...args], { env: { ...process.env, CVCORE_TOKEN: '', CVCORE_API: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let tmp: ReturnType<typeof tempDir>;
let key: NodeKey;
let good: string;
test.before(async () => {
  tmp = tempDir('evidence-cli');
  const dataDir = join(tmp.dir, 'data');
  key = await loadNodeKey(dataDir);
  const mp4 = join(tmp.dir, 'c.mp4');
  await makeMp4(mp4, 2);
  good = (await buildExport({ dir: tmp.dir, id: 'exp-cli-00000001', node: 'n', createdBy: 'inv', createdAt: Date.now(), request: {}, key, files: [{ name: CLIP, path: mp4 }] })).path;
});
test.after.always(() => tmp?.cleanup());

test('cli - export verify exits 0 on a good export, 1 naming each problem, 2 on a file that is no export', async (t) => {
  const ok = await cli('verify', good);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, new RegExp(`^ok: export exp-cli-00000001 verifies.*${key.fingerprint}`));
  t.is((await cli('verify', good, '--key', key.publicPath)).code, 0);
  t.is((await cli('verify', good, '--fingerprint', key.fingerprint)).code, 0);

  const json = await cli('verify', good, '--json');
  t.is(json.code, 0);
  t.like(JSON.parse(json.stdout), { ok: true, id: 'exp-cli-00000001', signatureValid: true, keyTrusted: null });

  const bad = join(tmp.dir, 'bad.zip');
  await writeFile(bad, await readFile(good));
  await flipStoredByte(bad, CLIP, 500);
  const failed = await cli('verify', bad);
  t.is(failed.code, 1);
  t.regex(failed.stdout, /^FAILED: export exp-cli-00000001 does not verify/);
  t.regex(failed.stdout, new RegExp(`changed: ${CLIP}`));

  const otherPem = join(tmp.dir, 'other.pub.pem');
  await writeFile(otherPem, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  const foreign = await cli('verify', good, '--key', otherPem);
  t.is(foreign.code, 1);
  t.regex(foreign.stdout, /key: the export was signed by [0-9a-f]{64}, not the trusted key/);

  const notZip = join(tmp.dir, 'x.zip');
  await writeFile(notZip, 'plain text');
  const nz = await cli('verify', notZip);
  t.is(nz.code, 2);
  t.regex(nz.stderr, /^error EVIDENCE_BAD_FILE: /);
  t.is((await cli('verify', join(tmp.dir, 'absent.zip'))).code, 2);
  t.is((await cli('verify')).code, 2, 'no file: usage');
  t.is((await cli('verify', good, '--key', otherPem, '--fingerprint', key.fingerprint)).code, 2);
  t.regex((await cli('verify', good, '--fingerprint', 'xyz')).stderr, /EVIDENCE_KEY/);
  t.is((await cli('frobnicate')).code, 2);
});

test('cli - export key --data-dir prints the node key\'s fingerprint and PEM without making one', async (t) => {
  const k = await cli('key', '--data-dir', join(tmp.dir, 'data'));
  t.is(k.code, 0, k.stderr);
  t.is(k.stdout, `fingerprint ${key.fingerprint}\n${key.publicPem}`);
  const none = await cli('key', '--data-dir', join(tmp.dir, 'empty'));
  t.is(none.code, 2);
  t.regex(none.stderr, /EVIDENCE_KEY/);
});

test('cli - export create, ls, download and key go through the API with the caller\'s token and scope', async (t) => {
  const h = await startHarness({ perDepartment: 3, exports: true });
  t.teardown(() => h.close());
  const api = ['--api', h.url];
  const track = h.records['public-security'][1]!.id;
  const out = join(tmp.dir, 'made.zip');
  const made = await cli('create', ...api, '--token', TOKENS.ps, '--track', track, '--note', 'case 9', '-o', out, '--json');
  t.is(made.code, 0, made.stderr);
  const e = JSON.parse(made.stdout) as { id: string; sha256: string };
  const v = await cli('verify', out, '--fingerprint', h.exports!.key.fingerprint);
  t.is(v.code, 0, v.stdout);

  const ls = await cli('ls', ...api, '--token', TOKENS.ps);
  t.is(ls.code, 0);
  t.regex(ls.stdout, new RegExp(`^${e.id} .*inv-ps .*public-security  missing clips: cam-ps-2 \\(RECORDING_OFF\\)`, 'm'));
  t.is((await cli('ls', ...api, '--token', TOKENS.traffic)).stdout, 'no exports\n', 'another department sees none');

  const again = join(tmp.dir, 'again.zip');
  const dl = await cli('download', e.id, '-o', again, ...api, '--token', TOKENS.ps);
  t.is(dl.code, 0, dl.stderr);
  t.deepEqual(await readFile(again), await readFile(out));
  const hidden = await cli('download', e.id, '-o', join(tmp.dir, 'no.zip'), ...api, '--token', TOKENS.traffic);
  t.is(hidden.code, 2);
  t.regex(hidden.stderr, /^error EVIDENCE_NOT_FOUND: /);
  t.false((await import('node:fs')).existsSync(join(tmp.dir, 'no.zip')), 'no file for a refused download');

  const other = await cli('create', ...api, '--token', TOKENS.ps, '--track', h.records.traffic[0]!.id);
  t.is(other.code, 2);
  t.regex(other.stderr, /^error INDEX_NOT_FOUND: /);
  const bad = await cli('create', ...api, '--token', TOKENS.ps, '--camera', 'cam-ps-1', '--from', '1700000000000');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^error EVIDENCE_BAD_REQUEST: to: /);
  t.is((await cli('create', ...api, '--track', track)).code, 2, 'no token');

  const key = await cli('key', ...api, '--token', TOKENS.operator);
  t.is(key.code, 0, key.stderr);
  t.is(key.stdout.split('\n')[0], `fingerprint ${h.exports!.key.fingerprint}`);
});
