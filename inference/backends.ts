/**
 * Inference backends behind one interface. `wasm` (SIMD, the default) always exists; `tfjs-node` and
 * `tfjs-node-gpu` are used only when their packages are installed on the machine. Asking for one that is
 * absent is a typed error, never a silent fallback to another backend.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InferenceError } from '../common/errors.js';
import { BACKENDS } from '../config/index.js';
import { webgpuBackend } from './webgpu-backend.js';

export type BackendName = (typeof BACKENDS)[number];

export interface InferenceBackend {
  readonly name: BackendName;
  /** The npm package that provides it (absent packages make the backend unavailable). */
  readonly packageName: string;
  /** Registers and selects the backend in this thread's tfjs engine. */
  init(): Promise<void>;
}

const require = createRequire(import.meta.url);
const resolvable = (pkg: string): boolean => {
  try { require.resolve(pkg); return true; } catch { return false; }
};

const wasm: InferenceBackend = {
  name: 'wasm',
  packageName: '@tensorflow/tfjs-backend-wasm',
  async init() {
    const wasmModule = await import('@tensorflow/tfjs-backend-wasm');
    // Load the .wasm binaries from the installed package, never from a CDN.
    wasmModule.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
    if (!(await tf.setBackend('wasm'))) throw new InferenceError('INFERENCE_BACKEND_UNAVAILABLE', 'the wasm backend failed to initialise');
    await tf.ready();
  },
};

function nativeBackend(name: 'tfjs-node' | 'tfjs-node-gpu'): InferenceBackend {
  const pkg = `@tensorflow/${name}`;
  return {
    name,
    packageName: pkg,
    async init() {
      if (!resolvable(pkg)) throw unavailable(name, pkg);
      await import(pkg);
      if (!(await tf.setBackend('tensorflow'))) throw new InferenceError('INFERENCE_BACKEND_UNAVAILABLE', `${pkg} is installed but its backend did not initialise`, { detail: { backend: name } });
      await tf.ready();
    },
  };
}

/**
 * onnxruntime's CPU kernels for the detector (onnx-runner.ts); the secondary models (faces) stay on tfjs, so
 * this backend also brings up wasm in the thread.
 */
const onnx: InferenceBackend = {
  name: 'onnx',
  packageName: 'onnxruntime-node',
  async init() {
    if (!resolvable('onnxruntime-node')) throw unavailable('onnx', 'onnxruntime-node');
    await wasm.init();
  },
};

const unavailable = (name: string, pkg: string): InferenceError =>
  new InferenceError('INFERENCE_BACKEND_UNAVAILABLE', `backend "${name}" needs the npm package ${pkg}, which is not installed on this machine`, { detail: { backend: name, package: pkg } });

const REGISTRY: Record<BackendName, InferenceBackend> = {
  wasm,
  onnx,
  'tfjs-node': nativeBackend('tfjs-node'),
  'tfjs-node-gpu': nativeBackend('tfjs-node-gpu'),
  webgpu: webgpuBackend,
};

const started = new Map<BackendName, Promise<void>>();

/**
 * The backend by name. Its `init()` runs once per thread however often it is called: the detector and the
 * face models both ask for it, and a second concurrent `tf.setBackend` while the first is pending fails.
 */
export function getBackend(name: BackendName): InferenceBackend {
  const b = REGISTRY[name];
  if (!b) throw new TypeError(`inference.backend must be one of ${BACKENDS.join(', ')}`);
  return {
    name: b.name,
    packageName: b.packageName,
    init() {
      let p = started.get(name);
      if (!p) {
        p = b.init();
        started.set(name, p);
        // A failed start may be retried (say, after installing the package).
        p.catch(() => started.delete(name));
      }
      return p;
    },
  };
}

/** The backends whose packages are installed here (the conformance suite runs against each). */
export function availableBackends(): BackendName[] {
  return (Object.values(REGISTRY) as InferenceBackend[]).filter((b) => b.name === 'wasm' || resolvable(b.packageName)).map((b) => b.name);
}

/** Fails fast in the main thread, before any worker starts, when the backend cannot exist here. */
export function assertBackendAvailable(name: BackendName): void {
  const b = getBackend(name);
  if (b.name !== 'wasm' && !resolvable(b.packageName)) throw unavailable(b.name, b.packageName);
}
