import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPairSync } from 'node:crypto';
import { buildExport, loadNodeKey, type NodeKey } from '../evidence/index.js';
import { tempDir } from './support/index-records.js';
import { flipStoredByte, makeMp4 } from './support/zips.js';

const BIN = fileURLToPath(new URL('../../bin/cvcore.js', import.meta.url));
const CLIP = 'clips/cam-1-1-2.mp4';

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'export', ...args], (err, stdout, stderr) => {
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
