import test from 'ava';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataKeyError } from '../common/errors.js';
import { checkVerifier, initDataKeyFile, loadDataKeyring, openDataKeyring, retireDataKey, rotateDataKeyFile } from '../common/data-key.js';

const code = (err: unknown): string | undefined => (err instanceof DataKeyError ? err.code : undefined);

test('a sealed value opens after a rotation, is bound to its aad, and a wrong key is refused by the verifier', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-dk-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'k.json');
  const made = await initDataKeyFile(file);
  t.is((await stat(file)).mode & 0o777, 0o600);
  t.is(code(await initDataKeyFile(file).catch((e) => e)), 'DATA_KEY_EXISTS');
  const ring = await loadDataKeyring(file);
  t.is(ring.currentId, made.id);
  const plain = Buffer.from('a face thumbnail');
  const sealed = ring.seal(plain, 'r\0id-1');
  t.false(sealed.includes(plain));
  t.deepEqual(ring.open(sealed, 'r\0id-1'), plain);
  t.is(code(t.throws(() => ring.open(sealed, 'r\0id-2'))), 'DATA_KEY_WRONG');
  const verifier = checkVerifier(ring, null, 'index')!;
  t.is(checkVerifier(ring, verifier, 'index'), null);

  const rotated = await rotateDataKeyFile(file);
  await ring.reload();
  t.is(ring.currentId, rotated.id);
  t.true(ring.needsReseal(sealed));
  t.deepEqual(ring.open(sealed, 'r\0id-1'), plain);
  t.truthy(checkVerifier(ring, verifier, 'index'), 'a verifier under the old key is re-sealed');
  t.is(code(await retireDataKey(file, rotated.id).catch((e) => e)), 'DATA_KEY_IN_USE');
  await retireDataKey(file, made.id);
  await ring.reload();
  t.is(code(t.throws(() => ring.open(sealed, 'r\0id-1'))), 'DATA_KEY_UNKNOWN_ID');

  // Another key file that reuses the id: the verifier refuses it before anything is read.
  const other = join(dir, 'other.json');
  const j = JSON.parse(await readFile(file, 'utf8'));
  j.keys[0].key = Buffer.alloc(32, 7).toString('base64');
  await writeFile(other, JSON.stringify(j));
  const wrong = await loadDataKeyring(other);
  const v2 = checkVerifier(ring, null, 'index')!;
  t.is(code(t.throws(() => checkVerifier(wrong, v2, 'index'))), 'DATA_KEY_WRONG');
});

test('bad key files are typed errors naming the problem', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-dk-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.is(code(await loadDataKeyring(join(dir, 'none.json')).catch((e) => e)), 'DATA_KEY_MISSING');
  const cases: [string, RegExp][] = [
    ['not json', /not JSON/],
    [JSON.stringify({ v: 1, current: 'a', keys: [{ id: 'a', key: Buffer.alloc(16).toString('base64'), created: 'x' }] }), /16 bytes/],
    [JSON.stringify({ v: 1, current: 'b', keys: [{ id: 'a', key: Buffer.alloc(32).toString('base64'), created: 'x' }] }), /current/],
    [JSON.stringify({ v: 2, current: 'a', keys: [] }), /version 2/],
    ['', /not JSON/],
  ];
  for (const [text, why] of cases) {
    const f = join(dir, 'bad.json');
    await writeFile(f, text);
    const err = await loadDataKeyring(f).catch((e) => e);
    t.is(code(err), 'DATA_KEY_BAD_FILE', text);
    t.regex((err as Error).message, why);
  }
  // The default location is made on first use; a named one never is.
  const opened = await openDataKeyring(dir, undefined, {});
  t.true(opened.created);
  t.is(opened.source, 'default');
  t.false((await openDataKeyring(dir, undefined, {})).created);
  t.is(code(await openDataKeyring(dir, join(dir, 'missing.json'), {}).catch((e) => e)), 'DATA_KEY_MISSING');
});
