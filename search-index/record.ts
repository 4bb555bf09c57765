/**
 * How one TrackRecord becomes RocksDB entries: the stored summary, the index entries that point at it and
 * the digest each index entry carries. The digest lets the planner filter on every predicate (department,
 * camera, class, attributes, time) while scanning one index, without loading records it will drop.
 */
import { OBJECT_CLASSES, type ObjectClass, type TrackRecord, type TrajectoryPoint } from '../common/messages.js';
import { IndexError } from '../common/errors.js';
import { canonicalPlate } from '../common/plates.js';
import type { DataKeyring } from '../common/data-key.js';
import {
  MAX_TIME, SEP, attributePrefix, cameraPrefix, classPrefix, expiryKey, faceKey, orderSuffix, plateBase, recordKey, reversePlate,
  type ExpiryKind,
} from './keys.js';
import { ATTRIBUTE_NAMES, type AttributeName, type TrackRecordSummary } from './types.js';

/**
 * The summary as stored: the public summary plus the face's vector key, the plate crop's length (its bytes end
 * the value) and which key set the record was written with.
 */
export interface StoredRecord extends Omit<TrackRecordSummary, 'hasPlateCrop' | 'plateMatch' | 'order'> {
  readonly faceSeq: number | null;
  /** Records written before plate search lack it (and have no plate crop). */
  readonly hasPlateCrop?: boolean;
  /** Bytes of the plate crop at the end of the value; absent: none. */
  readonly plateCropLength?: number;
  /**
   * 2: written with plate keys and the plateColour/upperColour/lowerColour entries. Absent: written before, with
   * entries for the first four attributes only, so a delete removes exactly those (and the counts stay right).
   */
  readonly keys?: 2;
  /**
   * Bytes of the packed trajectory at the very end of the value (after the plate crop), TRAJECTORY_POINT_BYTES a
   * box; absent: none (records written before trajectories read with an empty one).
   */
  readonly trajectoryLength?: number;
}

/** Attributes indexed by records written before plate search (StoredRecord.keys absent). */
const KEYS_1_ATTRIBUTES: readonly AttributeName[] = ['colour', 'vehicleType', 'gender', 'ageBand'];

/**
 * [department, cameraId, cls, start, ...the ATTRIBUTE_NAMES values in order]; null where the attribute is
 * absent. Digests written before an attribute was added end earlier: a missing position reads as absent.
 */
export type Digest = readonly [string, string, ObjectClass, number, ...Array<string | null>];
/** Position of an attribute's value in a digest. */
export const DIGEST_ATTRIBUTE_AT = 4;
/** [id, department, cameraId, start]: what a face vector entry carries for filtering. */
export type FaceDigest = readonly [string, string, string, number];

/**
 * Which faces a face search may return, in a form that crosses to the face graph's thread: departments
 * (null: every one), cameras (null: every one) and the start-time window.
 */
export interface FaceFilter {
  readonly departments: readonly string[] | null;
  readonly cameras: readonly string[] | null;
  readonly from: number;
  readonly to: number;
}

export function facePass(f: FaceFilter): (fd: FaceDigest) => boolean {
  const depts = f.departments ? new Set(f.departments) : null;
  const cams = f.cameras ? new Set(f.cameras) : null;
  return (fd) => (!depts || depts.has(fd[1])) && (!cams || cams.has(fd[2])) && fd[3] >= f.from && fd[3] <= f.to;
}

// One scratch row for scoreFace: a face entry's bytes sit at any offset, so they are copied to be read as floats,
// and a row allocated per candidate would be garbage the caller's thread collects on every search.
let scratch = new Float32Array(0);
let scratchBytes = new Uint8Array(0);

/**
 * A face entry's record id and exact similarity to the unit query `q`, or null when its digest fails the filter
 * (or its embedding is not `q.length` floats). `value` is the opened entry (openFace's input, decrypted).
 */
export function scoreFace(q: Float32Array, value: Buffer, pass: (fd: FaceDigest) => boolean): [string, number] | null {
  const { head, bytes } = decodeWithBytes<FaceDigest>(value);
  if (!pass(head) || bytes.byteLength !== q.length * 4) return null;
  if (scratch.length < q.length) {
    scratch = new Float32Array(q.length);
    scratchBytes = new Uint8Array(scratch.buffer);
  }
  scratchBytes.set(bytes);
  let sim = 0;
  for (let i = 0; i < q.length; i++) sim += q[i]! * scratch[i]!;
  return [head[0], sim];
}

export function digestOf(r: StoredRecord): Digest {
  const a = (name: string): string | null => {
    const v = r.attributes[name];
    return typeof v === 'string' ? v : null;
  };
  const d: Array<string | number | null> = [r.department, r.cameraId, r.cls, r.start, ...ATTRIBUTE_NAMES.map(a)];
  // Absent attributes at the end are left off (a missing position reads as absent): a vehicle's digest, in each
  // of its entries, would otherwise end in up to five nulls.
  while (d.length > DIGEST_ATTRIBUTE_AT && d[d.length - 1] === null) d.pop();
  return d as unknown as Digest;
}

/**
 * The value of an attribute that gets no entry of its own because most records that have the attribute share it:
 * an entry for it would cost nearly every vehicle an entry and narrow a scan by little. Queries for it read the
 * class ranges (the time index) and filter on the digest, which carries the value. `blue` is about nine plates
 * in ten on mainland roads.
 */
export const UNINDEXED_VALUES: Readonly<Partial<Record<AttributeName, string>>> = { plateColour: 'blue' };

/** Longest plate reading that gets plate keys (a raw OCR reading can be long garbage). */
const MAX_INDEXED_PLATE = 16;

/**
 * The plate a record is found by: its canonical plate, else its raw reading in canonical form (a reading that
 * fits no format is still found by exact and wildcard searches). Null: no plate keys.
 */
export function indexedPlate(r: { readonly attributes: Readonly<Record<string, string | number>> }): string | null {
  const p = r.attributes['plate'];
  const raw = r.attributes['plateRaw'];
  const v = typeof p === 'string' && p.length > 0 ? p : typeof raw === 'string' ? canonicalPlate(raw) : '';
  if (v.length === 0 || v.includes(SEP) || [...v].length > MAX_INDEXED_PLATE) return null;
  return v;
}

/** The plate keys of a record (forward and reversed), without the counts' bookkeeping of indexPrefixes. */
export function plateKeys(r: StoredRecord): string[] {
  if (r.keys !== 2) return [];
  const plate = indexedPlate(r);
  if (plate === null) return [];
  const suffix = SEP + orderSuffix(r.start, r.id);
  return [plateBase(r.department, false) + plate + suffix, plateBase(r.department, true) + reversePlate(plate) + suffix];
}

/**
 * Every secondary-index prefix the record appears under (also the keys of the planner's counts). Class ranges
 * partition a department's records, so they double as its time index (a time-only query merges them), and a
 * vehicleType equal to the class (what the pipeline produces) is found through the class range: neither
 * needs an entry of its own, which saves two of the seven entries a vehicle would otherwise cost.
 */
export function indexPrefixes(r: StoredRecord): string[] {
  const out = [cameraPrefix(r.department, r.cameraId), classPrefix(r.department, r.cls)];
  for (const name of r.keys === 2 ? ATTRIBUTE_NAMES : KEYS_1_ATTRIBUTES) {
    const v = r.attributes[name];
    if (typeof v === 'string' && !(name === 'vehicleType' && v === r.cls) && UNINDEXED_VALUES[name] !== v) out.push(attributePrefix(r.department, name, v));
  }
  return out;
}

export function expiryKindOf(r: StoredRecord): ExpiryKind {
  return r.hasFace ? 'f' : 't';
}

/** Keys written for a record, so a delete removes exactly what the put wrote. */
export function ownedKeys(r: StoredRecord): string[] {
  const suffix = orderSuffix(r.start, r.id);
  const keys = indexPrefixes(r).map((p) => p + suffix);
  keys.push(...plateKeys(r));
  keys.push(recordKey(r.id), expiryKey(expiryKindOf(r), r.end, r.id));
  if (r.faceSeq !== null) keys.push(faceKey(r.faceSeq));
  return keys;
}

export function encodeJson(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

export function decodeJson<T>(b: Buffer): T {
  return JSON.parse(b.toString('utf8')) as T;
}

/**
 * Values that carry bytes after a JSON head: u32 LE length of the JSON, the JSON, then the bytes. A record's
 * value carries its best-shot JPEG and a face entry its embedding, so one read gets both and a record costs
 * two fewer keys to write than with separate thumbnail and embedding entries.
 */
export function encodeWithBytes(head: unknown, bytes: Uint8Array | null): Buffer {
  const json = Buffer.from(JSON.stringify(head), 'utf8');
  const out = Buffer.allocUnsafe(4 + json.length + (bytes ? bytes.byteLength : 0));
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  if (bytes) out.set(bytes, 4 + json.length);
  return out;
}

export function decodeWithBytes<T>(b: Buffer): { head: T; bytes: Buffer } {
  const n = b.readUInt32LE(0);
  return { head: JSON.parse(b.toString('utf8', 4, 4 + n)) as T, bytes: b.subarray(4 + n) };
}

/**
 * A stored record's value in layout 3: the summary in clear (queries page over it), then, sealed with the data
 * key (aad: the record's RocksDB key), its thumbnail's bytes, its plate crop's (plateCropLength) and its packed
 * trajectory (trajectoryLength). A record without any of the three has no sealed part.
 */
export function sealRecord(ring: DataKeyring, key: string, s: StoredRecord, thumbnail: Uint8Array | null, plateCrop: Uint8Array | null, trajectory: Uint8Array | null = null): Buffer {
  const parts = [thumbnail, plateCrop, trajectory].filter((p): p is Uint8Array => p !== null && p.byteLength > 0);
  if (parts.length === 0) return encodeWithBytes(s, null);
  return encodeWithBytes(s, ring.seal(parts.length === 1 ? parts[0]! : Buffer.concat(parts), key));
}

/** The summary of a stored record, without opening its sealed bytes (queries, sweeps, replacements). */
export function decodeRecordHead(b: Buffer): StoredRecord {
  return decodeWithBytes<StoredRecord>(b).head;
}

/** A stored record's value opened: the summary, its thumbnail, its plate crop and its packed trajectory (null: none). */
export function openRecord(ring: DataKeyring, key: string, b: Buffer): { record: StoredRecord; thumbnail: Buffer | null; plateCrop: Buffer | null; trajectory: Buffer | null } {
  const { head, bytes: sealed } = decodeWithBytes<StoredRecord>(b);
  const bytes = sealed.length > 0 ? ring.open(sealed, key) : sealed;
  const j = head.trajectoryLength ?? 0;
  const n = head.plateCropLength ?? 0;
  const trajectoryAt = bytes.length - j;
  const cut = trajectoryAt - n;
  return {
    record: head,
    thumbnail: head.hasThumbnail ? bytes.subarray(0, cut) : null,
    plateCrop: n > 0 ? bytes.subarray(cut, trajectoryAt) : null,
    trajectory: j > 0 ? bytes.subarray(trajectoryAt) : null,
  };
}

/** A face entry's value in layout 3: `[id, department, camera, start]` and the unit embedding, all sealed (aad: its key). */
export function sealFace(ring: DataKeyring, key: string | Uint8Array, fd: FaceDigest, embedding: Uint8Array): Buffer {
  return ring.seal(encodeWithBytes(fd, embedding), key);
}

export function openFace(ring: DataKeyring, key: string | Uint8Array, value: Buffer): { head: FaceDigest; bytes: Buffer } {
  return decodeWithBytes<FaceDigest>(ring.open(value, key));
}

/** Bytes a trajectory box takes in a stored record: i32 ms since the box before (the first: since start), i16 x, i16 y, u16 w, u16 h. */
export const TRAJECTORY_POINT_BYTES = 12;
/** Most boxes a record's trajectory may hold (the tracker keeps at most 600). */
export const MAX_TRAJECTORY_POINTS = 4096;

const clampInt = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, Math.round(v)));

/**
 * A trajectory in TRAJECTORY_POINT_BYTES a box, little-endian, times as steps from `start`: 600 boxes take 7 kB,
 * a ten-second track 250 bytes. Boxes are kept to the whole pixel (the overlay's tolerance is far coarser).
 */
export function packTrajectory(points: readonly TrajectoryPoint[], start: number): Buffer {
  const out = Buffer.allocUnsafe(points.length * TRAJECTORY_POINT_BYTES);
  let prev = start;
  points.forEach((p, i) => {
    const o = i * TRAJECTORY_POINT_BYTES;
    const t = Math.round(p.t);
    out.writeInt32LE(clampInt(t - prev, -0x80000000, 0x7fffffff), o);
    out.writeInt16LE(clampInt(p.x, -0x8000, 0x7fff), o + 4);
    out.writeInt16LE(clampInt(p.y, -0x8000, 0x7fff), o + 6);
    out.writeUInt16LE(clampInt(p.w, 0, 0xffff), o + 8);
    out.writeUInt16LE(clampInt(p.h, 0, 0xffff), o + 10);
    prev = t;
  });
  return out;
}

export function unpackTrajectory(b: Uint8Array, start: number): TrajectoryPoint[] {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const n = Math.floor(buf.length / TRAJECTORY_POINT_BYTES);
  const out: TrajectoryPoint[] = [];
  let t = start;
  for (let i = 0; i < n; i++) {
    const o = i * TRAJECTORY_POINT_BYTES;
    t += buf.readInt32LE(o);
    out.push({ t, x: buf.readInt16LE(o + 4), y: buf.readInt16LE(o + 6), w: buf.readUInt16LE(o + 8), h: buf.readUInt16LE(o + 10) });
  }
  return out;
}

export function toSummary(r: StoredRecord): TrackRecordSummary {
  const { faceSeq: _seq, plateCropLength: _len, keys: _keys, trajectoryLength: _j, ...summary } = r;
  void _seq; void _len; void _keys; void _j;
  return { ...summary, hasPlateCrop: r.hasPlateCrop ?? false };
}

function badRecord(field: string, why: string, id: unknown): IndexError {
  return new IndexError('INDEX_BAD_RECORD', `record.${field} ${why}`, { detail: { field, id } });
}

function checkKeyPart(v: unknown, field: string, id: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.includes(SEP)) throw badRecord(field, 'must be a non-empty string without NUL', id);
  return v;
}

function checkTime(v: unknown, field: string, id: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TIME) throw badRecord(field, `must be an integer time in 0..${MAX_TIME}`, id);
  return v;
}

/** Checks what the key layout relies on; the pipeline's data is trusted otherwise. */
export function validateRecord(r: TrackRecord, dimensions: number): void {
  const id = r.id;
  checkKeyPart(r.id, 'id', id);
  checkKeyPart(r.cameraId, 'cameraId', id);
  checkKeyPart(r.department, 'department', id);
  if (typeof r.district !== 'string') throw badRecord('district', 'must be a string', id);
  if (!(OBJECT_CLASSES as readonly string[]).includes(r.cls)) throw badRecord('cls', `must be one of ${OBJECT_CLASSES.join(', ')}`, id);
  checkTime(r.start, 'start', id);
  checkTime(r.end, 'end', id);
  if (r.end < r.start) throw badRecord('end', 'must not be before start', id);
  for (const name of ATTRIBUTE_NAMES) {
    const v = r.attributes[name];
    if (v !== undefined && (typeof v !== 'string' || v.includes(SEP) || v.length === 0)) {
      throw badRecord(`attributes.${name}`, 'must be a non-empty string without NUL', id);
    }
  }
  for (const name of ['plate', 'plateRaw'] as const) {
    const v = r.attributes[name];
    if (v !== undefined && (typeof v !== 'string' || v.includes(SEP))) throw badRecord(`attributes.${name}`, 'must be a string without NUL', id);
  }
  if (r.thumbnail !== null && !(r.thumbnail instanceof Uint8Array)) throw badRecord('thumbnail', 'must be a Uint8Array or null', id);
  if (r.plateCrop !== undefined && r.plateCrop !== null && !(r.plateCrop instanceof Uint8Array)) throw badRecord('plateCrop', 'must be a Uint8Array, null or absent', id);
  if (r.trajectory !== undefined) {
    const tr = r.trajectory;
    if (!Array.isArray(tr) || tr.length > MAX_TRAJECTORY_POINTS) throw badRecord('trajectory', `must be an array of at most ${MAX_TRAJECTORY_POINTS} boxes`, id);
    for (const p of tr as readonly TrajectoryPoint[]) {
      if (typeof p !== 'object' || p === null || ![p.t, p.x, p.y, p.w, p.h].every((v) => typeof v === 'number' && Number.isFinite(v))) {
        throw badRecord('trajectory', 'boxes must be { t, x, y, w, h } of finite numbers', id);
      }
    }
  }
  if (r.frame !== undefined) {
    const f = r.frame;
    if (typeof f !== 'object' || f === null || ![f.width, f.height].every((v) => Number.isInteger(v) && v > 0 && v <= 0xffff)) {
      throw badRecord('frame', 'must be { width, height } of positive integers', id);
    }
  }
  if (r.embedding !== null) {
    if (!(r.embedding instanceof Float32Array) || r.embedding.length !== dimensions) {
      throw badRecord('embedding', `must be a Float32Array of length ${dimensions} or null`, id);
    }
  }
}

export function toStored(r: TrackRecord, faceSeq: number | null): StoredRecord {
  const points = r.trajectory?.length ?? 0;
  return {
    id: r.id,
    cameraId: r.cameraId,
    department: r.department,
    district: r.district,
    cls: r.cls,
    start: r.start,
    end: r.end,
    hits: r.hits,
    score: r.score,
    box: { x: r.box.x, y: r.box.y, w: r.box.w, h: r.box.h },
    attributes: { ...r.attributes },
    hasThumbnail: r.thumbnail !== null,
    hasFace: r.embedding !== null,
    hasPlateCrop: !!r.plateCrop && r.plateCrop.byteLength > 0,
    ...(r.plateCrop && r.plateCrop.byteLength > 0 ? { plateCropLength: r.plateCrop.byteLength } : {}),
    faceSeq,
    keys: 2,
    ...(r.frame ? { frame: { width: r.frame.width, height: r.frame.height } } : {}),
    ...(points > 0 ? { trajectoryLength: points * TRAJECTORY_POINT_BYTES } : {}),
  };
}

/** Unit length, so inner product is cosine similarity; a zero vector stays zero. */
export function normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.sqrt(s);
  const out = new Float32Array(v.length);
  if (n > 0) for (let i = 0; i < v.length; i++) out[i] = v[i]! / n;
  return out;
}

export function embeddingBytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function embeddingFromBytes(b: Buffer): Float32Array {
  // Copy: the Buffer may sit at an offset that is not a multiple of 4 inside a pooled slab.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
