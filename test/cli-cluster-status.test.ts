/**
 * `cvcore cluster status` and `cvcore cluster drain` (cli/commands/cluster-status.ts, called in-process as the
 * dispatcher calls them) against a real API: the table, --json, exit codes, one-line errors.
 */
import test from 'ava';
import { clusterDrain, clusterStatus } from '../cli/commands/cluster-status.js';
import { freePort } from '../common/net.js';
import { TOKENS, type ApiHarness } from './support/api-app.js';
import { STATUS, startClusterHarnesses, type FakeCluster } from './support/cluster-status.js';

let cluster: FakeCluster;
let single: ApiHarness;
let clustered: ApiHarness;
test.before(async () => {
  ({ single, clustered, cluster } = await startClusterHarnesses());
});
test.after.always(async () => { await Promise.all([single?.close(), clustered?.close()]); });

/** Runs one command with stdout and stderr captured (the tests run serially, so the swap is safe). */
async function run(fn: (args: string[]) => Promise<number>, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => { stdout += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { stderr += s; return true; }) as typeof process.stderr.write;
  try {
    return { code: await fn(args), stdout, stderr };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

test.serial('cli - cluster status prints nodes, leases, consumers\' lag, unassigned cameras and shards without a replica', async (t) => {
  const r = await run(clusterStatus, ['--api', clustered.url, '--token', TOKENS.operator]);
  t.is(r.code, 1, 'a shard without a replica and unassigned cameras: exit 1');
  t.is(r.stderr, '');
  t.regex(r.stdout, /3 node\(s\), 2 alive; 4 shard\(s\) x 2 replica\(s\)/);
  t.regex(r.stdout, /^NODE\s+ROLES\s+ALIVE\s+DRAINING\s+CAMERAS\s+LEASES\s+SHARDS\s+API$/m);
  t.regex(r.stdout, /^node-a\s+analytics,index,api\s+yes\s+no\s+2\/8\s+2\s+0,1,2\s+http:\/\/10\.0\.0\.1:8080$/m);
  t.regex(r.stdout, /^node-b\s+analytics,index\s+yes\s+yes\s+1\/4\s+1\s+0,1,2\s+-$/m);
  t.regex(r.stdout, /^node-c\s+index\s+NO\s+no\s+0\/0\s+0 \(\+1 stale\)\s+3\s+-$/m);
  t.regex(r.stdout, /^index-node-c-3\s+node-c\s+CVCORE_RECORDS\s+3\s+4000\s+64$/m);
  t.regex(r.stdout, /^unassigned cameras \(2\): cam-old, cam-new$/m);
  t.regex(r.stdout, /^WARNING shards without a live replica: 3$/m);

  const json = await run(clusterStatus, ['--json', '--api', clustered.url, '--token', TOKENS.admin]);
  t.is(json.code, 0);
  t.deepEqual(JSON.parse(json.stdout), JSON.parse(JSON.stringify(STATUS)));
});

test.serial('cli - cluster status and drain fail in one line with the API\'s code', async (t) => {
  const one = await run(clusterStatus, ['--api', single.url, '--token', TOKENS.operator]);
  t.is(one.code, 2);
  t.regex(one.stderr, /^error API_NOT_FOUND: this core is not in cluster mode.*\n$/);
  const inv = await run(clusterStatus, ['--api', clustered.url, '--token', TOKENS.ps]);
  t.is(inv.code, 2);
  t.regex(inv.stderr, /^error API_FORBIDDEN: /);
  const down = await run(clusterStatus, ['--api', `http://127.0.0.1:${await freePort()}`, '--token', TOKENS.operator]);
  t.is(down.code, 2);
  t.regex(down.stderr, /^error: cannot reach the cvcore API/);
  const bad = await run(clusterStatus, ['--nope']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^error ERR_PARSE_ARGS_UNKNOWN_OPTION: /);
  t.is(bad.stderr.split('\n').filter(Boolean).length, 1);
});

test.serial('cli - cluster drain asks the API to drain the node', async (t) => {
  const ok = await run(clusterDrain, ['node-b', '--api', clustered.url, '--token', TOKENS.operator]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /^draining node-b/);
  t.deepEqual(cluster.drained, ['node-b']);

  const unknown = await run(clusterDrain, ['node-z', '--api', clustered.url, '--token', TOKENS.operator]);
  t.is(unknown.code, 2);
  t.is(unknown.stderr, 'error CLUSTER_UNKNOWN_NODE: no node "node-z" in the cluster\n');
  const missing = await run(clusterDrain, ['--api', clustered.url]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /needs one NODE\nusage: cvcore cluster drain NODE/);
  t.deepEqual(cluster.drained, ['node-b']);
});
