/**
 * Erasure of one person's data from the index: their records (with every index entry, the counts, the thumbnail,
 * plate crop and trajectory inside the record's value), their face entries and face vectors, and the crowd alarm
 * frames that show them. Retention's delete path does the record work (store.ts `#removeRecords`); this file
 * decides what an erasure touches and does the rest.
 *
 * Crowd alarm frames (`S\0`) name no track: a frame is a whole camera view at the alert's time, usually of many
 * people. A frame of an erased track's camera taken while the track was on camera keeps its place (the alert it
 * documents is about a crowd, not about this person) with the person's box filled with its mean colour. The box
 * is the track's trajectory at the frame's time (interpolated between the measured boxes, with a margin). A
 * frame where the box cannot be placed (a record kept before trajectories, or a frame more than
 * FRAME_BOX_TOLERANCE_MS outside the measured boxes) is deleted instead: keeping it would keep the person.
 */
import sharp from 'sharp';
import { IndexError } from '../common/errors.js';
import { isChained, redactEntry, type ChainedEntry } from './audit-chain.js';
import { SEP, SEP_END, alarmFrameExpiryKey, alarmFrameExpiryPrefix, alarmFrameKey, auditPrefix, padTime, prefixEnd, recordKey } from './keys.js';
import type { DataKeyring } from '../common/data-key.js';
import { decodeWithBytes, encodeWithBytes, openRecord, unpackTrajectory, type StoredRecord } from './record.js';
import { scanRange, type BatchOp, type RocksDb } from './rocks.js';
import type { TrajectoryPoint } from '../common/messages.js';
import type { Scope } from './types.js';

export const ERASURE_LIMITS = {
  /** Most track ids one erasure takes. */
  maxIds: 1000,
  /** Longest track id accepted. */
  maxIdLength: 512,
} as const;

/** A crowd frame this far (ms) beyond the first or last measured box of a track still gets that box. */
export const FRAME_BOX_TOLERANCE_MS = 1000;
/** The blanked box is the measured box grown by this fraction on each side (the box is the tracker's, not a mask). */
const BOX_MARGIN = 0.2;

export interface ErasureRequest {
  /** Track (record) ids; those missing or outside the scope are reported together as not found. */
  readonly ids: readonly string[];
  readonly scope: Scope;
  /** Read and report only; nothing changes. */
  readonly dryRun?: boolean;
  /** Also redact earlier audit entries whose results (or query id) name an erased track: see README "Erasure". */
  readonly redactAudit?: boolean;
  /** Cluster mode: the id the erasure is published under (the api's receipt id); a single node ignores it. */
  readonly erasureId?: string;
}

export interface ErasureResult {
  /** The ids erased (or, in a dry run, that would be). */
  readonly tracks: string[];
  /** Asked-for ids that are missing or outside the scope: the two are not told apart. */
  readonly notFound: string[];
  readonly faces: number;
  readonly thumbnails: number;
  readonly plateCrops: number;
  readonly trajectories: number;
  /** Crowd alarm frames that keep their place with the person's box blanked, and those deleted. */
  readonly alarmFrames: { readonly blanked: string[]; readonly deleted: string[] };
  /** Earlier audit entries redacted (redactAudit), or that would be. */
  readonly auditRedacted: number;
  /** Cluster mode only: the index replicas (node ids) that applied the erasure, and those that will when back. */
  readonly cluster?: { readonly applied: string[]; readonly pending: string[] };
  /** Cluster mode only: the erased records' messages deleted from the record log, and ids it no longer held. */
  readonly recordLog?: { readonly deleted: number; readonly notFound: string[] };
}

/** What erase needs from the store: its database and its one delete path, on the store's write chain. */
export interface ErasureAccess {
  readonly db: RocksDb;
  /** The data key ring: records' bytes and alarm frames are sealed (search-index/sealing.ts). */
  readonly ring: DataKeyring;
  removeRecords(ids: readonly string[]): Promise<StoredRecord[]>;
  write(ops: BatchOp[]): Promise<void>;
  scrubVectors(): Promise<void>;
}

function bad(field: string, why: string): IndexError {
  return new IndexError('INDEX_BAD_QUERY', `${field} ${why}`, { detail: { field } });
}

export function checkErasureRequest(r: ErasureRequest, checkScope: (s: Scope) => unknown): void {
  if (typeof r !== 'object' || r === null) throw new TypeError('request must be an object');
  checkScope(r.scope);
  if (!Array.isArray(r.ids) || r.ids.length === 0 || r.ids.length > ERASURE_LIMITS.maxIds) throw bad('trackIds', `must hold 1..${ERASURE_LIMITS.maxIds} ids`);
  for (const id of r.ids) {
    if (typeof id !== 'string' || id.length === 0 || id.length > ERASURE_LIMITS.maxIdLength || id.includes(SEP)) throw bad('trackIds', `must be non-empty strings of at most ${ERASURE_LIMITS.maxIdLength} characters without NUL`);
  }
}

interface Found {
  readonly record: StoredRecord;
  readonly trajectory: TrajectoryPoint[];
}

export async function eraseInIndex(a: ErasureAccess, r: ErasureRequest): Promise<ErasureResult> {
  const depts = r.scope === 'all' ? null : new Set(r.scope.departments);
  const ids = [...new Set(r.ids)];
  const bufs = await a.db.getMany(ids.map((id) => recordKey(id)));
  const found: Found[] = [];
  const notFound: string[] = [];
  bufs.forEach((b, i) => {
    const d = b ? openRecord(a.ring, recordKey(ids[i]!), b) : null;
    // Outside the scope is not found, exactly as a missing id: the answer must not say which it is.
    if (!d || (depts && !depts.has(d.record.department))) notFound.push(ids[i]!);
    else found.push({ record: d.record, trajectory: d.trajectory ? unpackTrajectory(d.trajectory, d.record.start) : [] });
  });
  const frames = await framesShowing(a.db, a.ring, found);
  const redact = r.redactAudit ? await auditEntriesNaming(a.db, new Set(found.map((f) => f.record.id))) : [];
  const result: ErasureResult = {
    tracks: found.map((f) => f.record.id),
    notFound,
    faces: found.filter((f) => f.record.faceSeq !== null).length,
    thumbnails: found.filter((f) => f.record.hasThumbnail).length,
    plateCrops: found.filter((f) => (f.record.plateCropLength ?? 0) > 0).length,
    trajectories: found.filter((f) => f.trajectory.length > 0).length,
    alarmFrames: { blanked: [...frames.values()].filter((f) => f.boxes !== null).map((f) => f.id), deleted: [...frames.values()].filter((f) => f.boxes === null).map((f) => f.id) },
    auditRedacted: redact.length,
  };
  if (r.dryRun || found.length === 0) return result;

  for (let i = 0; i < found.length; i += 512) await a.removeRecords(found.slice(i, i + 512).map((f) => f.record.id));
  const ops: BatchOp[] = [];
  for (const f of frames.values()) {
    if (f.boxes === null) {
      ops.push({ type: 'del', key: alarmFrameKey(f.id) }, { type: 'del', key: alarmFrameExpiryKey(f.head.at, f.id) });
    } else {
      const jpeg = await blankBoxes(f.jpeg, f.boxes);
      ops.push({ type: 'put', key: alarmFrameKey(f.id), value: encodeWithBytes(f.head, a.ring.seal(jpeg, alarmFrameKey(f.id))) });
    }
  }
  for (const [key, e] of redact) ops.push({ type: 'put', key, value: Buffer.from(JSON.stringify(redactEntry(e)), 'utf8') });
  if (ops.length > 0) await a.write(ops);
  await a.scrubVectors();
  return result;
}

interface Box { x: number; y: number; w: number; h: number; frameWidth: number | null; frameHeight: number | null }
interface FrameHit {
  readonly id: string;
  readonly head: { cameraId: string; department: string; at: number };
  readonly jpeg: Buffer;
  /** Boxes to blank; null: a box could not be placed, the frame goes. */
  boxes: Box[] | null;
}

/** Crowd alarm frames of the erased tracks' cameras taken while a track was on camera, with where it was. */
async function framesShowing(db: RocksDb, ring: DataKeyring, found: readonly Found[]): Promise<Map<string, FrameHit>> {
  const out = new Map<string, FrameHit>();
  for (const { record: s, trajectory } of found) {
    const ids: string[] = [];
    const from = alarmFrameExpiryPrefix + padTime(Math.max(0, s.start));
    await scanRange(db, { gte: from, lt: alarmFrameExpiryPrefix + padTime(s.end) + SEP_END, values: false }, (k) => {
      ids.push(k.slice(alarmFrameExpiryPrefix.length + padTime(0).length + SEP.length));
    });
    if (ids.length === 0) continue;
    const bufs = await db.getMany(ids.map((id) => alarmFrameKey(id)));
    bufs.forEach((b, i) => {
      if (!b) return;
      const { head, bytes } = decodeWithBytes<FrameHit['head']>(b);
      if (head.cameraId !== s.cameraId || head.department !== s.department) return;
      const id = ids[i]!;
      const hit = out.get(id) ?? { id, head, jpeg: ring.open(bytes, alarmFrameKey(id)), boxes: [] };
      out.set(id, hit);
      const p = boxAt(trajectory, head.at);
      if (p === null) hit.boxes = null;
      else if (hit.boxes !== null) hit.boxes.push({ ...p, frameWidth: s.frame?.width ?? null, frameHeight: s.frame?.height ?? null });
    });
  }
  return out;
}

/** The track's box at `t`: interpolated between measured boxes, or the nearest end within the tolerance. */
export function boxAt(points: readonly TrajectoryPoint[], t: number): { x: number; y: number; w: number; h: number } | null {
  if (points.length === 0) return null;
  const first = points[0]!;
  const last = points[points.length - 1]!;
  if (t <= first.t) return first.t - t <= FRAME_BOX_TOLERANCE_MS ? first : null;
  if (t >= last.t) return t - last.t <= FRAME_BOX_TOLERANCE_MS ? last : null;
  let i = 1;
  while (points[i]!.t < t) i++;
  const a = points[i - 1]!;
  const b = points[i]!;
  const f = b.t === a.t ? 0 : (t - a.t) / (b.t - a.t);
  const mix = (u: number, v: number): number => u + (v - u) * f;
  // Between two boxes far apart in time the person may be anywhere between them: cover both.
  if (b.t - a.t > 2 * FRAME_BOX_TOLERANCE_MS) {
    const x = Math.min(a.x, b.x);
    const y = Math.min(a.y, b.y);
    return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
  }
  return { x: mix(a.x, b.x), y: mix(a.y, b.y), w: mix(a.w, b.w), h: mix(a.h, b.h) };
}

/** The JPEG with each box (grown by BOX_MARGIN) filled with its own mean colour: nothing of the person is left. */
export async function blankBoxes(jpeg: Uint8Array, boxes: readonly Box[]): Promise<Buffer> {
  const meta = await sharp(jpeg).metadata();
  const W = meta.width ?? 0;
  const H = meta.height ?? 0;
  const overlays: NonNullable<Parameters<ReturnType<typeof sharp>['composite']>[0]> = [];
  for (const b of boxes) {
    const sx = b.frameWidth ? W / b.frameWidth : 1;
    const sy = b.frameHeight ? H / b.frameHeight : 1;
    const left = Math.max(0, Math.floor((b.x - b.w * BOX_MARGIN) * sx));
    const top = Math.max(0, Math.floor((b.y - b.h * BOX_MARGIN) * sy));
    const right = Math.min(W, Math.ceil((b.x + b.w * (1 + BOX_MARGIN)) * sx));
    const bottom = Math.min(H, Math.ceil((b.y + b.h * (1 + BOX_MARGIN)) * sy));
    if (right - left < 1 || bottom - top < 1) continue;
    const { data } = await sharp(jpeg).extract({ left, top, width: right - left, height: bottom - top }).removeAlpha().resize(1, 1, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    overlays.push({ input: { create: { width: right - left, height: bottom - top, channels: 3, background: { r: data[0]!, g: data[1]!, b: data[2]! } } }, left, top });
  }
  return sharp(jpeg).composite(overlays).jpeg({ quality: 85 }).toBuffer();
}

/** Chained audit entries whose results, or whose query's id, name one of `ids` (unchained ones cannot be redacted). */
async function auditEntriesNaming(db: RocksDb, ids: ReadonlySet<string>): Promise<Array<[string, ChainedEntry]>> {
  const out: Array<[string, ChainedEntry]> = [];
  if (ids.size === 0) return out;
  await scanRange(db, { gte: auditPrefix, lt: prefixEnd(auditPrefix) }, (k, v) => {
    const e = JSON.parse(v!.toString('utf8')) as ChainedEntry & { redacted?: boolean };
    if (e.redacted === true || !isChained(e)) return;
    const q = e.query as { id?: unknown } | null;
    const named = (Array.isArray(e.results) && e.results.some((id) => ids.has(id))) || (q !== null && typeof q === 'object' && typeof q.id === 'string' && ids.has(q.id));
    if (named) out.push([k, e]);
  });
  return out;
}
