/**
 * A minimal ONNX ModelProto encoder: just the messages and fields a converted tfjs graph needs (nodes with
 * int/float/string/ints/floats attributes, float32/int64 initialisers as raw_data, tensor value infos with
 * fixed or symbolic dims, opset imports). Written by hand so the set-up needs no protobuf package; the field
 * numbers are those of the public onnx/onnx.proto. Fields are written in field-number order and every
 * repeated field in the caller's order, so the same model always gives the same bytes (the set-up checks the
 * sha256 of the file).
 */

/** TensorProto.DataType values (onnx.proto); only those the converter emits. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

export type OnnxAttribute =
  | { readonly name: string; readonly kind: 'float'; readonly value: number }
  | { readonly name: string; readonly kind: 'int'; readonly value: number }
  | { readonly name: string; readonly kind: 'string'; readonly value: string }
  | { readonly name: string; readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly name: string; readonly kind: 'ints'; readonly value: readonly number[] };

export const attr = {
  float: (name: string, value: number): OnnxAttribute => ({ name, kind: 'float', value }),
  int: (name: string, value: number): OnnxAttribute => ({ name, kind: 'int', value }),
  string: (name: string, value: string): OnnxAttribute => ({ name, kind: 'string', value }),
  floats: (name: string, value: readonly number[]): OnnxAttribute => ({ name, kind: 'floats', value }),
  ints: (name: string, value: readonly number[]): OnnxAttribute => ({ name, kind: 'ints', value }),
};

export interface OnnxNode {
  readonly opType: string;
  /** An empty string stands for an omitted optional input (ONNX's convention, e.g. Resize's roi). */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name: string;
  readonly attributes?: readonly OnnxAttribute[];
  /** Absent or '': the default ai.onnx domain. */
  readonly domain?: string;
}

/** An initialiser; the element type follows from the array type. */
export interface OnnxTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

/** A number is a fixed dim, a string a symbolic one (dim_param) that the runtime binds per run. */
export type OnnxDim = number | string;
export interface OnnxValueInfo { readonly name: string; readonly elemType: number; readonly shape: readonly OnnxDim[] }

export interface OnnxGraph {
  readonly name: string;
  /** Must already be in topological order: ONNX requires it and nothing here sorts. */
  readonly nodes: readonly OnnxNode[];
  readonly initializers: readonly OnnxTensor[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  readonly irVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly opsetImports: readonly { readonly domain: string; readonly version: number }[];
  readonly graph: OnnxGraph;
}

// Protobuf wire types.
const VARINT = 0;
const LEN = 2;
const FIXED32 = 5;

const utf8 = new TextEncoder();

/** A growable byte buffer with the few protobuf primitives the messages below use. */
class ProtoSink {
  private buf = new Uint8Array(1024);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** int64/int32 fields: negatives are sign-extended to 64 bits (ten bytes), as protobuf requires. */
  varint(value: number | bigint): void {
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new RangeError(`varint: ${value} is not a safe integer`);
      if (value >= 0 && value < 2 ** 31) {
        this.reserve(5);
        let v = value;
        while (v > 0x7f) { this.buf[this.len++] = (v & 0x7f) | 0x80; v >>>= 7; }
        this.buf[this.len++] = v;
        return;
      }
      value = BigInt(value);
    }
    let v = BigInt.asUintN(64, value);
    this.reserve(10);
    while (v > 0x7fn) { this.buf[this.len++] = Number(v & 0x7fn) | 0x80; v >>= 7n; }
    this.buf[this.len++] = Number(v);
  }

  tag(field: number, wire: number): void { this.varint(field * 8 + wire); }

  int(field: number, value: number): void { this.tag(field, VARINT); this.varint(value); }

  float(field: number, value: number): void {
    this.tag(field, FIXED32);
    this.reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
    this.len += 4;
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, LEN);
    this.varint(value.length);
    this.raw(value);
  }

  string(field: number, value: string): void { this.bytes(field, utf8.encode(value)); }

  /** Packed encoding: smaller than one tag per element, and every protobuf parser accepts it for scalars. */
  packedInts(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    const inner = new ProtoSink();
    for (const v of values) inner.varint(v);
    this.bytes(field, inner.finish());
  }

  packedFloats(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    this.bytes(field, littleEndianFloat32(values));
  }

  finish(): Uint8Array { return this.buf.slice(0, this.len); }
}

/** Explicit little-endian so the bytes do not depend on the host's byte order. */
function littleEndianFloat32(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

function littleEndianInt64(values: BigInt64Array): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, values[i]!, true);
  return out;
}

// AttributeProto.AttributeType values.
const ATTR_TYPE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

function encodeAttribute(a: OnnxAttribute): Uint8Array {
  const s = new ProtoSink();
  s.string(1, a.name);
  switch (a.kind) {
    case 'float': s.float(2, a.value); break;
    case 'int': s.int(3, a.value); break;
    case 'string': s.string(4, a.value); break;
    case 'floats': s.packedFloats(7, a.value); break;
    case 'ints': s.packedInts(8, a.value); break;
  }
  // The type field lets a reader tell an empty list from an absent attribute, so it is always written.
  s.int(20, ATTR_TYPE[a.kind]);
  return s.finish();
}

function encodeNode(n: OnnxNode): Uint8Array {
  const s = new ProtoSink();
  for (const i of n.inputs) s.string(1, i);
  for (const o of n.outputs) s.string(2, o);
  s.string(3, n.name);
  s.string(4, n.opType);
  for (const a of n.attributes ?? []) s.bytes(5, encodeAttribute(a));
  if (n.domain) s.string(7, n.domain);
  return s.finish();
}

function encodeTensor(t: OnnxTensor): Uint8Array {
  const count = t.dims.reduce((p, d) => p * d, 1);
  if (count !== t.data.length) throw new RangeError(`tensor ${t.name}: dims [${t.dims.join(',')}] hold ${count} values, data has ${t.data.length}`);
  const s = new ProtoSink();
  s.packedInts(1, t.dims);
  s.int(2, t.data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64);
  s.string(8, t.name);
  s.bytes(9, t.data instanceof Float32Array ? littleEndianFloat32(t.data) : littleEndianInt64(t.data));
  return s.finish();
}

function encodeValueInfo(v: OnnxValueInfo): Uint8Array {
  const shape = new ProtoSink();
  for (const d of v.shape) {
    const dim = new ProtoSink();
    if (typeof d === 'number') dim.int(1, d); else dim.string(2, d);
    shape.bytes(1, dim.finish());
  }
  const tensorType = new ProtoSink();
  tensorType.int(1, v.elemType);
  tensorType.bytes(2, shape.finish());
  const type = new ProtoSink();
  type.bytes(1, tensorType.finish());
  const s = new ProtoSink();
  s.string(1, v.name);
  s.bytes(2, type.finish());
  return s.finish();
}

function encodeGraph(g: OnnxGraph): Uint8Array {
  const s = new ProtoSink();
  for (const n of g.nodes) s.bytes(1, encodeNode(n));
  s.string(2, g.name);
  for (const t of g.initializers) s.bytes(5, encodeTensor(t));
  for (const v of g.inputs) s.bytes(11, encodeValueInfo(v));
  for (const v of g.outputs) s.bytes(12, encodeValueInfo(v));
  return s.finish();
}

/** Serialises a model to the bytes of an .onnx file. */
export function encodeModel(m: OnnxModel): Uint8Array {
  const s = new ProtoSink();
  s.int(1, m.irVersion);
  s.string(2, m.producerName);
  s.string(3, m.producerVersion);
  s.bytes(7, encodeGraph(m.graph));
  for (const o of m.opsetImports) {
    const op = new ProtoSink();
    op.string(1, o.domain);
    op.int(2, o.version);
    s.bytes(8, op.finish());
  }
  return s.finish();
}
