/**
 * Reads the audit chain back: from the database (`verifyAuditDb`), as a self-contained export of a time range
 * (`exportAuditLines`: JSON lines with the public key, the checkpoints around the range and the digests of the
 * neighbours that link it to them) and from such an export alone (`verifyAuditLines`).
 *
 * Export lines, in order: {type:"header"} (version, node, from, to, publicKey PEM, keyFingerprint); the
 * checkpoint the range is anchored on and every later checkpoint up to the first at or after the range's last
 * entry {type:"checkpoint"}; then, by sequence, every link from the anchor to that checkpoint: an entry in the
 * time range in full {type:"entry"}, any other as {type:"link", seq, digest} (its body stays on the node).
 * Entries of the range written before the chain began come as {type:"unchained"}: shown, not proven.
 */
import type { KeyObject } from 'node:crypto';
import { AuditError } from '../common/errors.js';
import { nodeKeyFingerprint, publicKeyFromPem } from '../common/node-key.js';
import { AUDIT_HEAD, AUDIT_SEQ } from './audit.js';
import { ChainVerifier, bodyDigest, isChained, type AuditVerifyReport, type ChainedEntry, type Checkpoint, type RedactedEntry } from './audit-chain.js';
import { MAX_TIME, SEP_END, auditCheckpointPrefix, auditPrefix, auditSeqOf, auditTimeOf, padTime, prefixEnd } from './keys.js';
import { decodeJson } from './record.js';
import { readRange, scanRange, type RocksDb } from './rocks.js';

export const AUDIT_EXPORT_VERSION = 1;

export interface AuditVerifyKey {
  readonly publicKey: KeyObject;
  readonly fingerprint: string;
}

/** A verifying key from a PEM (file contents), optionally pinned to a fingerprint; AUDIT_KEY when it is not one. */
export function auditKeyFromPem(pem: string | Uint8Array, what: string, pin?: string): AuditVerifyKey {
  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromPem(pem, what);
  } catch (cause) {
    throw new AuditError('AUDIT_KEY', (cause as Error).message, { cause, detail: { what } });
  }
  const fingerprint = nodeKeyFingerprint(publicKey);
  if (pin !== undefined) {
    const want = pin.toLowerCase().replace(/[^0-9a-f]/g, '');
    if (want.length !== 64) throw new AuditError('AUDIT_KEY', `--fingerprint must be 64 hex digits (SHA-256 of the public key), got ${pin.length} characters`, { detail: { what: 'fingerprint' } });
    if (want !== fingerprint) throw new AuditError('AUDIT_KEY', `${what} has fingerprint ${fingerprint}, not the pinned ${want}`, { detail: { what, fingerprint } });
  }
  return { publicKey, fingerprint };
}

async function checkpointsOf(db: RocksDb): Promise<Checkpoint[]> {
  const rows = await readRange(db, { gte: auditCheckpointPrefix, lt: prefixEnd(auditCheckpointPrefix) });
  return rows.map(([, v]) => decodeJson<Checkpoint>(v!));
}

/** Where the key's checkpoints disagree with the key: a key that signed none of them is the wrong key, not tampering. */
function checkKeyMatches(cps: readonly Checkpoint[], key: AuditVerifyKey): void {
  if (cps.length > 0 && !cps.some((c) => c.keyFingerprint === key.fingerprint)) {
    throw new AuditError('AUDIT_KEY', `the verifying key ${key.fingerprint} signed none of the trail's ${cps.length} checkpoints (they name ${cps[0]!.keyFingerprint || 'no key'})`, { detail: { fingerprint: key.fingerprint } });
  }
}

/** Walks the whole trail in the database. */
export async function verifyAuditDb(db: RocksDb, key: AuditVerifyKey): Promise<AuditVerifyReport> {
  const cps = await checkpointsOf(db);
  checkKeyMatches(cps, key);
  const v = new ChainVerifier(key.publicKey, key.fingerprint);
  for (const c of cps) v.addCheckpoint(c);
  await scanRange(db, { gte: auditPrefix, lt: prefixEnd(auditPrefix) }, (k, val) => {
    let value: unknown;
    try {
      value = decodeJson<unknown>(val!);
    } catch {
      v.problem(auditSeqOf(k), 'malformed', `entry ${auditSeqOf(k)} does not decode`);
      return;
    }
    v.addEntry(value, auditSeqOf(k), auditTimeOf(k));
  });
  const [seq, head] = await db.getMany([AUDIT_SEQ, AUDIT_HEAD]);
  const headSeq = head ? decodeJson<{ seq: number }>(head).seq : seq ? Number(seq.toString('utf8')) : null;
  return v.finishWithHead(headSeq);
}

/** The lines of an export of entries with `at` in [from, to]. */
export async function exportAuditLines(db: RocksDb, o: { from: number; to: number; publicPem: string; node: string }): Promise<string[]> {
  const keys = await readRange(db, { gte: auditPrefix + padTime(o.from), lt: auditPrefix + padTime(Math.min(o.to, MAX_TIME)) + SEP_END, values: false });
  const inRange = new Set(keys.map(([k]) => auditSeqOf(k)));
  const cps = (await checkpointsOf(db)).sort((a, b) => a.seq - b.seq);
  const header = { type: 'header', version: AUDIT_EXPORT_VERSION, node: o.node, from: o.from, to: o.to, publicKey: o.publicPem, keyFingerprint: nodeKeyFingerprint(o.publicPem), entries: inRange.size };
  const lines = [JSON.stringify(header)];
  if (inRange.size === 0) return lines;
  const lo = Math.min(...inRange);
  const hi = Math.max(...inRange);
  const anchor = [...cps].reverse().find((c) => c.seq < lo) ?? cps.find((c) => c.kind === 'genesis') ?? null;
  const closing = cps.find((c) => c.seq >= hi) ?? null;
  const start = anchor ? anchor.seq + 1 : lo;
  const end = closing ? closing.seq : hi;
  for (const c of cps) if (anchor && c.seq >= anchor.seq && c.seq <= end) lines.push(JSON.stringify({ type: 'checkpoint', ...c }));
  // One pass over the trail: the links from the anchor to the closing checkpoint, by sequence.
  const bySeq = new Map<number, string>();
  const unchained: string[] = [];
  await scanRange(db, { gte: auditPrefix, lt: prefixEnd(auditPrefix) }, (k, val) => {
    const s = auditSeqOf(k);
    const inside = s >= start && s <= end;
    if (!inside && !inRange.has(s)) return;
    const e = decodeJson<ChainedEntry>(val!);
    if (!isChained(e)) {
      if (inRange.has(s)) unchained.push(JSON.stringify({ type: 'unchained', seq: s, entry: e }));
      return;
    }
    if (!inside) return;
    // An erased entry goes as a link: its digest is all that is left of it.
    const erased = (e as Partial<RedactedEntry>).redacted === true;
    bySeq.set(s, JSON.stringify(inRange.has(s) && !erased ? { type: 'entry', entry: e } : { type: 'link', seq: e.seq, digest: erased ? (e as unknown as RedactedEntry).digest : bodyDigest(e) }));
  });
  lines.push(...unchained);
  for (const s of [...bySeq.keys()].sort((a, b) => a - b)) lines.push(bySeq.get(s)!);
  return lines;
}

/**
 * Verifies an export on its own. The key is the file's unless `key` is given; `pin` (a fingerprint) makes the
 * file's key count only when it is that one. A file that is not an export is AUDIT_BAD_FILE.
 */
export function verifyAuditLines(text: string, o: { key?: AuditVerifyKey; pin?: string } = {}): AuditVerifyReport & { from: number; to: number; node: string } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const parsed: Array<Record<string, unknown>> = [];
  for (const [i, l] of lines.entries()) {
    try {
      const v = JSON.parse(l) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      parsed.push(v as Record<string, unknown>);
    } catch (cause) {
      if (i === 0) throw new AuditError('AUDIT_BAD_FILE', `line 1 is not JSON: not an audit export`, { cause });
      parsed.push({ type: 'broken', line: i + 1 });
    }
  }
  const header = parsed[0];
  if (!header || header['type'] !== 'header' || header['version'] !== AUDIT_EXPORT_VERSION || typeof header['publicKey'] !== 'string') {
    throw new AuditError('AUDIT_BAD_FILE', `not an audit export of version ${AUDIT_EXPORT_VERSION} (no header line with a public key)`);
  }
  const key = o.key ?? auditKeyFromPem(header['publicKey'], 'the export\'s public key', o.pin);
  const cps = parsed.filter((p) => p['type'] === 'checkpoint') as unknown as Checkpoint[];
  checkKeyMatches(cps, key);
  const v = new ChainVerifier(key.publicKey, key.fingerprint);
  cps.forEach((c, i) => v.addCheckpoint(c, i === 0));
  let running: string | null = cps[0]?.hash ?? null;
  let expect = (cps[0]?.seq ?? 0) + 1;
  let lastEntry = 0;
  for (const [i, p] of parsed.entries()) {
    const t = p['type'];
    if (t === 'header' || t === 'checkpoint') continue;
    if (t === 'unchained') {
      v.addEntry(p['entry'], typeof p['seq'] === 'number' ? p['seq'] : -1);
      continue;
    }
    if (t === 'entry') {
      const e = p['entry'] as ChainedEntry;
      v.addEntry(e);
      running = typeof e?.hash === 'string' ? e.hash : running;
      if (typeof e?.seq === 'number') { lastEntry = Math.max(lastEntry, e.seq); expect = e.seq + 1; }
      continue;
    }
    if (t === 'link' && typeof p['seq'] === 'number' && typeof p['digest'] === 'string' && running !== null) {
      // A link hashes onto the item before it in the file: a link that skips or repeats a sequence breaks there.
      if (p['seq'] !== expect) v.problem(expect, 'removed', `the export skips from ${expect - 1} to ${p['seq']}`);
      running = v.addLink(p['seq'], p['digest'], running);
      expect = p['seq'] + 1;
      continue;
    }
    v.problem(-1, 'malformed', `line ${i + 1} is not an export line`);
  }
  const lastCp = cps.reduce((m, c) => Math.max(m, c.seq), -1);
  if (lastEntry > lastCp) v.problem(lastEntry, 'checkpoint', `entries up to ${lastEntry} are not covered by a signed checkpoint (the last is ${lastCp})`);
  const r = v.finish();
  return { ...r, from: Number(header['from']), to: Number(header['to']), node: String(header['node']) };
}
