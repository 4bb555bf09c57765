/**
 * Key layout. Keys are UTF-8 strings whose parts are joined by NUL, so RocksDB's bytewise order is the order
 * we want: fixed-width decimal times sort like numbers, and NUL sorts below every other character, so a
 * prefix range `P\0` .. `P\x01` holds exactly the entries of P. Ids, cameras, departments and attribute values
 * may therefore not contain NUL (put() rejects them).
 *
 * Secondary index entries end in `<inv start>\0<id>` where inv start = MAX_TIME - start: a forward scan yields
 * start time descending, then id ascending, which is the page order, and time bounds become key bounds.
 */
import type { ObjectClass } from '../common/messages.js';
import type { AttributeName } from './types.js';

export const SEP = '\x00';
/** One past SEP: the exclusive upper bound of a prefix range. */
export const SEP_END = '\x01';
export const TIME_WIDTH = 15;
/** Largest storable time (ms); 15 digits reach far past any real clock. */
export const MAX_TIME = 999_999_999_999_999;
const SEQ_WIDTH = 12;

export const KIND = {
  record: 'r',
  camera: 'C',
  cls: 'K',
  attribute: 'A',
  plate: 'P',
  plateReversed: 'Q',
  face: 'F',
  expiry: 'X',
  audit: 'U',
  meta: 'M',
  alarmFrame: 'S',
  alarmFrameExpiry: 'W',
  auditCheckpoint: 'T',
} as const;

export const META_COUNTS = KIND.meta + SEP + 'counts';
/** The key layout's version; an index written with another layout is refused (INDEX_FORMAT), not misread. */
export const META_FORMAT = KIND.meta + SEP + 'format';
/** 3: record bytes, face entries and alarm frames sealed with the data key (see sealing.ts). */
export const FORMAT_VERSION = '3';
/** The data key verifier (common/data-key.ts checkVerifier): a core with another key refuses before it reads anything. */
export const META_DATA_KEY = KIND.meta + SEP + 'dataKey';
/** The re-seal sweep after a rotation: `{ target, after, done }`, so it resumes after a restart. */
export const META_RESEAL = KIND.meta + SEP + 'reseal';

export function padTime(t: number): string {
  return String(t).padStart(TIME_WIDTH, '0');
}

export function invTime(t: number): string {
  return padTime(MAX_TIME - t);
}

export function padSeq(n: number): string {
  return String(n).padStart(SEQ_WIDTH, '0');
}

export const recordKey = (id: string): string => KIND.record + SEP + id;
export const faceKey = (seq: number): string => KIND.face + SEP + padSeq(seq);
export const facePrefix = KIND.face + SEP;

/** Exclusive upper bound of every key that starts with `prefix` (which ends in SEP): the SEP becomes SEP_END. */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -SEP.length) + SEP_END;
}
export function faceSeqOf(key: string): number {
  return Number(key.slice(facePrefix.length));
}

/**
 * Prefixes of the secondary indexes; each is also the key of its entry count (selectivity for the planner).
 * Every index leads with the department, because every investigator's query is scoped to departments: a
 * scoped query reads only its departments' ranges instead of filtering out everyone else's, and a camera of
 * another department has no range in scope at all, exactly like a camera that does not exist.
 */
export const cameraPrefix = (department: string, cameraId: string): string => KIND.camera + SEP + department + SEP + cameraId + SEP;
export const classPrefix = (department: string, cls: ObjectClass): string => KIND.cls + SEP + department + SEP + cls + SEP;
export const attributePrefix = (department: string, name: AttributeName, value: string): string =>
  KIND.attribute + SEP + department + SEP + name + SEP + value + SEP;
/**
 * Plate indexes: `P\0<department>\0<plate>\0<inv start>\0<id>` and the same with the plate's characters
 * reversed under `Q`. A pattern's literal head is a range of the first, its literal tail a range of the second
 * (a suffix search is a prefix search of the reversed plates). They have no entry counts: a count per plate
 * would make the counts entry, rewritten with every batch, grow with the number of plates seen.
 */
export const plateBase = (department: string, reversed: boolean): string =>
  (reversed ? KIND.plateReversed : KIND.plate) + SEP + department + SEP;
export function reversePlate(plate: string): string {
  return [...plate].reverse().join('');
}
/** Above every character a plate can hold: the exclusive upper bound of the plates starting with a literal. */
export const PLATE_RANGE_END = '\u{10FFFF}';

/** The department of a class prefix's count key, or null for other keys. */
export function departmentOfClassPrefix(prefix: string): string | null {
  return prefix.startsWith(KIND.cls + SEP) ? prefix.slice(2, prefix.indexOf(SEP, 2)) : null;
}

/** The part of a secondary key after its prefix; also the cursor position. */
export function orderSuffix(start: number, id: string): string {
  return invTime(start) + SEP + id;
}

export function parseOrderSuffix(suffix: string): { start: number; id: string } {
  return { start: MAX_TIME - Number(suffix.slice(0, TIME_WIDTH)), id: suffix.slice(TIME_WIDTH + 1) };
}

/** Records that expire together sort together: `X\0<f|t>\0<end>\0<id>` (f = has a face, t = track only). */
export type ExpiryKind = 'f' | 't';
export const expiryPrefix = (kind: ExpiryKind): string => KIND.expiry + SEP + kind + SEP;
export const expiryKey = (kind: ExpiryKind, end: number, id: string): string => expiryPrefix(kind) + padTime(end) + SEP + id;

/**
 * Alarm frames (the JPEG behind a crowd alert's snapshotRef): `S\0<id>` holds it, `W\0<at>\0<id>` orders them for
 * retention (trackDays after `at`, like the records of the same time). Their own kinds, not `X`: an expiry entry
 * points at a record, and these point at no record.
 */
export const alarmFrameKey = (id: string): string => KIND.alarmFrame + SEP + id;
export const alarmFrameExpiryPrefix = KIND.alarmFrameExpiry + SEP;
export const alarmFrameExpiryKey = (at: number, id: string): string => alarmFrameExpiryPrefix + padTime(at) + SEP + id;

/** Audit keys: time then a sequence that only grows, so two entries in one millisecond keep their order. */
export const auditPrefix = KIND.audit + SEP;
export const auditKey = (at: number, seq: number): string => auditPrefix + padTime(at) + SEP + padSeq(seq);
/** Where an audit key's sequence starts (`U\0<time>\0<seq>`). */
export const auditSeqOf = (key: string): number => Number(key.slice(auditPrefix.length + TIME_WIDTH + SEP.length));
export const auditTimeOf = (key: string): number => Number(key.slice(auditPrefix.length, auditPrefix.length + TIME_WIDTH));
/** Signed checkpoints of the audit chain, by the sequence they cover: `T\0<seq>`. */
export const auditCheckpointPrefix = KIND.auditCheckpoint + SEP;
export const auditCheckpointKey = (seq: number): string => auditCheckpointPrefix + padSeq(seq);

/**
 * Compares keys the way RocksDB does (UTF-8 bytes), which differs from JS string order above U+FFFF. UTF-8 byte
 * order is code point order, and so is UTF-16 code unit order wherever neither unit is a surrogate: only a first
 * difference at a surrogate needs the bytes (merges compare keys per entry, so no Buffers on the common path).
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  if ((x & 0xf800) !== 0xd800 && (y & 0xf800) !== 0xd800) return x - y;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
