/**
 * A TrackRecord as one binary NATS payload, and back. Takes a TrackRecord (from the tracker, or a search
 * answer's `get`); gives bytes laid out as:
 *
 *   'CVR' 0x01 | u32 LE head length | head JSON | thumbnail bytes | embedding bytes (Float32, little-endian)
 *   | plate crop bytes
 *
 * The head holds every field but the byte fields, plus `t` (thumbnail bytes, -1: none), `e` (embedding
 * floats, -1: none) and `p` (plate crop bytes; absent or -1: none, so payloads of nodes that predate plate
 * crops still decode, and theirs stay readable to them only when they carry no crop), so the lengths add up exactly: a payload whose parts do not is refused. Decoding checks the
 * shape a TrackRecord needs (types, not the index's key rules: those stay the index's INDEX_BAD_RECORD) and
 * throws ClusterError CLUSTER_BAD_MESSAGE otherwise. The trajectory travels in the head as `j` (base64 of the
 * index's packed form, 12 bytes a box) with the analysis frame size `f`: a node that predates trajectories ignores
 * both, and a payload without them decodes without a trajectory (the API shows an empty one), so old and new nodes
 * read each other's records. A record with its 1024-float embedding (4 KiB) and a
 * best-shot JPEG (tens of KiB) stays well under the 1 MB NATS payload.
 */
import { ClusterError } from '../common/errors.js';
import { OBJECT_CLASSES, type ObjectClass, type TrackRecord } from '../common/messages.js';
import { MAX_TRAJECTORY_POINTS, TRAJECTORY_POINT_BYTES, embeddingBytes, embeddingFromBytes, packTrajectory, unpackTrajectory } from '../search-index/index.js';

const MAGIC = Buffer.from([0x43, 0x56, 0x52, 0x01]);
const HEAD_AT = MAGIC.length + 4;
/** A head longer than this is not a record (attributes are a handful of short strings). */
const MAX_HEAD = 64 * 1024;

interface Head {
  id: string;
  cameraId: string;
  department: string;
  district: string;
  cls: ObjectClass;
  start: number;
  end: number;
  hits: number;
  score: number;
  box: { x: number; y: number; w: number; h: number };
  attributes: Record<string, string | number>;
  /** Thumbnail bytes; -1: none. */
  t: number;
  /** Embedding floats; -1: none. */
  e: number;
  /** Plate crop bytes; absent or -1: none. */
  p?: number;
  /** The trajectory, packed (search-index packTrajectory) and base64; absent: none. */
  j?: string;
  /** The analysis frame's size (the space of box and trajectory); absent: unknown. */
  f?: { width: number; height: number };
}

function bad(why: string, detail: Record<string, unknown> = {}): ClusterError {
  return new ClusterError('CLUSTER_BAD_MESSAGE', `not a record payload: ${why}`, { detail });
}

export function encodeRecord(r: TrackRecord): Uint8Array {
  const head: Head = {
    id: r.id, cameraId: r.cameraId, department: r.department, district: r.district, cls: r.cls,
    start: r.start, end: r.end, hits: r.hits, score: r.score,
    box: { x: r.box.x, y: r.box.y, w: r.box.w, h: r.box.h },
    attributes: { ...r.attributes },
    t: r.thumbnail ? r.thumbnail.byteLength : -1,
    e: r.embedding ? r.embedding.length : -1,
    ...(r.plateCrop ? { p: r.plateCrop.byteLength } : {}),
    ...(r.trajectory && r.trajectory.length > 0 ? { j: packTrajectory(r.trajectory, r.start).toString('base64') } : {}),
    ...(r.frame ? { f: { width: r.frame.width, height: r.frame.height } } : {}),
  };
  const json = Buffer.from(JSON.stringify(head), 'utf8');
  const thumb = r.thumbnail ?? new Uint8Array(0);
  const emb = r.embedding ? embeddingBytes(r.embedding) : Buffer.alloc(0);
  const crop = r.plateCrop ?? new Uint8Array(0);
  const out = Buffer.allocUnsafe(HEAD_AT + json.length + thumb.byteLength + emb.byteLength + crop.byteLength);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(json.length, MAGIC.length);
  json.copy(out, HEAD_AT);
  out.set(thumb, HEAD_AT + json.length);
  out.set(emb, HEAD_AT + json.length + thumb.byteLength);
  out.set(crop, HEAD_AT + json.length + thumb.byteLength + emb.byteLength);
  return out;
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isLen = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= -1;

export function decodeRecord(payload: Uint8Array): TrackRecord {
  if (!(payload instanceof Uint8Array)) throw bad('not bytes');
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (b.length < HEAD_AT || !b.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('wrong magic or version', { bytes: b.length });
  const n = b.readUInt32LE(MAGIC.length);
  if (n > MAX_HEAD || HEAD_AT + n > b.length) throw bad('head length out of range', { head: n, bytes: b.length });
  let h: Partial<Head>;
  try {
    const v: unknown = JSON.parse(b.toString('utf8', HEAD_AT, HEAD_AT + n));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('head is not an object');
    h = v as Partial<Head>;
  } catch (err) {
    throw bad(`head is not JSON (${(err as Error).message})`);
  }
  const id = h.id;
  for (const f of ['id', 'cameraId', 'department', 'district'] as const) if (!isStr(h[f])) throw bad(`${f} must be a string`, { field: f, id });
  if (!(OBJECT_CLASSES as readonly unknown[]).includes(h.cls)) throw bad('cls is not a known class', { field: 'cls', id });
  for (const f of ['start', 'end', 'hits', 'score'] as const) if (!isNum(h[f])) throw bad(`${f} must be a number`, { field: f, id });
  const box = h.box;
  if (typeof box !== 'object' || box === null || ![box.x, box.y, box.w, box.h].every(isNum)) throw bad('box must hold x, y, w, h', { field: 'box', id });
  const attrs = h.attributes;
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs) || !Object.values(attrs).every((v) => isStr(v) || isNum(v))) {
    throw bad('attributes must map names to strings or numbers', { field: 'attributes', id });
  }
  if (!isLen(h.t) || !isLen(h.e) || (h.p !== undefined && !isLen(h.p))) throw bad('byte lengths missing', { id });
  const tLen = Math.max(0, h.t);
  const eBytes = Math.max(0, h.e) * 4;
  const pLen = Math.max(0, h.p ?? -1);
  if (HEAD_AT + n + tLen + eBytes + pLen !== b.length) throw bad('byte lengths do not add up', { id, bytes: b.length, thumbnail: h.t, embedding: h.e, plateCrop: h.p });
  let trajectory: TrackRecord['trajectory'] | null = null;
  if (h.j !== undefined) {
    const packed = typeof h.j === 'string' ? Buffer.from(h.j, 'base64') : null;
    if (!packed || packed.length % TRAJECTORY_POINT_BYTES !== 0 || packed.length / TRAJECTORY_POINT_BYTES > MAX_TRAJECTORY_POINTS) throw bad('trajectory is not packed boxes', { field: 'j', id });
    trajectory = unpackTrajectory(packed, h.start!);
  }
  const f = h.f;
  if (f !== undefined && (typeof f !== 'object' || f === null || ![f.width, f.height].every((v) => Number.isInteger(v) && v > 0))) throw bad('frame must hold width and height', { field: 'f', id });
  const at = HEAD_AT + n;
  return {
    id: h.id!, cameraId: h.cameraId!, department: h.department!, district: h.district!, cls: h.cls!,
    start: h.start!, end: h.end!, hits: h.hits!, score: h.score!,
    box: { x: box.x, y: box.y, w: box.w, h: box.h },
    attributes: { ...attrs },
    // Copies: the NATS payload's buffer is reused by the client once the message is handled.
    thumbnail: h.t >= 0 ? new Uint8Array(b.subarray(at, at + tLen)) : null,
    embedding: h.e >= 0 ? embeddingFromBytes(b.subarray(at + tLen, at + tLen + eBytes)) : null,
    plateCrop: h.p !== undefined && h.p >= 0 ? new Uint8Array(b.subarray(at + tLen + eBytes, at + tLen + eBytes + pLen)) : null,
    // A payload without them (a node that predates trajectories, or a track without boxes) decodes without either.
    ...(trajectory ? { trajectory } : {}),
    ...(f ? { frame: { width: f.width, height: f.height } } : {}),
  };
}
