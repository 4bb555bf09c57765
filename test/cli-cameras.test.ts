/** `cvcore cameras` as a user runs it (the real binary) against a real API: list, add, health, remove, errors. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../common/net.js';
import { REPO_ROOT } from '../common/paths.js';
import { CameraPool } from '../ingest/index.js';
import { TEST_OPERATOR_TOKEN, startCameraApi, testSettings } from './support/ingest.js';

const cvcore = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
  execFile(process.execPath, [join(REPO_ROOT, 'bin', 'cvcore.js'), 'cameras', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
    resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
  });
});

test('cli - cameras list, add, health and remove through the API', async (t) => {
  t.timeout(60_000);
  const pool = new CameraPool(testSettings());
  const api = await startCameraApi(pool);
  try {
    const port = await freePort();
    const add = await cvcore(['add', '--id', 'door', '--url', `rtsp://op:hunter2@127.0.0.1:${port}/door`, '--fps', '2', '--disabled', '--api', api.url, '--token', TEST_OPERATOR_TOKEN]);
    t.is(add.code, 0, add.stderr);
    t.regex(add.stdout, /added door \(rtsp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1/);
    t.false(add.stdout.includes('hunter2'));

    const list = await cvcore(['list', '--api', api.url, '--token', TEST_OPERATOR_TOKEN]);
    t.is(list.code, 0, list.stderr);
    t.regex(list.stdout, /^ID\s+STATE/m);
    t.regex(list.stdout, /^door\s+disabled\s+2\s+640x480/m);

    const health = await cvcore(['health', 'door', '--json', '--api', api.url, '--token', TEST_OPERATOR_TOKEN]);
    t.is(health.code, 0, health.stderr);
    t.is((JSON.parse(health.stdout) as { id: string; state: string }[])[0]?.state, 'stopped');

    const dup = await cvcore(['add', '--id', 'door', '--url', 'rtsp://127.0.0.1/x', '--api', api.url, '--token', TEST_OPERATOR_TOKEN]);
    t.is(dup.code, 2);
    t.regex(dup.stderr, /error INGEST_DUPLICATE_CAMERA/);
    const bad = await cvcore(['add', '--id', 'x', '--url', 'rtsp://127.0.0.1/x', '--fps', '900', '--api', api.url, '--token', TEST_OPERATOR_TOKEN]);
    t.regex(bad.stderr, /error CONFIG_OUT_OF_RANGE: body\.fps/);

    t.is((await cvcore(['remove', 'door', '--api', api.url, '--token', TEST_OPERATOR_TOKEN])).code, 0);
    t.false(pool.has('door'));
    const gone = await cvcore(['remove', 'door', '--api', api.url, '--token', TEST_OPERATOR_TOKEN]);
    t.regex(gone.stderr, /error API_NOT_FOUND: no camera "door"/);
    const down = await cvcore(['list', '--api', `http://127.0.0.1:${port}`, '--token', TEST_OPERATOR_TOKEN]);
    t.not(down.code, 0);
    t.regex(down.stderr, /cannot reach the cvcore API/);
  } finally {
    pool.stop();
    await api.close();
  }
});
