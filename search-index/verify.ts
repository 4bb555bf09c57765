/**
 * A consistency check of an index folder (an fsck): every record has all the entries it owns, no entry points
 * at a missing record, and the stored counts match. Used by the crash test and useful after an incident;
 * it reads everything, so it is for offline use.
 */
import { join } from 'node:path';
import { KIND, META_COUNTS, SEP } from './keys.js';
import { decodeJson, decodeRecordHead, indexPrefixes, ownedKeys, type StoredRecord } from './record.js';
import { ROCKS_OPEN_OPTIONS, createRocks, type RocksDb } from './rocks.js';

export interface VerifyReport {
  records: number;
  faces: number;
  /** Empty when the index is consistent. */
  problems: string[];
}

async function each(db: RocksDb, kind: string, fn: (key: string, value: Buffer) => void): Promise<void> {
  const it = db.iterator({ gte: kind + SEP, lt: kind + '\x01' });
  try {
    for (;;) {
      const rows = await it.nextv(1000);
      if (rows.length === 0) break;
      for (const [k, v] of rows) fn(k, v ?? Buffer.alloc(0));
    }
  } finally {
    await it.close();
  }
}

/** Checks the index in `dir`; the index must not be open in another process (RocksDB's lock forbids it). */
export async function verifyIndex(dir: string): Promise<VerifyReport> {
  const db = createRocks(join(dir, 'db'));
  await db.open(ROCKS_OPEN_OPTIONS);
  const problems: string[] = [];
  try {
    const records = new Map<string, StoredRecord>();
    await each(db, KIND.record, (k, v) => records.set(k.slice(2), decodeRecordHead(v)));
    const faceOwners = new Map<string, string>();
    for (const r of records.values()) if (r.faceSeq !== null) faceOwners.set(`${KIND.face}${SEP}${String(r.faceSeq).padStart(12, '0')}`, r.id);
    const prefixCounts = new Map<string, number>();
    let faces = 0;
    for (const r of records.values()) {
      const keys = ownedKeys(r);
      const found = await db.getMany(keys);
      found.forEach((b, i) => {
        if (!b) problems.push(`record ${r.id} lacks ${JSON.stringify(keys[i])}`);
      });
      for (const p of indexPrefixes(r)) prefixCounts.set(p, (prefixCounts.get(p) ?? 0) + 1);
      if (r.hasFace) faces++;
    }
    const lastPart = (k: string): string => k.slice(k.lastIndexOf(SEP) + 1);
    // Plate entries end in `<inv start>\0<id>` like the others (their plate sits before it).
    for (const kind of [KIND.camera, KIND.cls, KIND.attribute, KIND.expiry, KIND.plate, KIND.plateReversed]) {
      await each(db, kind, (k) => {
        const id = lastPart(k);
        if (!records.has(id)) problems.push(`entry ${JSON.stringify(k)} points at missing record ${id}`);
      });
    }
    await each(db, KIND.face, (k, v) => {
      // Face entries are sealed; the record they belong to is the one whose faceSeq names this key.
      void v;
      const id = faceOwners.get(k) ?? '?';
      const r = records.get(id);
      if (!r || r.faceSeq === null || k !== `${KIND.face}${SEP}${String(r.faceSeq).padStart(12, '0')}`) problems.push(`face entry ${JSON.stringify(k)} points at missing or other record ${id}`);
    });
    const [cb] = await db.getMany([META_COUNTS]);
    const counts = cb ? decodeJson<{ records: number; faces: number; prefixes: Record<string, number> }>(cb) : { records: 0, faces: 0, prefixes: {} };
    if (counts.records !== records.size) problems.push(`stored record count ${counts.records} != ${records.size}`);
    if (counts.faces !== faces) problems.push(`stored face count ${counts.faces} != ${faces}`);
    const stored = new Map(Object.entries(counts.prefixes));
    for (const p of new Set([...stored.keys(), ...prefixCounts.keys()])) {
      if ((stored.get(p) ?? 0) !== (prefixCounts.get(p) ?? 0)) problems.push(`count of ${JSON.stringify(p)} is ${stored.get(p) ?? 0}, entries ${prefixCounts.get(p) ?? 0}`);
    }
    return { records: records.size, faces, problems };
  } finally {
    await db.close();
  }
}
