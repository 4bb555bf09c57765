import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DataKeyError } from '../common/errors.js';
import { rotateDataKeyFile } from '../common/data-key.js';
import { isSealedFile, openSealedFile, resealFileHeader, SEALED_FILE_MAGIC, sealFile, unsealFile } from '../common/sealed-file.js';
import { freshTestDataKey } from './support/data-key.js';

const code = (err: unknown): string | undefined => (err instanceof DataKeyError ? err.code : undefined);
const collect = async (r: Readable): Promise<Buffer> => { const a: Buffer[] = []; for await (const c of r) a.push(c as Buffer); return Buffer.concat(a); };

test('sealed file - round trip at every size around the chunk, any range, nothing in clear on disk', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-sf-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ring = await freshTestDataKey();
  const chunk = 64;
  for (const n of [0, 1, 63, 64, 65, 128, 129, 1000]) {
    const plain = randomBytes(n);
    const src = join(dir, `p${n}`);
    const dst = join(dir, `s${n}`);
    await writeFile(src, plain);
    const r = await sealFile(ring, src, dst, `w${n}`, chunk);
    t.is(r.plainBytes, n);
    t.true(await isSealedFile(dst));
    t.false(await isSealedFile(src));
    const f = await openSealedFile(ring, dst, `w${n}`);
    t.is(f.size, n, `size of ${n}`);
    t.deepEqual(await collect(f.read()), plain, `whole ${n}`);
    for (let a = 0; a < n; a += 17) for (const b of [a, a + 63, a + 64, n - 1]) {
      const e = Math.min(b, n - 1);
      t.deepEqual(await collect(f.read({ start: a, end: e })), plain.subarray(a, e + 1), `${n}: ${a}-${e}`);
    }
    if (n >= 16) t.false((await readFile(dst)).includes(plain.subarray(0, 16)));
  }
});

test('sealed file - bound to its place and key; cut, altered or another key refuses with a typed error; a rotation re-seals the header only', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-sf-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ring = await freshTestDataKey();
  const plain = randomBytes(300);
  const file = join(dir, 's');
  await sealFile(ring, Readable.from([plain]), file, 'rec:c1/a.ts', 100);
  t.is(code(await t.throwsAsync(openSealedFile(ring, file, 'rec:c1/b.ts'))), 'DATA_KEY_WRONG', 'another place');
  t.is(code(await t.throwsAsync(openSealedFile(await freshTestDataKey(), file, 'rec:c1/a.ts'))), 'DATA_KEY_UNKNOWN_ID', 'another key file');
  const plainFile = join(dir, 'p');
  await writeFile(plainFile, plain);
  t.is(code(await t.throwsAsync(openSealedFile(ring, plainFile, 'x'))), 'DATA_KEY_NOT_SEALED');

  // One bit flipped in the second chunk: that chunk refuses.
  const bytes = await readFile(file);
  const flipped = Buffer.from(bytes);
  flipped[bytes.length - 150]! ^= 1;
  await writeFile(join(dir, 'f'), flipped);
  const f = await openSealedFile(ring, join(dir, 'f'), 'rec:c1/a.ts');
  t.is(code(await t.throwsAsync(collect(f.read()))), 'DATA_KEY_WRONG');
  // Cut at a chunk boundary (the last chunk dropped): the new last chunk was not sealed as the last one.
  await writeFile(join(dir, 'c'), bytes.subarray(0, bytes.length - 116));
  const c = await openSealedFile(ring, join(dir, 'c'), 'rec:c1/a.ts');
  t.is(code(await t.throwsAsync(collect(c.read()))), 'DATA_KEY_WRONG');
  // Cut inside the last chunk: it does not open.
  await writeFile(join(dir, 't'), bytes);
  await truncate(join(dir, 't'), bytes.length - 5);
  const cut = await openSealedFile(ring, join(dir, 't'), 'rec:c1/a.ts');
  t.is(code(await t.throwsAsync(collect(cut.read({ start: 250, end: 260 })))), 'DATA_KEY_WRONG');

  // Rotation: the header moves to the new key; the chunks are the same bytes; it still opens.
  const before = await readFile(file);
  await rotateDataKeyFile(ring.path);
  await ring.reload();
  t.true(await resealFileHeader(ring, file, 'rec:c1/a.ts'));
  const after = await readFile(file);
  t.deepEqual(after.subarray(after.length - 316), before.subarray(before.length - 316), 'the chunks are not rewritten');
  const g = await openSealedFile(ring, file, 'rec:c1/a.ts');
  t.is(g.keyId, ring.currentId);
  t.deepEqual(await collect(g.read()), plain);
  t.false(await resealFileHeader(ring, file, 'rec:c1/a.ts'));
  t.true(after.subarray(0, 4).equals(SEALED_FILE_MAGIC));

  const out = join(dir, 'u');
  t.is(await unsealFile(ring, file, out, 'rec:c1/a.ts'), 300);
  t.deepEqual(await readFile(out), plain);
});
