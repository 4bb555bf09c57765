/**
 * bench/gpu-check.sh's pieces that need no GPU time (issue 21): batch sizing from an adapter's limits, telling a
 * software adapter apart, and the script's first step on lavapipe's machine: a Vulkan driver Dawn cannot load is
 * said plainly (exit 1, summary.json ok false, driver.json naming the ICD files), and full mode refuses a software
 * adapter. The quick mode end to end takes 3-6 minutes on lavapipe (README), so it is run by hand, not here.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../common/paths.js';
import { isSoftwareAdapter, maxBatchForLimits, requiredLimits } from '../inference/webgpu-backend.js';
import { lavapipeEnv } from './support/lavapipe.js';
import { packBytes } from '../inference/webgpu-runner.js';

test('gpu-check - batches are sized to the adapter limits', (t) => {
  // lavapipe's 128 MiB binding: 42 frames of 512x512x3 float32; a typical NVIDIA binding (2 GiB - 4): 64, the cap.
  t.is(maxBatchForLimits({ maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 2 ** 32 - 1 }), 42);
  t.is(maxBatchForLimits({ maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 32 - 1 }), 64);
  t.is(maxBatchForLimits({ maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 2 ** 32 - 1 }, 256), 64);
  t.is(maxBatchForLimits({ maxStorageBufferBindingSize: 2 ** 20, maxBufferSize: 2 ** 32 - 1 }), 0);
  t.is(maxBatchForLimits({}), 0, 'an adapter that reports no limits fits nothing');
  const need = requiredLimits(42)['maxStorageBufferBindingSize']!;
  t.true(need <= 128 * 2 ** 20 && requiredLimits(43)['maxStorageBufferBindingSize']! > 128 * 2 ** 20);
});

test('gpu-check - software adapters are recognised', (t) => {
  t.true(isSoftwareAdapter({ description: 'llvmpipe: Mesa 25.0.7', device: 'llvmpipe-llvm-15' }, false));
  t.true(isSoftwareAdapter({ description: 'SwiftShader Device (Subzero)' }, false));
  t.true(isSoftwareAdapter({ description: 'anything' }, true), 'Dawn\'s fallback flag');
  t.false(isSoftwareAdapter({ description: 'NVIDIA H100 80GB HBM3', architecture: 'hopper' }, false));
});

test('gpu-check - rejects unknown arguments', (t) => {
  const r = spawnSync('bash', [join(REPO_ROOT, 'bench/gpu-check.sh'), '--bogus'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
  t.is(r.status, 2);
  t.regex(r.stderr, /unknown argument --bogus/);
});

function check(env: NodeJS.ProcessEnv, args: string[]): { status: number | null; out: string; stderr: string } {
  const out = mkdtempSync(join(tmpdir(), 'cvcore-gpu-check-'));
  const r = spawnSync('bash', [join(REPO_ROOT, 'bench/gpu-check.sh'), ...args, '--out', out], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, out, stderr: r.stderr };
}

test('gpu-check - says plainly when no Vulkan driver loads, and stops', (t) => {
  const lvp = lavapipeEnv();
  if ('missing' in lvp) { t.fail(lvp.missing); return; }
  // The quick mode would take the lavapipe it finds; a driver file that does not exist is what a host without the ICD looks like.
  const r = check({ ...lvp.env, VK_DRIVER_FILES: '/nonexistent/nvidia_icd.json' }, ['--quick']);
  t.teardown(() => rmSync(r.out, { recursive: true, force: true }));
  t.is(r.status, 1, r.stderr);
  const summary = JSON.parse(readFileSync(join(r.out, 'summary.json'), 'utf8')) as { ok: boolean; steps: { step: string; rc: number }[] };
  t.false(summary.ok);
  t.deepEqual(summary.steps.map((s) => s.step), ['driver'], 'nothing is measured without a driver');
  const driver = JSON.parse(readFileSync(join(r.out, 'driver.json'), 'utf8')) as { ok: boolean; error: { code: string }; icd: { files: string[] }; verdict: string };
  t.false(driver.ok);
  t.is(driver.error.code, 'INFERENCE_WEBGPU_NO_ADAPTER');
  t.deepEqual(driver.icd.files, ['/nonexistent/nvidia_icd.json']);
  t.regex(r.stderr, /gpu-check: Dawn cannot use any adapter here: INFERENCE_WEBGPU_NO_ADAPTER/);
});

test('gpu-check - full mode refuses a software adapter', (t) => {
  const lvp = lavapipeEnv();
  if ('missing' in lvp) { t.fail(lvp.missing); return; }
  const r = check(lvp.env, []);
  t.teardown(() => rmSync(r.out, { recursive: true, force: true }));
  t.is(r.status, 1, r.stderr);
  const driver = JSON.parse(readFileSync(join(r.out, 'driver.json'), 'utf8')) as { error: { code: string; message: string } };
  t.is(driver.error.code, 'INFERENCE_WEBGPU_NO_ADAPTER');
  t.regex(driver.error.message, /software adapter/);
});

test('gpu-upload - frames are packed four bytes to a word for the upload, in order, the tail padded; the bench compares it with widening', (t) => {
  const words = packBytes([Uint8Array.from([1, 2, 3]), Uint8Array.from([4, 255])]);
  t.is(words.length, 2);
  t.deepEqual([...new Uint8Array(words.buffer, words.byteOffset, 8)], [1, 2, 3, 4, 255, 0, 0, 0]);
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'cvcore.js'), 'bench', 'gpu-upload', '--frames', '2', '--size', '64x48', '--runs', '1', '--json'], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { widen_upload_bytes: number; packed_upload_bytes: number; cpu_ratio_packed_vs_widen: number };
  t.is(out.packed_upload_bytes * 4, out.widen_upload_bytes, 'a quarter of the bytes go up');
  t.true(Number.isFinite(out.cpu_ratio_packed_vs_widen));
});
