/**
 * `cvcore bench gpu-driver [--allow-software] [--json]`: the first step of bench/gpu-check.sh. Says plainly
 * whether this machine has a Vulkan driver Dawn can use, and which adapter it is: the Vulkan loader
 * (libvulkan.so.1), the ICD files the loader will read, the NVIDIA pieces a compute-only host (or a container
 * started without the `graphics` driver capability) lacks - nvidia_icd.json and libGLX_nvidia.so.0, which that
 * ICD points at - and then Dawn itself: the adapter it picks and its limits, or the typed error naming what is
 * missing (INFERENCE_WEBGPU_NO_VULKAN, INFERENCE_WEBGPU_NO_ADAPTER, INFERENCE_WEBGPU_MISSING_FEATURE). Without
 * --allow-software a software adapter (lavapipe, SwiftShader) is refused, so a GPU machine whose driver is
 * broken fails here instead of measuring the CPU. Exit 0 when usable, 1 when not (the JSON says why).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { configureWebgpu, describeAdapter, findVulkanLoader, shutdownWebgpu, vulkanIcdFiles, webgpuBackend, type AdapterInfo } from '../inference/webgpu-backend.js';

export interface DriverReport {
  readonly kind: 'gpu-driver';
  readonly at: string;
  readonly ok: boolean;
  /** One sentence: what works, or what is missing and what to do. */
  readonly verdict: string;
  readonly loader: string | null;
  readonly icd: { readonly source: string; readonly files: readonly string[]; readonly libraries: Readonly<Record<string, string | null>> };
  readonly nvidia: {
    /** An ICD file naming NVIDIA's driver, if the loader will read one. */
    readonly icdFile: string | null;
    readonly libGLX: string | null;
    /** `nvidia-smi -L` (the GPUs the CUDA side sees), or null where there is no nvidia-smi. */
    readonly smi: string | null;
    readonly driverCapabilities: string | null;
  };
  readonly adapter: AdapterInfo | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

function ldconfigHas(lib: string): string | null {
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      const out = execFileSync(ldconfig, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const line = out.split('\n').find((l) => l.trim().startsWith(`${lib} `));
      return line ? (line.split('=>')[1]?.trim() ?? lib) : null;
    } catch { /* try the next path */ }
  }
  return null;
}

function smi(): string | null {
  try { return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 }).trim(); } catch { return null; }
}

/** The driver library each ICD file names (its `ICD.library_path`). */
function icdLibraries(files: readonly string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const f of files) {
    try { out[f] = String((JSON.parse(readFileSync(f, 'utf8')) as { ICD?: { library_path?: string } }).ICD?.library_path ?? null); } catch { out[f] = null; }
  }
  return out;
}

export async function driverReport(o: { readonly allowSoftware: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<DriverReport> {
  const loader = findVulkanLoader(env);
  const icd = vulkanIcdFiles(env);
  const libraries = icdLibraries(icd.files.filter((f) => existsSync(f)));
  const nvidiaIcd = Object.entries(libraries).find(([f, lib]) => /nvidia/i.test(f) || /nvidia/i.test(lib ?? ''))?.[0] ?? null;
  const nvidia = { icdFile: nvidiaIcd, libGLX: ldconfigHas('libGLX_nvidia.so.0'), smi: smi(), driverCapabilities: env['NVIDIA_DRIVER_CAPABILITIES'] ?? null };
  let adapter: AdapterInfo | null = null;
  let error: { code: string; message: string } | null = null;
  try {
    configureWebgpu({ allowSoftware: o.allowSoftware, maxBatch: 1 });
    await webgpuBackend.init();
    adapter = describeAdapter();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    error = { code: typeof e.code === 'string' ? e.code : 'INFERENCE_FAILED', message: String(e.message ?? err) };
  } finally {
    shutdownWebgpu();
  }
  const gpuButNoVulkan = nvidia.smi !== null && (!nvidia.icdFile || !nvidia.libGLX);
  let verdict: string;
  if (adapter) {
    verdict = `Dawn can use ${adapter.description} (vendor ${adapter.vendor}, ${adapter.dawnBackend}${adapter.software ? ', a SOFTWARE adapter: figures prove the path, not the speed' : ''}); its limits allow batches up to ${adapter.maxBatch} at input 512`;
  } else if (!loader) {
    verdict = 'no Vulkan loader (libvulkan.so.1): install libvulkan1';
  } else if (gpuButNoVulkan) {
    verdict = `an NVIDIA GPU is present (nvidia-smi) but its Vulkan driver is not: ${nvidia.icdFile ? '' : 'no nvidia_icd.json among the ICD files'}${!nvidia.icdFile && !nvidia.libGLX ? ' and ' : ''}${nvidia.libGLX ? '' : 'no libGLX_nvidia.so.0 in the ld.so cache'}. A compute-only install or a container started with NVIDIA_DRIVER_CAPABILITIES=${nvidia.driverCapabilities ?? '(unset)'} has CUDA but no Vulkan; start it with NVIDIA_DRIVER_CAPABILITIES=all (or compute,utility,graphics), or install the driver's Vulkan ICD`;
  } else {
    verdict = `Dawn cannot use any adapter here: ${error?.code ?? ''} ${error?.message ?? ''}`.trim();
  }
  return { kind: 'gpu-driver', at: new Date().toISOString(), ok: adapter !== null, verdict, loader, icd: { source: icd.source, files: icd.files, libraries }, nvidia, adapter, error };
}

export async function benchGpuDriver(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: { 'allow-software': { type: 'boolean' }, json: { type: 'boolean' } } });
  const r = await driverReport({ allowSoftware: values['allow-software'] === true });
  process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${r.ok ? 'ok' : 'NOT USABLE'}: ${r.verdict}\n`);
  return r.ok ? 0 : 1;
}
