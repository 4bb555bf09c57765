/**
 * `cvcore tokens` as a user runs it (the real binary): on a stopped core's data folder, where the secret is
 * printed once and the token then works on the core started on that folder; against a running core through its
 * API; and refused on a folder a running core holds, with the way round it.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openTokenStore } from '../api/index.js';
import { startHarness, TOKENS } from './support/api-app.js';
import { tempDir } from './support/index-records.js';

const BIN = fileURLToPath(new URL('../../bin/cvcore.js', import.meta.url));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'tokens', ...args], { env: { ...process.env, CVCORE_TOKEN: '' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const secretOf = (stdout: string): string => /secret \(shown once[^:]*\): (\S+)/.exec(stdout)?.[1] ?? '';

test('tokens cli - on a stopped core\'s data folder: create prints the secret once, list shows no secret, revoke; the token works on the core started there', async (t) => {
  const { dir, cleanup } = tempDir('cli-tokens');
  t.teardown(cleanup);
  let r = await cli('create', '--data-dir', dir, '--person', 'Ana Li', '--role', 'investigator', '--department', 'traffic', '--no-faces', '--expires', '30d');
  t.is(r.code, 0, r.stderr);
  const secret = secretOf(r.stdout);
  t.regex(secret, /^cvc_/);
  const id = /issued (tok-[0-9a-f]+)/.exec(r.stdout)?.[1] ?? '';
  t.regex(r.stdout, /without the face grant/);
  const other = await cli('create', '--data-dir', dir, '--person', 'Bo Chen', '--role', 'operator', '--department', 'traffic', '--department', 'public-security');
  t.is(other.code, 0, other.stderr);

  r = await cli('list', '--data-dir', dir, '--json');
  t.is(r.code, 0, r.stderr);
  const listed = JSON.parse(r.stdout) as Array<{ id: string; person: string; faces: boolean; state: string; departments: string[] }>;
  t.is(listed.length, 2);
  t.like(listed.find((x) => x.id === id), { person: 'Ana Li', faces: false, state: 'active', departments: ['traffic'] });
  t.false(r.stdout.includes(secret));
  t.false(r.stdout.includes(secretOf(other.stdout)));

  // The core started on that folder takes the token: a traffic desk without the face grant.
  const store = await openTokenStore({ dir: join(dir, 'tokens') });
  const h = await startHarness({ perDepartment: 1, tokenStore: store });
  try {
    t.is((await h.get('/api/v1/search?class=car', secret)).status, 200);
    const live = await h.get('/api/v1/cameras/cam-tr-1/live', secret);
    t.is(live.status, 403);
    t.is(((await live.json()) as { code: string }).code, 'API_FACE_GRANT_REQUIRED');
    // While it runs, the folder is its: the CLI says to go through the API.
    r = await cli('list', '--data-dir', dir);
    t.is(r.code, 2);
    t.regex(r.stderr, /^error TOKEN_IO: .*held by a running core; use --api/m);
  } finally {
    await h.close();
    await store.close();
  }

  r = await cli('revoke', id, '--data-dir', dir);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`revoked ${id}`));
  r = await cli('list', '--data-dir', dir);
  t.regex(r.stdout, new RegExp(`${id}\\s+revoked`));
  r = await cli('revoke', 'tok-nope', '--data-dir', dir);
  t.is(r.code, 2);
  t.regex(r.stderr, /^error TOKEN_NOT_FOUND: /m);
  r = await cli('create', '--data-dir', dir, '--person', 'X', '--role', 'root', '--department', 'traffic');
  t.is(r.code, 2);
  t.regex(r.stderr, /^error TOKEN_BAD_REQUEST: role/m);
});

test('tokens cli - through a running core\'s API: an admin creates, lists and revokes; the revoked secret stops at once; an operator is refused', async (t) => {
  const { dir, cleanup } = tempDir('cli-tokens-api');
  t.teardown(cleanup);
  const store = await openTokenStore({ dir });
  const h = await startHarness({ perDepartment: 1, tokenStore: store });
  t.teardown(async () => { await h.close(); await store.close(); });
  const api = ['--api', h.url];
  let r = await cli('create', ...api, '--token', TOKENS.admin, '--person', 'Chen Wei', '--role', 'operator', '--department', 'traffic', '--expires', '12h');
  t.is(r.code, 0, r.stderr);
  const secret = secretOf(r.stdout);
  const id = /issued (tok-[0-9a-f]+)/.exec(r.stdout)?.[1] ?? '';
  t.is((await h.get('/api/v1/cameras', secret)).status, 200);
  r = await cli('list', ...api, '--token', TOKENS.admin);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`${id}\\s+active\\s+operator\\s+traffic`));
  t.regex(r.stdout, /"Chen Wei"/);
  t.false(r.stdout.includes(secret));

  r = await cli('create', ...api, '--token', TOKENS.operator, '--person', 'Mallory', '--role', 'admin', '--department', '*');
  t.is(r.code, 2);
  t.regex(r.stderr, /^error API_FORBIDDEN: /m);
  r = await cli('list', ...api);
  t.is(r.code, 2);
  t.regex(r.stderr, /a token is needed/);

  r = await cli('revoke', id, ...api, '--token', TOKENS.admin);
  t.is(r.code, 0, r.stderr);
  const res = await h.get('/api/v1/cameras', secret);
  t.is(res.status, 401);
  t.is(((await res.json()) as { code: string }).code, 'API_TOKEN_REVOKED');
});
