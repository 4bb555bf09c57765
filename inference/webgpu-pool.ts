/**
 * What InferenceEngine.start spreads into the GPU thread's Piscina options when `options.backend === 'webgpu'`
 * (see README-webgpu.md). One thread: a second one would
 * only compete for the same device, and the batcher's large batches are what keep the GPU busy.
 */
import type { DecodeOptions } from './detector.js';
import type { WebgpuOptions } from './webgpu-backend.js';
import type { WebgpuWorkerConfig } from './webgpu-worker.js';

export function webgpuPoolOptions(o: { readonly model: string; readonly decode: DecodeOptions; readonly maxBatch: number; readonly webgpu?: Partial<WebgpuOptions>; readonly inputSize?: number; readonly testHooks?: boolean }): {
  readonly filename: string;
  readonly workerData: WebgpuWorkerConfig;
  readonly minThreads: 1;
  readonly maxThreads: 1;
} {
  if (!Number.isInteger(o.maxBatch) || o.maxBatch < 1 || o.maxBatch > 64) throw new RangeError('options.maxBatch must be an integer from 1 to 64');
  return {
    filename: new URL('./webgpu-worker.js', import.meta.url).href,
    workerData: {
      model: o.model, decode: o.decode, maxBatch: o.maxBatch, ...(o.webgpu ? { webgpu: o.webgpu } : {}),
      ...(o.inputSize !== undefined ? { inputSize: o.inputSize } : {}), ...(o.testHooks ? { testHooks: true } : {}),
    },
    minThreads: 1,
    maxThreads: 1,
  };
}
