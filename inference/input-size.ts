/**
 * Running a detector at another input size than the one its graph was exported with. centernet's backbone is
 * fully convolutional, but the graph pins its input Placeholder to 512x512 (tfjs checks inputs against it) and its
 * head resizes feature maps to fixed sizes (32, 64, 128 at 512) and flattens a fixed 128x128 grid: those sizes
 * are int32 constants among the weights. A copy of the topology with height and width free, and a copy of the
 * weight bytes with those constants scaled by size / 512, run the same network at 256 to 512. The files on disk
 * (and their sha256) are never touched. `cvcore bench detectors` measures what each size costs and keeps.
 */
interface GraphNode { name: string; op: string; attr?: { shape?: { shape?: { dim?: { size: string }[] } } } }
export interface WeightSpec { name: string; shape: number[]; dtype: string; quantization?: { dtype: string } }

/** Per model: the int32 weight constants that depend on the input size, as functions of size / native size. */
const SIZE_CONSTS: Readonly<Record<string, Readonly<Record<string, (f: number) => number[]>>>> = {
  centernet: {
    'tower_0/CenternetHead/c5_upsample/up_sampling2d/mul': (f) => [32 * f, 32 * f],
    'tower_0/CenternetHead/c4_upsample/up_sampling2d_1/mul': (f) => [64 * f, 64 * f],
    'tower_0/CenternetHead/c3_upsample/up_sampling2d_2/mul': (f) => [128 * f, 128 * f],
    'tower_0/BatchGather/concat': (f) => [(128 * f) ** 2, 4],
    'tower_0/strided_slice_6': (f) => [128 * f],
  },
};

const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

/** A copy of the topology whose input Placeholders take any height and width (-1). */
export function freeSpatialSize(topology: unknown): unknown {
  const copy = structuredClone(topology) as { node?: GraphNode[] };
  for (const n of copy.node ?? []) {
    const dim = n.op === 'Placeholder' ? n.attr?.shape?.shape?.dim : undefined;
    if (dim && dim.length === 4) { dim[1]!.size = '-1'; dim[2]!.size = '-1'; }
  }
  return copy;
}

/** A copy of the weight bytes with the model's size constants scaled from `nativeSize` to `size`. */
export function scaledWeights(model: string, specs: readonly WeightSpec[], data: ArrayBuffer, nativeSize: number, size: number): ArrayBuffer {
  const consts = SIZE_CONSTS[model];
  if (!consts) throw new RangeError(`model ${model} cannot run at another input size`);
  const out = data.slice(0);
  const f = size / nativeSize;
  let off = 0;
  for (const w of specs) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const bytes = n * (BYTES[w.quantization?.dtype ?? w.dtype] ?? 4);
    const scale = consts[w.name];
    if (scale && w.dtype === 'int32' && !w.quantization) new Int32Array(out, off, n).set(scale(f));
    off += bytes;
  }
  return out;
}
