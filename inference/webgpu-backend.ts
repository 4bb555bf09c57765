/**
 * The `webgpu` inference backend: tfjs-backend-webgpu on Dawn (npm `webgpu`), which on Linux drives the GPU
 * through Vulkan. On an NVIDIA machine that is the driver's own Vulkan ICD; on CI it is Mesa's software
 * lavapipe (scripts/setup-vulkan.sh). Dawn reports every way of failing to find a GPU the same way - a null
 * adapter, with the reason only on native stderr - so this file checks what it can beforehand (the Vulkan
 * loader, the ICD files) and turns each failure into a typed error that names what the machine lacks.
 *
 * State is per thread (each piscina worker has its own tfjs engine and its own Dawn instance).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InferenceError } from '../common/errors.js';
import { DEFAULTS, type WebgpuConfig } from '../config/index.js';
import type { InferenceBackend } from './backends.js';

export type WebgpuOptions = WebgpuConfig;

/** What the backend reports about the adapter it chose (small enough for a warm-up result or a log line). */
export interface AdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** True for a software adapter (lavapipe/SwiftShader): it proves the path, not the speed. */
  readonly isFallbackAdapter: boolean;
  readonly dawnBackend: string;
  /** A software rasteriser (lavapipe/llvmpipe, SwiftShader): Dawn's fallback flag, or the name says so. */
  readonly software: boolean;
  /** The adapter's limits that bound a batch (bytes), and the largest batch they allow at the runner's input size. */
  readonly limits: { readonly maxStorageBufferBindingSize: number; readonly maxBufferSize: number };
  readonly maxBatch: number;
}

/** Both packages must be present: Dawn for Node, and the tfjs kernels written in WGSL. */
export const WEBGPU_PACKAGES = ['webgpu', '@tensorflow/tfjs-backend-webgpu'] as const;

/**
 * Limits the centernet path needs beyond WebGPU's guaranteed minimums. The largest single buffer at batch 64
 * is the resized input (64 x 512 x 512 x 3 float32 = 192 MiB), which exceeds the 128 MiB default binding size.
 */
export function requiredLimits(maxBatch: number, size = 512): Readonly<Record<string, number>> {
  return {
    maxStorageBufferBindingSize: maxBatch * size * size * 3 * 4,
    maxBufferSize: maxBatch * size * size * 3 * 4,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupStorageSize: 16_384,
  };
}

/** The largest batch (up to 64) whose buffers fit the adapter's limits at this input size; 0 when not even one. */
export function maxBatchForLimits(limits: Readonly<Record<string, number>>, size = 512): number {
  const per = size * size * 3 * 4;
  const bytes = Math.min(limits['maxStorageBufferBindingSize'] ?? 0, limits['maxBufferSize'] ?? 0);
  return Math.min(64, Math.floor(bytes / per));
}

/** lavapipe/llvmpipe and SwiftShader name themselves; Dawn's fallback flag covers the rest. */
export const isSoftwareAdapter = (i: { readonly description?: string; readonly device?: string; readonly architecture?: string }, fallback: boolean): boolean =>
  fallback || /llvmpipe|lavapipe|swiftshader/i.test(`${i.description ?? ''} ${i.device ?? ''}`) || i.architecture === 'software';

// --- the minimal structural view of Dawn's objects we use (the package ships DOM-style global types that
// would clash with @types/node's, so they are not pulled into the build) ---------------------------------
interface GpuAdapterLike {
  readonly info: { readonly vendor: string; readonly architecture: string; readonly device: string; readonly description: string; readonly isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
  readonly features: ReadonlySet<string>;
  readonly limits: Readonly<Record<string, number>>;
  requestDevice(descriptor: { requiredFeatures: string[]; requiredLimits: Record<string, number> }): Promise<GpuDeviceLike>;
}
interface GpuDeviceLike { destroy(): void; readonly lost?: Promise<{ readonly reason?: string; readonly message?: string }> }
interface GpuLike { requestAdapter(options?: { powerPreference?: string; forceFallbackAdapter?: boolean }): Promise<GpuAdapterLike | null> }
interface DawnModule { create(flags: string[]): GpuLike; globals: object }
interface TfjsWebgpuModule { WebGPUBackend: new (device: GpuDeviceLike, adapterInfo?: unknown) => tf.KernelBackend }

const require = createRequire(import.meta.url);
const resolvable = (pkg: string): boolean => {
  try { require.resolve(pkg); return true; } catch { return false; }
};
export const webgpuPackagesInstalled = (): boolean => WEBGPU_PACKAGES.every(resolvable);

// --- machine checks -----------------------------------------------------------------------------------

/** Where libvulkan.so.1 would be loaded from (LD_LIBRARY_PATH first, then the ld.so cache), or null. */
export function findVulkanLoader(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) {
    if (existsSync(join(dir, 'libvulkan.so.1'))) return join(dir, 'libvulkan.so.1');
  }
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      const out = execFileSync(ldconfig, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const line = out.split('\n').find((l) => l.trim().startsWith('libvulkan.so.1 '));
      return line ? (line.split('=>')[1]?.trim() ?? 'libvulkan.so.1') : null;
    } catch { /* not at this path: try the next */ }
  }
  // No ldconfig at all (minimal images): look in the usual multiarch folders.
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib']) {
    if (existsSync(join(dir, 'libvulkan.so.1'))) return join(dir, 'libvulkan.so.1');
  }
  return null;
}

/** The Vulkan ICD (driver) files the loader will consider, in the loader's order, for error messages. */
export function vulkanIcdFiles(env: NodeJS.ProcessEnv = process.env): { readonly source: string; readonly files: readonly string[] } {
  const explicit = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  if (explicit) return { source: env.VK_DRIVER_FILES ? 'VK_DRIVER_FILES' : 'VK_ICD_FILENAMES', files: explicit.split(':').filter(Boolean) };
  const home = homedir();
  const dirs = [
    join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'vulkan/icd.d'), '/etc/xdg/vulkan/icd.d', '/etc/vulkan/icd.d',
    join(env.XDG_DATA_HOME ?? join(home, '.local/share'), 'vulkan/icd.d'), '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d',
  ];
  const files: string[] = [];
  for (const dir of dirs) {
    try { for (const f of readdirSync(dir)) if (f.endsWith('.json')) files.push(join(dir, f)); } catch { /* absent folder */ }
  }
  return { source: `${dirs.join(', ')}`, files };
}

// --- the backend ---------------------------------------------------------------------------------------

let options: WebgpuOptions = DEFAULTS.inference.webgpu;
let maxBatch = 8;
let inputSize = 512;
let chosen: AdapterInfo | null = null;
let device: GpuDeviceLike | null = null;
/** Dawn instances made in this thread, by their flags: kept, never dropped (see init). */
const instances = new Map<string, GpuLike>();
/** Node 21+ has its own `navigator`; it is put back on shutdown rather than deleted. */
let priorNavigator: PropertyDescriptor | undefined;
let installedNavigator: object | null = null;

/** Sets this thread's Dawn options; call before `init()` (the GPU worker does, from its workerData). */
export function configureWebgpu(o: Partial<WebgpuOptions> & { readonly maxBatch?: number; readonly inputSize?: number } = {}): void {
  if (chosen) throw new TypeError('configureWebgpu() must be called before the webgpu backend is initialised');
  if (o.maxBatch !== undefined && (!Number.isInteger(o.maxBatch) || o.maxBatch < 1)) throw new RangeError('options.maxBatch must be a positive integer');
  if (o.inputSize !== undefined && (!Number.isInteger(o.inputSize) || o.inputSize < 32)) throw new RangeError('options.inputSize must be an integer of at least 32');
  const { maxBatch: mb, inputSize: size, ...dawn } = o;
  options = { ...options, ...dawn };
  if (mb !== undefined) maxBatch = mb;
  if (size !== undefined) inputSize = size;
}

/** Why this thread's device was lost (a driver reset, or destroy()), or null while it is alive. */
let lost: { readonly reason: string; readonly message: string } | null = null;
export function deviceLost(): { readonly reason: string; readonly message: string } | null { return lost; }

/**
 * Test hook: destroys this thread's device, as a driver reset would lose it. The device's `lost` promise then
 * resolves and the next GPU read fails; the runner's owner recreates the device (webgpu-worker.ts).
 */
export function loseDevice(): boolean {
  if (!device) return false;
  device.destroy();
  return true;
}

/** Waits up to `ms` for the device's `lost` promise (it settles a tick after the failure that revealed it). */
export async function waitDeviceLost(ms: number): Promise<{ readonly reason: string; readonly message: string } | null> {
  const until = Date.now() + ms;
  while (!lost && device && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return lost;
}

/** The adapter this thread chose, or null before init. */
export function describeAdapter(): AdapterInfo | null { return chosen; }

function noAdapter(reason: string, detail: Record<string, unknown> = {}): InferenceError {
  const icd = vulkanIcdFiles();
  const where = options.backend === 'vulkan'
    ? `; Vulkan ICD files checked (${icd.source}): ${icd.files.length ? icd.files.join(', ') : 'none'}. On CI run scripts/setup-vulkan.sh and use the env lines it prints; on an NVIDIA machine install the driver's Vulkan ICD (see inference/README-webgpu.md)`
    : '';
  return new InferenceError('INFERENCE_WEBGPU_NO_ADAPTER', `webgpu: ${reason}${where}`, { detail: { dawnBackend: options.backend, icdSource: icd.source, icdFiles: icd.files, ...detail } });
}

async function selectAdapter(gpu: GpuLike): Promise<GpuAdapterLike> {
  let adapter: GpuAdapterLike | null;
  try {
    // Dawn orders adapters discrete > integrated > CPU under high-performance, so a hardware one wins.
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (cause) {
    // An unknown adapter= name throws here, listing the adapters Dawn can see.
    throw noAdapter(`requestAdapter failed: ${(cause as Error).message}`, { adapter: options.adapter });
  }
  if (!adapter) throw noAdapter(`Dawn (${options.backend}) found no adapter${options.adapter ? ` named "${options.adapter}"` : ''}`, { adapter: options.adapter });
  const fallback = adapter.isFallbackAdapter ?? adapter.info.isFallbackAdapter ?? adapter.info.architecture === 'software';
  if (fallback && !options.allowSoftware) {
    throw noAdapter(`only a software adapter is available (${adapter.info.description}) and inference.webgpu.allowSoftware is false`, { description: adapter.info.description });
  }
  return adapter;
}

function checkLimits(adapter: GpuAdapterLike): Record<string, number> {
  const need = requiredLimits(maxBatch, inputSize);
  for (const [name, min] of Object.entries(need)) {
    const has = adapter.limits[name] ?? 0;
    if (has < min) {
      const fits = maxBatchForLimits(adapter.limits, inputSize);
      throw new InferenceError('INFERENCE_WEBGPU_MISSING_FEATURE', `webgpu: adapter "${adapter.info.description}" has ${name} ${has}, batch ${maxBatch} at input ${inputSize} needs ${min}; lower inference.maxBatch (this adapter fits ${fits})`, { detail: { limit: name, has, need: min, maxBatch, inputSize, adapterMaxBatch: fits } });
    }
  }
  // Ask for the adapter's full limits (as tfjs does): its kernels size dispatches from the device's limits.
  const limits: Record<string, number> = {};
  for (const name of ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup']) {
    const v = adapter.limits[name];
    if (v !== undefined) limits[name] = v;
  }
  return limits;
}

async function init(): Promise<void> {
  if (chosen && tf.getBackend() === 'webgpu') return;
  if (!webgpuPackagesInstalled()) {
    const missing = WEBGPU_PACKAGES.filter((p) => !resolvable(p));
    throw new InferenceError('INFERENCE_BACKEND_UNAVAILABLE', `backend "webgpu" needs the npm packages ${missing.join(' and ')}, which are not installed on this machine`, { detail: { backend: 'webgpu', package: missing.join(' ') } });
  }
  if (options.backend === 'vulkan' && process.platform === 'linux' && !findVulkanLoader()) {
    throw new InferenceError('INFERENCE_WEBGPU_NO_VULKAN', 'webgpu: the Vulkan loader libvulkan.so.1 is not on this machine (checked LD_LIBRARY_PATH and ldconfig -p); install libvulkan1 (scripts/setup-vulkan.sh does)', { detail: { library: 'libvulkan.so.1', ldLibraryPath: process.env.LD_LIBRARY_PATH ?? '' } });
  }
  // Package names in variables keep TypeScript from pulling Dawn's DOM typings into the build.
  const dawnPkg: string = WEBGPU_PACKAGES[0];
  const dawn = (await import(dawnPkg)) as DawnModule;
  const flags = [`backend=${options.backend}`, ...(options.adapter ? [`adapter=${options.adapter}`] : []), ...options.flags];
  // One Dawn instance per set of flags for the life of the thread, reused by every later init (a runner made
  // again, a device recreated after a loss). An instance dropped for the garbage collector could be finalised
  // while the binding's event pump still had it scheduled: that aborted the process (std::system_error thrown from
  // InstanceBase::ProcessEvents) in about 1 start in 5 of `bench webgpu`, which makes a probe runner first.
  const key = flags.join('\u0000');
  let gpu = instances.get(key);
  if (!gpu) {
    try {
      gpu = dawn.create(flags);
    } catch (cause) {
      throw noAdapter(`Dawn rejected flags ${flags.join(' ')}: ${(cause as Error).message}`, { flags });
    }
    instances.set(key, gpu);
  }
  // tfjs-backend-webgpu registers itself only if navigator.gpu exists when it is imported, and its kernels
  // use the GPUBufferUsage/GPUMapMode constants as globals.
  Object.assign(globalThis, dawn.globals);
  if (!installedNavigator) priorNavigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  installedNavigator = { gpu };
  Object.defineProperty(globalThis, 'navigator', { value: installedNavigator, configurable: true, writable: true });
  const adapter = await selectAdapter(gpu);
  const limits = checkLimits(adapter);
  const features = ['timestamp-query'].filter((f) => adapter.features.has(f));
  const dev0 = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: limits });
  device = dev0;
  lost = null;
  // A driver reset (or destroy()) resolves `lost`; the worker checks deviceLost() when a batch fails.
  void dev0.lost?.then((info) => { if (device === dev0) lost ??= { reason: String(info?.reason ?? 'unknown'), message: String(info?.message ?? '') }; });
  const tfPkg: string = WEBGPU_PACKAGES[1];
  const tfwebgpu = (await import(tfPkg)) as TfjsWebgpuModule;
  // Replace the package's own factory, which would ask Dawn for an adapter again and might get another one.
  if (tf.findBackend('webgpu') || tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  const dev = device;
  tf.registerBackend('webgpu', () => new tfwebgpu.WebGPUBackend(dev, adapter.info), 3);
  if (!(await tf.setBackend('webgpu'))) throw noAdapter('tfjs-backend-webgpu did not initialise on the chosen adapter');
  await tf.ready();
  const i = adapter.info;
  const fallback = adapter.isFallbackAdapter ?? i.isFallbackAdapter ?? false;
  chosen = {
    vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: fallback, dawnBackend: options.backend,
    software: isSoftwareAdapter(i, fallback),
    limits: { maxStorageBufferBindingSize: adapter.limits['maxStorageBufferBindingSize'] ?? 0, maxBufferSize: adapter.limits['maxBufferSize'] ?? 0 },
    maxBatch: maxBatchForLimits(adapter.limits, inputSize),
  };
}

/**
 * Releases this thread's GPU objects so the thread (and process) can exit: tfjs's backend, the device, and
 * the navigator global the package keyed off. Safe to call twice.
 */
export function shutdownWebgpu(): void {
  if (tf.findBackend('webgpu')) tf.removeBackend('webgpu');
  const d = device;
  device = null;
  d?.destroy();
  chosen = null;
  lost = null;
  if (installedNavigator && (globalThis as { navigator?: unknown }).navigator === installedNavigator) {
    Reflect.deleteProperty(globalThis, 'navigator');
    if (priorNavigator) Object.defineProperty(globalThis, 'navigator', priorNavigator);
  }
  installedNavigator = null;
  priorNavigator = undefined;
}

export const webgpuBackend: InferenceBackend = { name: 'webgpu', packageName: '@tensorflow/tfjs-backend-webgpu', init };
