/**
 * `cvcore bench gpu-upload`: the CPU side of sending a batch of frames to the GPU (inference/webgpu-runner.ts).
 * tfjs has no 8-bit dtype, so frames used to be widened to int32 on the CPU (four bytes per byte, a pass over
 * every byte); they now go up packed four bytes to a word and a shader unpacks them. This measures both on the
 * same frames, CPU ms per batch and bytes uploaded; it needs no GPU (the GPU side is `bench webgpu`).
 */
import { packBytes } from '../inference/webgpu-runner.js';

interface Options { frames: number; width: number; height: number; runs: number; json: boolean }

function parse(args: readonly string[]): Options {
  const o: Options = { frames: 8, width: 1920, height: 1080, runs: 5, json: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') { o.json = true; continue; }
    if (a === '--size') {
      const m = /^(\d+)x(\d+)$/.exec(args[++i] ?? '');
      if (!m) throw new RangeError('--size takes WxH, e.g. 1920x1080');
      o.width = Number(m[1]); o.height = Number(m[2]);
      continue;
    }
    const key = ({ '--frames': 'frames', '--runs': 'runs' } as const)[a as '--frames'];
    const v = Number(args[++i]);
    if (key === undefined) throw new RangeError(`unknown option ${a} (known: --frames N --size WxH --runs R --json)`);
    if (!Number.isInteger(v) || v < 1 || v > 64) throw new RangeError(`${a} takes an integer from 1 to 64`);
    o[key] = v;
  }
  return o;
}

/** The former path, the baseline: every byte widened into an int32. */
function widen(frames: readonly Uint8Array[]): number {
  const px = frames[0]!.length;
  const buf = new Int32Array(px * frames.length);
  frames.forEach((f, j) => buf.set(f, j * px));
  return buf.byteLength;
}

function measure(fn: () => number, runs: number): { cpuMs: number; bytes: number } {
  let bytes = fn(); // warm
  const c0 = process.cpuUsage();
  for (let r = 0; r < runs; r++) bytes = fn();
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000 / runs, bytes };
}

export async function benchGpuUpload(args: string[]): Promise<number> {
  const o = parse(args);
  const px = o.width * o.height * 3;
  const frames = Array.from({ length: o.frames }, (_, k) => Uint8Array.from({ length: px }, (_, i) => (i * 7 + k) & 255));
  const widened = measure(() => widen(frames), o.runs);
  const packed = measure(() => packBytes(frames).byteLength, o.runs);
  const result = {
    bench: 'gpu-upload', frames: o.frames, size: `${o.width}x${o.height}`, runs: o.runs,
    widen_cpu_ms: Number(widened.cpuMs.toFixed(1)), widen_upload_mb: Number((widened.bytes / 1e6).toFixed(1)), widen_upload_bytes: widened.bytes,
    packed_cpu_ms: Number(packed.cpuMs.toFixed(1)), packed_upload_mb: Number((packed.bytes / 1e6).toFixed(1)), packed_upload_bytes: packed.bytes,
    cpu_ratio_packed_vs_widen: Number((packed.cpuMs / widened.cpuMs).toFixed(3)),
  };
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(`batch of ${o.frames} frames ${o.width}x${o.height}: widened to int32 ${result.widen_cpu_ms} ms CPU, ${result.widen_upload_mb} MB up; `
      + `packed ${result.packed_cpu_ms} ms CPU, ${result.packed_upload_mb} MB up (CPU ratio ${result.cpu_ratio_packed_vs_widen})\n`);
  }
  return 0;
}
