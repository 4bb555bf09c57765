import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { generateKeyPairSync } from 'node:crypto';
import { CvcoreError } from '../common/errors.js';
import { loadNodeKey, nodeKeyFingerprint, publicKeyFromPem, readNodePublicKey, verifySignature } from '../evidence/index.js';
import { tempDir } from './support/index-records.js';

const run = promisify(execFile);
const EVIDENCE = fileURLToPath(new URL('../evidence/index.js', import.meta.url));

test('evidence - the node key is made once (0600 PKCS#8 and its public half) and the same key is read by a later process', async (t) => {
  const { dir, cleanup } = tempDir('evidence-keys');
  t.teardown(cleanup);
  // Two at once, as two stages opening it at start-up: they agree on one key.
  const [a, b] = await Promise.all([loadNodeKey(dir), loadNodeKey(dir)]);
  t.is(a.fingerprint, b.fingerprint);
  t.is(statSync(a.privatePath).mode & 0o777, 0o600);
  t.regex(await readFile(a.privatePath, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  t.is(await readFile(a.publicPath, 'utf8'), a.publicPem);
  const before = await readFile(a.privatePath);
  // A restart: another process loads the same files.
  const script = `import('${EVIDENCE}').then(async (m) => { const k = await m.loadNodeKey(${JSON.stringify(dir)}); process.stdout.write(k.fingerprint); })`;
  const { stdout } = await run(process.execPath, ['-e', script]);
  t.is(stdout, a.fingerprint);
  t.deepEqual(await readFile(a.privatePath), before, 'the key file is not rewritten');
  // The signature made by one load verifies with the key the other read.
  const msg = Buffer.from('manifest bytes');
  t.true(verifySignature(b.publicKey, msg, a.sign(msg)));
  t.false(verifySignature(b.publicKey, Buffer.from('other bytes'), a.sign(msg)));
  t.false(verifySignature(b.publicKey, msg, Buffer.from('short')));
  t.is(nodeKeyFingerprint(a.publicPem), a.fingerprint);
  t.is(nodeKeyFingerprint(publicKeyFromPem(a.publicPem)), a.fingerprint);
  t.deepEqual(await readNodePublicKey(dir), { publicPem: a.publicPem, fingerprint: a.fingerprint });
});

test('evidence - a malformed or foreign key is EVIDENCE_KEY and is never replaced', async (t) => {
  const { dir, cleanup } = tempDir('evidence-keys-bad');
  t.teardown(cleanup);
  await mkdir(join(dir, 'keys'));
  const priv = join(dir, 'keys', 'node-ed25519.pem');
  await writeFile(priv, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
  const err = await t.throwsAsync(loadNodeKey(dir));
  t.true(err instanceof CvcoreError);
  t.is((err as CvcoreError).code, 'EVIDENCE_KEY');
  t.regex(await readFile(priv, 'utf8'), /not a key/, 'left as it was');

  // An RSA key where the Ed25519 one belongs.
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeFile(priv, rsa);
  t.is((await t.throwsAsync(loadNodeKey(dir)) as CvcoreError).code, 'EVIDENCE_KEY');

  // A public file that is not the private key's half.
  const { dir: d2, cleanup: c2 } = tempDir('evidence-keys-mismatch');
  t.teardown(c2);
  const k = await loadNodeKey(d2);
  const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeFile(k.publicPath, other);
  t.is((await t.throwsAsync(loadNodeKey(d2)) as CvcoreError).code, 'EVIDENCE_KEY');
  t.is(await readFile(k.publicPath, 'utf8'), other);
});

test('evidence - reading the public key never makes one', async (t) => {
  const { dir, cleanup } = tempDir('evidence-keys-read');
  t.teardown(cleanup);
  t.is((await t.throwsAsync(readNodePublicKey(dir)) as CvcoreError).code, 'EVIDENCE_KEY');
  t.false(existsSync(join(dir, 'keys')));
});
