import test from 'ava';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CvcoreError } from '../common/errors.js';
import { buildExport, loadNodeKey, manifestBytes, verifyExport, type BuiltExport, type ExportManifest, type NodeKey } from '../evidence/index.js';
import { tempDir } from './support/index-records.js';
import { flipStoredByte, makeMp4, readZip, rewriteZip } from './support/zips.js';

const CLIP = 'clips/cam-1-1700000000000-1700000003000.mp4';
let tmp: ReturnType<typeof tempDir>;
let key: NodeKey;
let mp4: string;
let built: BuiltExport;

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test.before(async () => {
  tmp = tempDir('evidence-export');
  key = await loadNodeKey(join(tmp.dir, 'data'));
  mp4 = join(tmp.dir, 'clip.mp4');
  await makeMp4(mp4, 3);
  built = await buildExport({
    dir: tmp.dir, id: 'exp-test-00000001', node: 'node-a', createdBy: 'inv-ps', createdAt: 1_700_000_100_000,
    request: { trackIds: ['cam-1:7:1700000001000'] },
    files: [
      { name: 'records/cam-1%3A7%3A1700000001000.json', data: Buffer.from('{"id":"cam-1:7:1700000001000"}\n') },
      { name: CLIP, path: mp4 },
    ],
    key,
  });
});
test.after.always(() => tmp?.cleanup());

test('evidence - an export holds the files, the key, a manifest of their digests and its signature, and verifies', async (t) => {
  const entries = await readZip(built.path);
  t.deepEqual([...entries.keys()], ['records/cam-1%3A7%3A1700000001000.json', CLIP, 'node-key.pem', 'manifest.json', 'manifest.sig']);
  const clip = await readFile(mp4);
  t.deepEqual(entries.get(CLIP), clip, 'the clip is the file, byte for byte');
  const manifest = JSON.parse(entries.get('manifest.json')!.toString('utf8')) as ExportManifest;
  t.deepEqual(manifest, built.manifest);
  t.is(manifest.keyFingerprint, key.fingerprint);
  t.deepEqual(manifest.files.find((f) => f.name === CLIP), { name: CLIP, sha256: sha(clip), bytes: clip.length });
  t.is(manifest.files.find((f) => f.name === 'node-key.pem')!.sha256, sha(Buffer.from(key.publicPem)));
  t.deepEqual(entries.get('manifest.json'), manifestBytes(manifest), 'the signed bytes are the stored bytes');
  t.is(built.sha256, sha(await readFile(built.path)));
  t.is(built.bytes, (await readFile(built.path)).length);
  t.deepEqual(readdirSync(tmp.dir).filter((n) => n.endsWith('.tmp')), [], 'no temporary file is left');

  const r = await verifyExport(built.path);
  t.deepEqual(r, { ok: true, id: 'exp-test-00000001', keyFingerprint: key.fingerprint, changed: [], missing: [], extra: [], signatureValid: true, keyTrusted: null });
  t.true((await verifyExport(built.path, { trustedKeyPem: key.publicPem })).ok);
  t.true((await verifyExport(built.path, { trustedFingerprint: key.fingerprint.toUpperCase().replace(/(..)(?!$)/g, '$1:') })).ok);
});

test('evidence - one byte changed in a clip fails verification and names the clip', async (t) => {
  const copy = join(tmp.dir, 'flipped.zip');
  await writeFile(copy, await readFile(built.path));
  await flipStoredByte(copy, CLIP, 1000);
  const r = await verifyExport(copy);
  t.false(r.ok);
  t.deepEqual(r.changed, [CLIP]);
  t.deepEqual(r.missing, []);
  t.true(r.signatureValid, 'the manifest itself is intact');
});

test('evidence - a removed file is missing, an added one extra', async (t) => {
  const removed = join(tmp.dir, 'removed.zip');
  await rewriteZip(built.path, removed, (name, data) => (name === CLIP ? null : data));
  const a = await verifyExport(removed);
  t.false(a.ok);
  t.deepEqual(a.missing, [CLIP]);
  t.deepEqual(a.changed, []);

  const added = join(tmp.dir, 'added.zip');
  await rewriteZip(built.path, added, (_n, data) => data, { 'records/planted.json': Buffer.from('{}') });
  const b = await verifyExport(added);
  t.false(b.ok);
  t.deepEqual(b.extra, ['records/planted.json']);
  t.true(b.signatureValid);
  // Rewritten with the same bytes, the zip still verifies: the check is on content, not on the zip's layout.
  const same = join(tmp.dir, 'same.zip');
  await rewriteZip(built.path, same, (_n, data) => data);
  t.true((await verifyExport(same)).ok);
});

test('evidence - a manifest changed to match a changed file fails the signature', async (t) => {
  const forged = join(tmp.dir, 'forged.zip');
  const fake = Buffer.from('{"id":"someone else"}\n');
  await rewriteZip(built.path, forged, (name, data) => {
    if (name === 'records/cam-1%3A7%3A1700000001000.json') return fake;
    if (name !== 'manifest.json') return data;
    const m = JSON.parse(data.toString('utf8')) as { files: { name: string; sha256: string; bytes: number }[] };
    const f = m.files.find((x) => x.name === 'records/cam-1%3A7%3A1700000001000.json')!;
    f.sha256 = sha(fake);
    f.bytes = fake.length;
    return Buffer.from(JSON.stringify(m, null, 2) + '\n');
  });
  const r = await verifyExport(forged);
  t.false(r.ok);
  t.false(r.signatureValid);
  t.deepEqual(r.changed, [], 'every digest matches the forged manifest: only the signature catches it');
});

test('evidence - an export re-signed with another key verifies alone but is refused against the node\'s key', async (t) => {
  const other = generateKeyPairSync('ed25519');
  const otherPem = other.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const otherFp = sha(other.publicKey.export({ type: 'spki', format: 'der' }));
  const resigned = join(tmp.dir, 'resigned.zip');
  const entries = await readZip(built.path);
  const m = JSON.parse(entries.get('manifest.json')!.toString('utf8')) as Omit<ExportManifest, 'files'> & { files: { name: string; sha256: string; bytes: number }[] };
  const keyFile = m.files.find((f) => f.name === 'node-key.pem')!;
  keyFile.sha256 = sha(Buffer.from(otherPem));
  keyFile.bytes = Buffer.byteLength(otherPem);
  const mb = manifestBytes({ ...m, keyFingerprint: otherFp });
  const { sign } = await import('node:crypto');
  const sig = Buffer.from(sign(null, mb, other.privateKey).toString('base64') + '\n');
  await rewriteZip(built.path, resigned, (name, data) => (name === 'node-key.pem' ? Buffer.from(otherPem) : name === 'manifest.json' ? mb : name === 'manifest.sig' ? sig : data));
  const alone = await verifyExport(resigned);
  t.true(alone.ok, 'self-consistent: the zip alone cannot tell');
  t.is(alone.keyFingerprint, otherFp);
  const trusted = await verifyExport(resigned, { trustedKeyPem: key.publicPem });
  t.false(trusted.ok);
  t.false(trusted.keyTrusted);
  t.false((await verifyExport(resigned, { trustedFingerprint: key.fingerprint })).ok);
  // The genuine export against a key that is not the node's: refused too.
  const wrong = await verifyExport(built.path, { trustedKeyPem: otherPem });
  t.false(wrong.ok);
  t.false(wrong.keyTrusted);
});

test('evidence - not a zip, a zip without a manifest, and no file at all are EVIDENCE_BAD_FILE', async (t) => {
  const notZip = join(tmp.dir, 'not.zip');
  await writeFile(notZip, 'this is not a zip file at all, just text that is long enough to be looked at');
  const noManifest = join(tmp.dir, 'nomanifest.zip');
  await rewriteZip(built.path, noManifest, (name, data) => (name === 'manifest.json' ? null : data));
  const badManifest = join(tmp.dir, 'badmanifest.zip');
  await rewriteZip(built.path, badManifest, (name, data) => (name === 'manifest.json' ? Buffer.from('{not json') : data));
  for (const f of [notZip, noManifest, badManifest, join(tmp.dir, 'absent.zip')]) {
    const err = await t.throwsAsync(verifyExport(f));
    t.true(err instanceof CvcoreError, f);
    t.is((err as CvcoreError).code, 'EVIDENCE_BAD_FILE', f);
  }
  const badFp = await t.throwsAsync(verifyExport(built.path, { trustedFingerprint: 'abc' }));
  t.is((badFp as CvcoreError).code, 'EVIDENCE_KEY');
});

test('evidence - a file that cannot be read fails the export and leaves nothing behind; bad names are refused', async (t) => {
  const dir = join(tmp.dir, 'fail');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  const err = await t.throwsAsync(buildExport({
    dir, id: 'exp-fail-00000001', node: 'n', createdBy: 'x', createdAt: Date.now(), request: {}, key,
    files: [{ name: 'a.json', data: Buffer.from('{}') }, { name: 'clips/gone.mp4', path: join(tmp.dir, 'no-such.mp4') }],
  }));
  t.is((err as CvcoreError).code, 'EVIDENCE_BAD_REQUEST');
  t.deepEqual(readdirSync(dir), []);
  for (const name of ['../x', '/abs', 'a//b', 'manifest.json', 'node-key.pem', 'a\\b', '']) {
    const e = await t.throwsAsync(buildExport({ dir, id: 'exp-fail-00000002', node: 'n', createdBy: 'x', createdAt: 0, request: {}, key, files: [{ name, data: Buffer.from('x') }] }));
    t.is((e as CvcoreError).code, 'EVIDENCE_BAD_REQUEST', name);
  }
  t.false(existsSync(join(dir, 'exp-fail-00000002.zip')));
});

test('evidence - a file whose digest is not the one its maker gave fails the export instead of being signed', async (t) => {
  const dir = join(tmp.dir, 'expect');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  const clip = await readFile(mp4);
  const base = { dir, node: 'n', createdBy: 'x', createdAt: Date.now(), request: {}, key, files: [{ name: CLIP, path: mp4 }] };
  const good = await buildExport({ ...base, id: 'exp-expect-00000001', expect: new Map([[CLIP, sha(clip)]]) });
  t.true((await verifyExport(good.path)).ok);
  const err = await t.throwsAsync(buildExport({ ...base, id: 'exp-expect-00000002', expect: new Map([[CLIP, sha(Buffer.from('another cut'))]]) }));
  t.is((err as CvcoreError).code, 'EVIDENCE_IO');
  t.regex((err as CvcoreError).message, new RegExp(`"${CLIP}" changed while it was exported`));
  t.deepEqual(readdirSync(dir), ['exp-expect-00000001.zip']);
});
