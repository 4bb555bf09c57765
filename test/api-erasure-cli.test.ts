/**
 * `cvcore erase` against a running API (the shared harness: real index, the pixel face embedder), and the one
 * refusal left in cluster mode: audit redaction (the trail is a replicated stream there), a typed 501, nothing
 * erased. The cluster erasure itself is tested on a real cluster (cluster-records, cluster-failover).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noisePng, startHarness, TOKENS, type ApiHarness } from './support/api-app.js';
import { FakeCluster } from './support/cluster-status.js';
import { tempDir } from './support/index-records.js';

const BIN = fileURLToPath(new URL('../../bin/cvcore.js', import.meta.url));

let h: ApiHarness;
const files = tempDir('erase-cli');
test.before(async () => { h = await startHarness({ perDepartment: 2 }); });
test.after.always(async () => { await h?.close(); files.cleanup(); });

function cli(token: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'erase', ...args, '--api', h.url], { env: { ...process.env, CVCORE_TOKEN: token, CVCORE_API: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test.serial('cli - erase: dry run, then by ids within the admin\'s department, then by a face photo', async (t) => {
  t.timeout(60_000);
  const ps = h.records['public-security'][1]!.id;
  const tr = h.records.traffic[1]!.id;
  const dry = await cli(TOKENS.adminPs, '--track', ps, '--track', tr, '--reason', 'subject request', '--case', 'DSR-9', '--dry-run');
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /^dry run \(nothing changed\): would erase er-/);
  t.regex(dry.stdout, new RegExp(`track   ${ps}`));
  t.regex(dry.stdout, new RegExp(`not found \\(missing or outside your departments\\)  ${tr}`));
  t.regex(dry.stdout, /watch-lists: this core has none/);
  t.truthy(await h.index.get(ps, 'all'));

  const done = await cli(TOKENS.adminPs, '--track', ps, '--track', tr, '--reason', 'subject request', '--case', 'DSR-9', '--json');
  t.is(done.code, 0, done.stderr);
  const r = JSON.parse(done.stdout) as { dryRun: boolean; tracks: string[]; notFound: string[]; counts: Record<string, number> };
  t.false(r.dryRun);
  t.deepEqual(r.tracks, [ps]);
  t.deepEqual(r.notFound, [tr]);
  t.is(await h.index.get(ps, 'all'), null);
  t.truthy(await h.index.get(tr, 'all'));

  const photo = join(files.dir, 'face.png');
  await writeFile(photo, await noisePng(h.faceSeeds.traffic));
  const byFace = await cli(TOKENS.admin, '--face', photo, '--threshold', '0.99', '--reason', 'subject request', '--case', 'DSR-10', '--json');
  t.is(byFace.code, 0, byFace.stderr);
  t.deepEqual((JSON.parse(byFace.stdout) as { tracks: string[] }).tracks, [h.records.traffic[0]!.id]);
  t.is(await h.index.get(h.records.traffic[0]!.id, 'all'), null);
});

test.serial('cli - erase: missing arguments exit 2 naming them; a non-admin gets the API\'s code', async (t) => {
  const noReason = await cli(TOKENS.admin, '--track', 'x', '--case', 'c');
  t.is(noReason.code, 2);
  t.regex(noReason.stderr, /--reason is required/);
  const both = await cli(TOKENS.admin, '--track', 'x', '--face', 'f.png', '--reason', 'r', '--case', 'c');
  t.is(both.code, 2);
  const forbidden = await cli(TOKENS.ps, '--track', 'x', '--reason', 'r', '--case', 'c');
  t.is(forbidden.code, 2);
  t.regex(forbidden.stderr, /API_FORBIDDEN/);
});

test('api - audit redaction is refused in cluster mode with a typed error and nothing is erased', async (t) => {
  const c = await startHarness({ perDepartment: 1, cluster: new FakeCluster() });
  t.teardown(() => c.close());
  const id = c.records['public-security'][0]!.id;
  const res = await fetch(`${c.url}/api/v1/erasures`, { method: 'POST', body: JSON.stringify({ trackIds: [id], reason: 'r', caseRef: 'c', redactAudit: true }), headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' } });
  t.is(res.status, 501);
  const body = await res.json() as { code: string; message: string };
  t.is(body.code, 'API_ERASURE_CLUSTER');
  t.regex(body.message, /CVCORE_AUDIT/);
  t.truthy(await c.index.get(id, 'all'));
});
