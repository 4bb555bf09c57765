/**
 * Translates CenterNet's backbone (the tfjs graph up to tower_0/keypoints and tower_0/wh) into an ONNX
 * model (opset 13), so onnxruntime can run the batchable part of the detector. The detection head (TopK,
 * gathers) stays in tfjs: only the ancestors of the two backbone outputs are translated.
 *
 * Layout: ONNX convolutions are NCHW, tfjs's are NHWC. Rather than transposing around every op, the whole
 * graph runs NCHW with one Transpose after the input and one before each output, so the model's interface
 * stays NHWC exactly like tfjs's:
 *   input  `images`    [N,H,W,3]   float32 RGB 0..255 (N, H, W dynamic)
 *   output `keypoints` [N,h,w,80]  (tfjs tower_0/keypoints)
 *   output `wh`        [N,h,w,4]   (tfjs tower_0/wh)
 * Each translation below was checked numerically against tfjs-wasm (keypoints to ~1e-6, wh to ~5e-3).
 * The result is byte-for-byte deterministic: nodes follow a depth-first walk of the graph from the outputs.
 */
import { ModelError } from '../common/errors.js';
import { readModel } from './index.js';
import { attr, encodeModel, ONNX_FLOAT, type OnnxAttribute, type OnnxNode, type OnnxTensor } from './onnx-writer.js';

export const CENTERNET_ONNX_FILE = 'centernet-backbone.onnx';
/** Bumped whenever the translation changes, so a changed file is explained by its producer_version. */
const CONVERTER_VERSION = '1';
const MODEL = 'centernet';
const OUTPUTS = [
  { onnx: 'keypoints', tf: 'tower_0/keypoints', channels: 80 },
  { onnx: 'wh', tf: 'tower_0/wh', channels: 4 },
] as const;

interface TfAttr {
  readonly s?: string;
  readonly b?: boolean;
  readonly i?: string | number;
  readonly list?: { readonly i?: readonly (string | number)[]; readonly s?: readonly string[] };
}
interface TfNode { readonly name: string; readonly op: string; readonly input?: readonly string[]; readonly attr?: Readonly<Record<string, TfAttr>> }
interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: { readonly dtype?: string };
}
interface Weight { readonly shape: readonly number[]; readonly data: Float32Array | Int32Array }

function unsupported(message: string, detail: Record<string, unknown>): ModelError {
  // MODEL_FILE_CORRUPT: "does not parse" is the nearest stable code for a graph this converter cannot express.
  return new ModelError('MODEL_FILE_CORRUPT', `${MODEL} -> ONNX: ${message}`, { detail: { model: MODEL, ...detail } });
}

/** IEEE half to float; exact, since every half is representable as a float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Splits the concatenated weight bytes by the specs' order; float16-quantised floats come back as float32. */
function decodeWeights(specs: readonly WeightSpec[], data: ArrayBuffer): Map<string, Weight> {
  const view = new DataView(data);
  const weights = new Map<string, Weight>();
  let off = 0;
  for (const w of specs) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const q = w.quantization?.dtype;
    let values: Float32Array | Int32Array;
    if (q === 'float16' && w.dtype === 'float32') {
      values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = halfToFloat(view.getUint16(off + 2 * i, true));
      off += 2 * n;
    } else if (q !== undefined) {
      throw unsupported(`weight ${w.name} has quantisation ${q}`, { weight: w.name });
    } else if (w.dtype === 'float32' || w.dtype === 'int32') {
      values = w.dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
      for (let i = 0; i < n; i++) values[i] = w.dtype === 'float32' ? view.getFloat32(off + 4 * i, true) : view.getInt32(off + 4 * i, true);
      off += 4 * n;
    } else {
      throw unsupported(`weight ${w.name} has dtype ${w.dtype}`, { weight: w.name });
    }
    if (off > data.byteLength) throw unsupported(`weights end at byte ${off}, past the ${data.byteLength} bytes of the .bin`, { weight: w.name });
    weights.set(w.name, { shape: w.shape, data: values });
  }
  if (off !== data.byteLength) throw unsupported(`weight specs cover ${off} of ${data.byteLength} weight bytes`, {});
  return weights;
}

const tensorName = (s: string): string => s.replace(/^\^/, '').replace(/:0$/, '');
const decodeB64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');
const intList = (n: TfNode, key: string): number[] => (n.attr?.[key]?.list?.i ?? []).map(Number);

/** Ancestors of the outputs, each after its inputs. Iterative, so graph depth cannot overflow the stack. */
function backboneOrder(byName: ReadonlyMap<string, TfNode>, roots: readonly string[]): TfNode[] {
  const order: TfNode[] = [];
  const seen = new Set<string>();
  for (const root of roots) {
    const stack: { name: string; next: number }[] = [];
    const enter = (name: string): void => {
      if (seen.has(name)) return;
      if (!byName.has(name)) throw unsupported(`the graph has no node ${name}`, { node: name });
      seen.add(name);
      stack.push({ name, next: 0 });
    };
    enter(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const node = byName.get(top.name)!;
      const inputs = node.input ?? [];
      if (top.next < inputs.length) enter(tensorName(inputs[top.next++]!));
      else { stack.pop(); order.push(node); }
    }
  }
  return order;
}

// NHWC axis -> NCHW axis, for ops that name an axis (ConcatV2).
const NCHW_AXIS: Readonly<Record<number, number>> = { 0: 0, 1: 2, 2: 3, 3: 1, [-1]: 1 };

/** Reads the verified tfjs artifacts (models/files or `dir`) and returns the backbone as .onnx bytes. */
export async function convertCenternetBackbone(dir?: string): Promise<Uint8Array> {
  const artifacts = await readModel(MODEL, dir);
  const topology = artifacts.modelTopology as { node?: unknown };
  if (!Array.isArray(topology.node)) throw unsupported('modelTopology has no node list', {});
  const tfNodes = topology.node as TfNode[];
  const byName = new Map(tfNodes.map((n) => [n.name, n]));
  const weights = decodeWeights(artifacts.weightSpecs as WeightSpec[], artifacts.weightData);

  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const made = new Set<string>();
  /** tf tensor name -> ONNX tensor name, for Identity nodes that are dropped. */
  const alias = new Map<string, string>();

  const constOf = (name: string, user: TfNode): Weight => {
    const w = weights.get(name);
    if (!w) throw unsupported(`node ${user.name} (${user.op}) reads ${name}, which is not a weight`, { node: user.name, op: user.op, input: name });
    return w;
  };
  const isConst = (name: string): boolean => byName.get(name)?.op === 'Const';
  const ref = (s: string): string => { const c = tensorName(s); return alias.get(c) ?? c; };
  const emit = (opType: string, inputs: string[], outputs: string[], attributes: OnnxAttribute[] = [], name = outputs[0]!): void => {
    nodes.push({ opType, inputs, outputs, name, attributes });
  };
  const initializer = (name: string, dims: number[], data: Float32Array): string => {
    initializers.push({ name, dims, data });
    return name;
  };
  /** Each derived initialiser is made once however many nodes share its weight. */
  const once = (name: string, make: () => Float32Array, dims: () => number[]): string => {
    if (!made.has(name)) { made.add(name); initializer(name, dims(), make()); }
    return name;
  };

  // A float Const operand of Add/Mul/Sub: a scalar, or [C] broadcasting over NHWC's last axis, i.e. [C,1,1] in NCHW.
  const broadcastConst = (name: string, user: TfNode): string => {
    const w = constOf(name, user);
    if (!(w.data instanceof Float32Array) || w.shape.length > 1) {
      throw unsupported(`node ${user.name} (${user.op}) has a constant operand ${name} of shape [${w.shape.join(',')}] that is not a float scalar or channel vector`, { node: user.name, op: user.op, input: name });
    }
    const data = w.data;
    return once(`${name}__onnx`, () => data, () => (w.shape.length === 0 ? [] : [w.shape[0]!, 1, 1]));
  };

  // tfjs HWIO ([kh,kw,C,mult] for depthwise) -> ONNX OIHW ([C*mult,1,kh,kw] for depthwise, used with group=C).
  const convWeight = (name: string, depthwise: boolean, user: TfNode): { name: string; kh: number; kw: number; ci: number } => {
    const w = constOf(name, user);
    const [kh, kw, ci, co] = w.shape;
    if (w.shape.length !== 4 || kh === undefined || kw === undefined || ci === undefined || co === undefined) {
      throw unsupported(`node ${user.name} (${user.op}) has a filter of shape [${w.shape.join(',')}]`, { node: user.name, op: user.op });
    }
    const src = w.data;
    const out = once(`${name}__oihw`, () => {
      const r = new Float32Array(src.length);
      for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
        const from = ((y * kw + x) * ci + i) * co + o;
        const to = depthwise ? ((i * co + o) * kh + y) * kw + x : ((o * ci + i) * kh + y) * kw + x;
        r[to] = src[from]!;
      }
      return r;
    }, () => (depthwise ? [ci * co, 1, kh, kw] : [co, ci, kh, kw]));
    return { name: out, kh, kw, ci };
  };

  const order = backboneOrder(byName, OUTPUTS.map((o) => o.tf));
  let placeholders = 0;
  for (const n of order) {
    const out = n.name;
    const ins = (n.input ?? []).filter((s) => !s.startsWith('^'));
    const input = (k: number): string => {
      const s = ins[k];
      if (s === undefined) throw unsupported(`node ${out} (${n.op}) lacks input ${k}`, { node: out, op: n.op });
      return tensorName(s);
    };
    switch (n.op) {
      case 'Const': break;
      case 'Placeholder':
        if (++placeholders > 1) throw unsupported(`node ${out} is a second graph input`, { node: out, op: n.op });
        emit('Transpose', ['images'], [out], [attr.ints('perm', [0, 3, 1, 2])]);
        break;
      case '_FusedConv2D': case 'Conv2D': case 'FusedDepthwiseConv2dNative': case 'DepthwiseConv2dNative': {
        const depthwise = n.op.includes('Depthwise');
        const fused = (n.attr?.['fused_ops']?.list?.s ?? []).map(decodeB64);
        const odd = fused.find((f) => f !== 'BiasAdd' && f !== 'Relu');
        if (odd !== undefined) throw unsupported(`node ${out} (${n.op}) fuses ${odd}`, { node: out, op: n.op, fused: odd });
        const format = decodeB64(n.attr?.['data_format']?.s);
        if (format !== '' && format !== 'NHWC') throw unsupported(`node ${out} (${n.op}) has data_format ${format}`, { node: out, op: n.op });
        if (intList(n, 'dilations').some((d) => d !== 1)) throw unsupported(`node ${out} (${n.op}) is dilated`, { node: out, op: n.op });
        const strides = intList(n, 'strides');
        const padding = decodeB64(n.attr?.['padding']?.s);
        const w = convWeight(input(1), depthwise, n);
        const attributes = [attr.ints('strides', [strides[1] ?? 1, strides[2] ?? 1]), attr.ints('kernel_shape', [w.kh, w.kw])];
        // tf SAME puts the odd padding pixel at the end, which is ONNX's SAME_UPPER.
        if (padding === 'SAME') attributes.push(attr.string('auto_pad', 'SAME_UPPER'));
        else if (padding !== 'VALID') throw unsupported(`node ${out} (${n.op}) has padding ${padding}`, { node: out, op: n.op });
        if (depthwise) attributes.push(attr.int('group', w.ci));
        const convInputs = [ref(input(0)), w.name];
        if (fused.includes('BiasAdd')) {
          const b = constOf(input(2), n);
          const data = b.data;
          if (!(data instanceof Float32Array)) throw unsupported(`node ${out} (${n.op}) has a non-float bias`, { node: out, op: n.op });
          convInputs.push(once(`${input(2)}__b`, () => data, () => [data.length]));
        }
        const relu = fused.includes('Relu');
        emit('Conv', convInputs, [relu ? `${out}__pre` : out], attributes, `${out}__conv`);
        if (relu) emit('Relu', [`${out}__pre`], [out]);
        break;
      }
      case 'Add': case 'Mul': case 'Sub': {
        // The hard-swish chain x*(1/6)*relu6(x+3) stays op by op: with ONNX HardSwish in its place wh was
        // measured ~2 away from tfjs, against ~5e-3 for the literal chain.
        const operand = (k: number): string => (isConst(input(k)) ? broadcastConst(input(k), n) : ref(input(k)));
        emit(n.op, [operand(0), operand(1)], [out]);
        break;
      }
      case 'Relu6':
        emit('Clip', [ref(input(0)), initializer(`${out}__min`, [], new Float32Array([0])), initializer(`${out}__max`, [], new Float32Array([6]))], [out]);
        break;
      case 'Relu': case 'Sigmoid':
        emit(n.op, [ref(input(0))], [out]);
        break;
      case 'Mean': {
        const axes = Array.from(constOf(input(1), n).data);
        if (axes.join() !== '1,2' || !n.attr?.['keep_dims']?.b) {
          throw unsupported(`node ${out} (Mean) reduces axes [${axes.join(',')}]${n.attr?.['keep_dims']?.b ? '' : ' without keep_dims'}; only the spatial mean with keep_dims translates`, { node: out, op: n.op });
        }
        emit('GlobalAveragePool', [ref(input(0))], [out]);
        break;
      }
      case 'ResizeBilinear': {
        if (n.attr?.['align_corners']?.b || n.attr?.['half_pixel_centers']?.b) {
          throw unsupported(`node ${out} (ResizeBilinear) uses align_corners or half_pixel_centers`, { node: out, op: n.op });
        }
        // tf's legacy bilinear (neither flag) samples at dst*in/out, which is ONNX's 'asymmetric'. The graph's size
        // constant is twice the input at every supported input size, so fixed scales keep H and W dynamic.
        emit('Resize', [ref(input(0)), '', initializer(`${out}__scales`, [4], new Float32Array([1, 1, 2, 2]))], [out],
          [attr.string('mode', 'linear'), attr.string('coordinate_transformation_mode', 'asymmetric')]);
        break;
      }
      case 'ConcatV2': {
        const axisName = tensorName(ins[ins.length - 1] ?? '');
        const axis = NCHW_AXIS[Number(constOf(axisName, n).data[0])];
        if (axis === undefined) throw unsupported(`node ${out} (ConcatV2) concatenates on an unknown axis`, { node: out, op: n.op });
        emit('Concat', ins.slice(0, -1).map(ref), [out], [attr.int('axis', axis)]);
        break;
      }
      case 'Identity':
        alias.set(out, ref(input(0)));
        break;
      default:
        throw unsupported(`node ${out} has op ${n.op}, which the ONNX converter does not translate`, { node: out, op: n.op });
    }
  }
  if (placeholders !== 1) throw unsupported('the backbone does not start at a graph input', {});
  for (const o of OUTPUTS) emit('Transpose', [ref(o.tf)], [o.onnx], [attr.ints('perm', [0, 2, 3, 1])]);

  return encodeModel({
    irVersion: 8,
    producerName: 'cvcore models/onnx-convert.ts',
    producerVersion: CONVERTER_VERSION,
    opsetImports: [{ domain: '', version: 13 }],
    graph: {
      name: 'centernet_backbone',
      nodes,
      initializers,
      inputs: [{ name: 'images', elemType: ONNX_FLOAT, shape: ['N', 'H', 'W', 3] }],
      outputs: OUTPUTS.map((o) => ({ name: o.onnx, elemType: ONNX_FLOAT, shape: ['N', 'h', 'w', o.channels] })),
    },
  });
}
