/**
 * The webgpu backend's set-up and failure reporting: which adapter it picks on lavapipe and the typed errors
 * for a missing driver, a refused software adapter and an unknown adapter name. Each case initialises Dawn in
 * a child process, because Dawn and the dynamic loader read the Vulkan environment only at start.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../config/index.js';
import { findVulkanLoader, vulkanIcdFiles, requiredLimits } from '../inference/webgpu-backend.js';
import * as tf from '@tensorflow/tfjs-core';
import { getBackend } from '../inference/backends.js';
import { preprocessBatch, withDynamicBatch } from '../inference/webgpu-runner.js';
import { lavapipeEnv } from './support/lavapipe.js';

interface InitOutcome { ok: boolean; code?: string; message?: string; adapter?: { isFallbackAdapter: boolean; vendor: string; description: string } }

function init(env: NodeJS.ProcessEnv, options: object = {}): InitOutcome {
  const script = fileURLToPath(new URL('./support/webgpu-init-child.js', import.meta.url));
  const r = spawnSync(process.execPath, [script, JSON.stringify(options)], { env, encoding: 'utf8', timeout: 120_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as InitOutcome;
}

const lvp = lavapipeEnv();
const env = 'env' in lvp ? lvp.env : null;

test('inference - webgpu config has defaults and rejects bad Dawn flags', (t) => {
  const cfg = parseConfig({});
  t.deepEqual({ ...cfg.inference.webgpu, flags: [...cfg.inference.webgpu.flags] }, { backend: 'vulkan', adapter: null, flags: [], allowSoftware: true, structure: true });
  t.false(parseConfig({ inference: { webgpu: { structure: false } } }).inference.webgpu.structure);
  t.throws(() => parseConfig({ inference: { webgpu: { structure: 'yes' } } }), { message: /inference\.webgpu\.structure/ });
  t.throws(() => parseConfig({ inference: { webgpu: { flags: ['no equals sign'] } } }), { message: /inference\.webgpu\.flags\[0\]/ });
  t.throws(() => parseConfig({ inference: { webgpu: { backend: 'cuda' } } }), { message: /inference\.webgpu\.backend/ });
});

test('inference - webgpu patches only the input batch dimension and sizes limits by batch', (t) => {
  const topo = { node: [{ name: 'tower_0/images', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '1' }, { size: '512' }] } } } }] };
  const patched = withDynamicBatch(topo) as typeof topo;
  t.is(patched.node[0]!.attr.shape.shape.dim[0]!.size, '-1');
  t.is(topo.node[0]!.attr.shape.shape.dim[0]!.size, '1', 'the original topology is left as it was');
  t.throws(() => withDynamicBatch({ node: [] }), { instanceOf: TypeError });
  t.is(requiredLimits(64)['maxStorageBufferBindingSize'], 64 * 512 * 512 * 3 * 4);
  t.deepEqual(vulkanIcdFiles({ VK_DRIVER_FILES: '/a.json:/b.json' }), { source: 'VK_DRIVER_FILES', files: ['/a.json', '/b.json'] });
});

test('inference - webgpu picks the lavapipe adapter and reports it', (t) => {
  if (!env) { t.fail('missing' in lvp ? lvp.missing : 'no lavapipe'); return; }
  const r = init(env);
  t.true(r.ok, r.message);
  t.true(r.adapter?.isFallbackAdapter);
  t.regex(r.adapter?.description ?? '', /llvmpipe/);
});

test('inference - webgpu names the ICD files checked when no driver loads', (t) => {
  if (!env) { t.fail('missing' in lvp ? lvp.missing : 'no lavapipe'); return; }
  const r = init({ ...env, VK_DRIVER_FILES: '/nonexistent/cvcore_icd.json' });
  t.false(r.ok);
  t.is(r.code, 'INFERENCE_WEBGPU_NO_ADAPTER');
  t.regex(r.message ?? '', /VK_DRIVER_FILES.*\/nonexistent\/cvcore_icd\.json/);
});

test('inference - webgpu refuses a software adapter when allowSoftware is false', (t) => {
  if (!env) { t.fail('missing' in lvp ? lvp.missing : 'no lavapipe'); return; }
  const r = init(env, { allowSoftware: false });
  t.is(r.code, 'INFERENCE_WEBGPU_NO_ADAPTER');
  t.regex(r.message ?? '', /software adapter/);
});

test('inference - webgpu lists the adapters Dawn sees when the named one is absent', (t) => {
  if (!env) { t.fail('missing' in lvp ? lvp.missing : 'no lavapipe'); return; }
  const r = init(env, { adapter: 'No Such GPU' });
  t.is(r.code, 'INFERENCE_WEBGPU_NO_ADAPTER');
  t.regex(r.message ?? '', /Available adapters[\s\S]*llvmpipe/);
});

test('inference - webgpu names the limit a batch size exceeds, and the batch the adapter fits', (t) => {
  if (!env) { t.fail('missing' in lvp ? lvp.missing : 'no lavapipe'); return; }
  // lavapipe binds at most 128 MiB: batch 64 at 512 needs 192 MiB for its resized input.
  const r = init(env, { maxBatch: 64 }) as InitOutcome & { detail?: { limit: string; adapterMaxBatch: number } };
  t.is(r.code, 'INFERENCE_WEBGPU_MISSING_FEATURE');
  t.regex(r.message ?? '', /maxStorageBufferBindingSize 134217728, batch 64 at input 512 needs 201326592/);
  t.is(r.detail?.limit, 'maxStorageBufferBindingSize');
  t.is(r.detail?.adapterMaxBatch, 42);
  const ok = init(env, { maxBatch: 8 }) as InitOutcome & { adapter?: { maxBatch: number; software: boolean } };
  t.true(ok.ok, ok.message);
  t.is(ok.adapter?.maxBatch, 42);
  t.true(ok.adapter?.software);
});

test('inference - webgpu looks for libvulkan.so.1 in LD_LIBRARY_PATH before the ld.so cache', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cvcore-vk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'libvulkan.so.1'), '');
  t.is(findVulkanLoader({ LD_LIBRARY_PATH: `/nonexistent:${dir}` }), join(dir, 'libvulkan.so.1'));
});

test('inference - webgpu preprocessing keeps frame order when cameras have different sizes', async (t) => {
  // Backend-independent tf ops, so the wasm backend checks the grouping and re-ordering logic cheaply.
  await getBackend('wasm').init();
  const solid = (w: number, h: number, v: number) => ({ data: new Uint8Array(w * h * 3).fill(v), width: w, height: h });
  const frames = [solid(8, 6, 10), solid(4, 4, 20), solid(8, 6, 30), solid(4, 4, 40), solid(6, 8, 50)];
  const before = tf.memory().numTensors;
  const out = tf.tidy(() => preprocessBatch(frames, 4));
  t.deepEqual(out.shape, [5, 4, 4, 3]);
  const mean = tf.mean(out, [1, 2, 3]);
  const means = Array.from(await mean.data());
  t.deepEqual(means.map((m) => Math.round(m)), [10, 20, 30, 40, 50]);
  tf.dispose([out, mean]);
  t.is(tf.memory().numTensors, before, 'nothing left behind');
  t.throws(() => preprocessBatch([{ data: new Uint8Array(5), width: 2, height: 2 }], 4), { instanceOf: RangeError });
});
