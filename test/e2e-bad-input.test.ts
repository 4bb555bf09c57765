/**
 * Start-up failures a user meets first: each is a typed error with a stable code naming what is wrong,
 * printed by the CLI as `error CODE: message` with exit code 2.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../common/paths.js';

const cli = join(REPO_ROOT, 'bin', 'cvcore.js');
const run = (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> =>
  new Promise((resolve) => {
    // A generous bound: alone a refused start takes 3-10 s, but CI runs it beside the browser and demo tests.
    execFile(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, timeout: 150_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr });
    });
  });

const writeConfig = async (cfg: unknown): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-bad-'));
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify({ dataDir: join(dir, 'data'), api: { port: 0 }, ...(cfg as object) }));
  return file;
};

test('e2e - start with an unknown config key fails with CONFIG_UNKNOWN_KEY and the path', async (t) => {
  const file = await writeConfig({ cameras: [{ id: 'c1', url: 'rtsp://127.0.0.1:1/x', colour: 'red' }] });
  const r = await run(['start', '--config', file]);
  t.is(r.code, 2);
  t.regex(r.stderr, /error CONFIG_UNKNOWN_KEY: cameras\[0\]\.colour/);
});

test('e2e - start with a wrong type fails with CONFIG_INVALID_TYPE and the path', async (t) => {
  const file = await writeConfig({ inference: { workers: 'two' } });
  const r = await run(['start', '--config', file]);
  t.is(r.code, 2);
  t.regex(r.stderr, /error CONFIG_INVALID_TYPE: inference\.workers/);
});

test('e2e - start without ffmpeg fails with SETUP_FFMPEG_MISSING', async (t) => {
  const file = await writeConfig({});
  const r = await run(['start', '--config', file], { FFMPEG_PATH: '/nonexistent/ffmpeg' });
  t.is(r.code, 2);
  t.regex(r.stderr, /error SETUP_FFMPEG_MISSING: .*\/nonexistent\/ffmpeg/);
});

test('e2e - start with a missing model file fails with MODEL_FILE_MISSING naming the file', async (t) => {
  t.timeout(180_000);
  const file = await writeConfig({ nats: { url: 'nats://127.0.0.1:1' } });
  const empty = await mkdtemp(join(tmpdir(), 'cvcore-models-'));
  const r = await run(['start', '--config', file], { CVCORE_MODELS_DIR: empty });
  t.is(r.code, 2, `exit ${String(r.code)} (null: killed at the bound); stderr: ${r.stderr.slice(-1500)}`);
  // The default backend (onnx) reads centernet's translated backbone first.
  t.regex(r.stderr, /error MODEL_FILE_MISSING: model file .*centernet-backbone\.onnx is missing; run npm run setup/);
});

test('e2e - start with an unknown model fails with CONFIG_INVALID_VALUE naming inference.model', async (t) => {
  t.timeout(180_000);
  const file = await writeConfig({ nats: { url: 'nats://127.0.0.1:1' }, inference: { model: 'yolo-nonexistent' } });
  const r = await run(['start', '--config', file]);
  t.is(r.code, 2);
  // The config is checked against the model manifest before anything starts.
  t.regex(r.stderr, /error CONFIG_INVALID_VALUE: inference\.model: "yolo-nonexistent" is not a detector/);
});
