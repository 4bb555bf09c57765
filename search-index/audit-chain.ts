/**
 * The audit trail's hash chain and signed checkpoints, and the verifier that walks them. Pure: no RocksDB here
 * (audit.ts stores, audit-verify.ts reads the database or an export file and feeds the verifier).
 *
 * An entry's body digest is SHA-256 of its canonical JSON (keys sorted); its hash is SHA-256 of
 * `cvcore-audit-v1\n<seq>\n<prev>\n<body digest>`, where prev is the hash of entry seq-1 (64 zeros for the first
 * entry after the genesis). Hashing the digest rather than the body lets an export prove a range with the digests
 * of its neighbours alone: entries outside the range, other people's queries, are never disclosed.
 * A checkpoint {seq, hash, at, node, keyFingerprint} is signed (Ed25519) over its canonical JSON.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { NodeKey } from '../common/node-key.js';
import { verifySignature } from '../common/node-key.js';
import type { AuditEntry } from './types.js';

export const ZERO_HASH = '0'.repeat(64);
const HASH_RE = /^[0-9a-f]{64}$/;

/** An entry as stored: the body, its place in the chain and its hash. Entries written before the chain lack seq/prev/hash. */
export interface ChainedEntry extends AuditEntry {
  readonly seq: number;
  readonly prev: string;
  readonly hash: string;
}

/**
 * An entry whose body was erased: its sequence, time, links and body digest stay, so the chain verifies across
 * it (erasure of personal data is itself an audit entry, appended as any other).
 */
export interface RedactedEntry {
  readonly seq: number;
  readonly at: number;
  readonly prev: string;
  readonly hash: string;
  readonly digest: string;
  readonly redacted: true;
}

/** The erased form of a stored entry: what an erasure writes in its place. */
export function redactEntry(e: ChainedEntry): RedactedEntry {
  return { seq: e.seq, at: e.at, prev: e.prev, hash: e.hash, digest: bodyDigest(e), redacted: true };
}

export type CheckpointKind = 'genesis' | 'checkpoint';

export interface Checkpoint {
  readonly v: 1;
  /** genesis: the chain starts after `seq` (entries up to it were written before the chain; hash is zeros). */
  readonly kind: CheckpointKind;
  readonly seq: number;
  readonly hash: string;
  readonly at: number;
  readonly node: string;
  readonly keyFingerprint: string;
  /** Ed25519 over the canonical JSON of the fields above, hex. */
  readonly signature: string;
}

/** JSON with object keys sorted at every depth: one byte string per value, whatever order its keys were built in. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    const s = JSON.stringify(v);
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(v)) return '[' + v.map((x) => canonicalJson(x)).join(',') + ']';
  const o = v as Record<string, unknown>;
  return '{' + Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}';
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export function bodyOf(e: AuditEntry): AuditEntry {
  return { at: e.at, tokenId: e.tokenId, role: e.role, department: e.department, action: e.action, query: e.query ?? null, results: e.results };
}

export function bodyDigest(e: AuditEntry): string {
  return sha256(canonicalJson(bodyOf(e)));
}

export function linkHash(seq: number, prev: string, digest: string): string {
  return sha256(`cvcore-audit-v1\n${seq}\n${prev}\n${digest}`);
}

export function chainEntry(e: AuditEntry, seq: number, prev: string): ChainedEntry {
  return { ...bodyOf(e), seq, prev, hash: linkHash(seq, prev, bodyDigest(e)) };
}

export function isChained(v: unknown): v is ChainedEntry {
  const e = v as Partial<ChainedEntry>;
  return typeof e === 'object' && e !== null && (e.seq !== undefined || e.prev !== undefined || e.hash !== undefined);
}

const checkpointPayload = (c: Omit<Checkpoint, 'signature'>): string =>
  canonicalJson({ v: c.v, kind: c.kind, seq: c.seq, hash: c.hash, at: c.at, node: c.node, keyFingerprint: c.keyFingerprint });

export function signCheckpoint(key: NodeKey, c: Omit<Checkpoint, 'v' | 'signature' | 'keyFingerprint'>): Checkpoint {
  const body = { v: 1 as const, kind: c.kind, seq: c.seq, hash: c.hash, at: c.at, node: c.node, keyFingerprint: key.fingerprint };
  return { ...body, signature: key.sign(Buffer.from(checkpointPayload(body), 'utf8')).toString('hex') };
}

export function checkpointSignatureOk(publicKey: KeyObject, c: Checkpoint): boolean {
  return typeof c.signature === 'string' && /^[0-9a-f]+$/.test(c.signature) && verifySignature(publicKey, Buffer.from(checkpointPayload(c), 'utf8'), Buffer.from(c.signature, 'hex'));
}

/** What is wrong at a sequence. */
export type ProblemKind = 'edited' | 'removed' | 'reordered' | 'link' | 'truncated' | 'checkpoint' | 'malformed';
export interface ChainProblem {
  readonly seq: number;
  readonly kind: ProblemKind;
  readonly message: string;
}

export interface AuditVerifyReport {
  readonly ok: boolean;
  /** Entries seen (chained, unchained and link digests of an export). */
  readonly entries: number;
  readonly chained: number;
  /** Entries written before the chain began (before the genesis): read, not proven. */
  readonly unchained: number;
  /** Chained entries whose body was erased (their digest kept): linked, their content gone. */
  readonly redacted: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly checkpoints: number;
  readonly lastCheckpointSeq: number | null;
  /** Chained entries after the last checkpoint: a truncation of these is not detectable until the next one. */
  readonly uncovered: number;
  readonly keyFingerprint: string | null;
  /** The lowest sequence with a problem, or null. */
  readonly firstBroken: number | null;
  /** Problems by sequence (at most MAX_PROBLEMS; `problemCount` has them all). */
  readonly problems: readonly ChainProblem[];
  readonly problemCount: number;
}

const MAX_PROBLEMS = 100;

/**
 * Walks one chain. Give it every checkpoint first, then the entries in any order (the database yields them by
 * time, which is not sequence order after a clock step back); links are remembered only until both neighbours
 * were seen, so memory stays small for an ordered trail.
 */
export class ChainVerifier {
  readonly #key: KeyObject;
  readonly #fingerprint: string;
  readonly #problems: ChainProblem[] = [];
  #problemCount = 0;
  readonly #checkpoints = new Map<number, Checkpoint>();
  /** Sequence the chain continues from (genesis, or an export's first checkpoint) and that link's hash. */
  #anchor: { seq: number; hash: string } | null = null;
  /** hash of entries whose successor was not seen yet */
  readonly #open = new Map<number, string>();
  /** prev of entries whose predecessor was not seen yet */
  readonly #waiting = new Map<number, string>();
  readonly #cpHashSeen = new Set<number>();
  #entries = 0;
  #chained = 0;
  #unchained = 0;
  #first: number | null = null;
  #last: number | null = null;
  #maxUnchainedSeq = 0;
  #redacted = 0;

  constructor(publicKey: KeyObject, fingerprint: string) {
    this.#key = publicKey;
    this.#fingerprint = fingerprint;
  }

  readonly #named = new Set<string>();

  problem(seq: number, kind: ProblemKind, message: string): void {
    // One removal is seen from both sides (the entry before has no successor, the one after no predecessor).
    const id = `${seq}:${kind}`;
    if (this.#named.has(id)) return;
    this.#named.add(id);
    this.#problemCount += 1;
    if (this.#problems.length < MAX_PROBLEMS) this.#problems.push({ seq, kind, message });
  }

  /** A checkpoint; `anchor`: the chain of this walk starts right after it (the genesis, or an export's first). */
  addCheckpoint(c: Checkpoint, anchor = false): void {
    if (typeof c !== 'object' || c === null || !Number.isInteger(c.seq) || c.seq < 0 || typeof c.hash !== 'string' || !HASH_RE.test(c.hash)) {
      this.problem(Number.isInteger(c?.seq) ? c.seq : -1, 'malformed', 'a checkpoint that does not parse');
      return;
    }
    if (c.keyFingerprint !== this.#fingerprint) this.problem(c.seq, 'checkpoint', `checkpoint ${c.seq} names key ${String(c.keyFingerprint).slice(0, 16)}…, not the verifying key ${this.#fingerprint.slice(0, 16)}…`);
    else if (!checkpointSignatureOk(this.#key, c)) this.problem(c.seq, 'checkpoint', `checkpoint ${c.seq}: the signature does not verify (forged or edited)`);
    if (c.kind === 'genesis' && c.hash !== ZERO_HASH) this.problem(c.seq, 'checkpoint', `genesis ${c.seq} with a non-zero hash`);
    this.#checkpoints.set(c.seq, c);
    if (anchor || c.kind === 'genesis') {
      if (this.#anchor && this.#anchor.seq !== c.seq) this.problem(c.seq, 'checkpoint', `a second chain start at ${c.seq} (the first at ${this.#anchor.seq})`);
      else {
        this.#anchor = { seq: c.seq, hash: c.hash };
        this.#open.set(c.seq, c.hash);
      }
    }
  }

  get anchorSeq(): number | null {
    return this.#anchor?.seq ?? null;
  }

  /** A stored entry; `keySeq`/`keyAt`: where the database keeps it (absent for an export). */
  addEntry(value: unknown, keySeq?: number, keyAt?: number): void {
    this.#entries += 1;
    if (!isChained(value)) {
      const s = keySeq ?? -1;
      if (this.#anchor === null || s <= this.#anchor.seq) {
        this.#unchained += 1;
        this.#maxUnchainedSeq = Math.max(this.#maxUnchainedSeq, s);
      } else this.problem(s, 'edited', `entry ${s} has no chain fields but lies inside the chain (after the genesis at ${this.#anchor.seq})`);
      return;
    }
    const e = value;
    if (!Number.isInteger(e.seq) || e.seq < 1 || typeof e.prev !== 'string' || typeof e.hash !== 'string' || !HASH_RE.test(e.hash)) {
      this.problem(keySeq ?? -1, 'malformed', `entry ${keySeq ?? '?'}: chain fields that do not parse`);
      return;
    }
    const s = e.seq;
    if (keySeq !== undefined && keySeq !== s) this.problem(keySeq, 'reordered', `the entry stored as ${keySeq} is entry ${s}: entries were moved or swapped`);
    else if (keyAt !== undefined && keyAt !== e.at) this.problem(s, 'edited', `entry ${s} is stored at time ${keyAt} but says ${e.at}`);
    // An erased entry keeps its digest in place of its body (REDACTED): the chain still links through it.
    const redacted = (e as Partial<RedactedEntry>).redacted === true && typeof (e as Partial<RedactedEntry>).digest === 'string';
    if (redacted) this.#redacted += 1;
    this.#linkIn(s, e.prev, e.hash, linkHash(s, e.prev, redacted ? (e as unknown as RedactedEntry).digest : bodyDigest(e)));
  }

  /** An entry outside an export's range: its digest only, linked to the previous item of the file. */
  addLink(seq: number, digest: string, prev: string): string {
    this.#entries += 1;
    const h = linkHash(seq, prev, digest);
    this.#linkIn(seq, prev, h, h);
    return h;
  }

  #linkIn(s: number, prev: string, stored: string, computed: string): void {
    this.#chained += 1;
    this.#first = this.#first === null ? s : Math.min(this.#first, s);
    this.#last = this.#last === null ? s : Math.max(this.#last, s);
    if (stored !== computed) this.problem(s, 'edited', `entry ${s} was edited: its bytes do not hash to its stored hash`);
    // Link with the stored hash: an entry edited in place is named once, not again at its successor.
    const before = this.#open.get(s - 1);
    if (before !== undefined) {
      this.#open.delete(s - 1);
      if (before !== prev) this.problem(s - 1, 'link', `entry ${s} does not link to entry ${s - 1}: ${s - 1} was edited and re-hashed, or replaced`);
    } else this.#waiting.set(s, prev);
    const after = this.#waiting.get(s + 1);
    if (after !== undefined) {
      this.#waiting.delete(s + 1);
      if (after !== stored) this.problem(s, 'link', `entry ${s + 1} does not link to entry ${s}: ${s} was edited and re-hashed, or replaced`);
    } else this.#open.set(s, stored);
    const cp = this.#checkpoints.get(s);
    if (cp) {
      this.#cpHashSeen.add(s);
      if (cp.hash !== stored) {
        const before = Math.max(-1, ...[...this.#checkpoints.keys()].filter((c) => c < s));
        this.problem(s, 'edited', `entry ${s} is not the entry checkpoint ${s} signed: an entry after checkpoint ${before} up to ${s} was changed and the chain re-hashed`);
      }
    }
  }

  finish(): AuditVerifyReport {
    const anchor = this.#anchor;
    if (anchor === null && this.#chained > 0) this.problem(this.#first ?? 0, 'checkpoint', 'chained entries but no genesis checkpoint: the start of the chain was removed');
    // What is left open: the last entry (the head) only; waiting: nothing (the first links to the anchor).
    for (const [s, prev] of this.#waiting) {
      if (anchor && s === anchor.seq + 1 && prev !== anchor.hash) this.problem(s, 'link', `entry ${s} does not link to the chain start at ${anchor.seq}`);
      else this.problem(s - 1, 'removed', `entry ${s - 1} is missing (entry ${s} links to it)`);
    }
    const head = this.#last ?? anchor?.seq ?? 0;
    for (const s of this.#open.keys()) {
      if (s === head) continue;
      if (s === anchor?.seq && this.#chained === 0) continue;
      this.problem(s + 1, 'removed', `entry ${s + 1} is missing (entry ${s} has no successor; the trail goes on to ${head})`);
    }
    let lastCp: number | null = null;
    for (const c of this.#checkpoints.values()) {
      lastCp = lastCp === null ? c.seq : Math.max(lastCp, c.seq);
      if (c.kind === 'genesis' || this.#cpHashSeen.has(c.seq)) continue;
      if (c.seq > head) this.problem(head + 1, 'truncated', `checkpoint ${c.seq} signed entries up to ${c.seq}, but the trail ends at ${head}: the tail was removed`);
      else if (anchor && c.seq > anchor.seq) this.problem(c.seq, 'removed', `entry ${c.seq}, signed by a checkpoint, is missing`);
    }
    return this.#report(lastCp);
  }

  /** `storedHead`: the store's own counter (a hint: editable like the rest, unlike checkpoints). */
  finishWithHead(storedHead: number | null): AuditVerifyReport {
    if (storedHead !== null && this.#last !== null && storedHead > this.#last && storedHead > this.#maxUnchainedSeq) {
      this.problem(this.#last + 1, 'truncated', `the trail's counter says ${storedHead} entries were written, the chain ends at ${this.#last}`);
    }
    return this.finish();
  }

  #report(lastCp: number | null): AuditVerifyReport {
    const problems = [...this.#problems].sort((a, b) => a.seq - b.seq);
    const firstBroken = this.#problemCount > 0 ? Math.min(...this.#problems.map((p) => p.seq)) : null;
    const uncovered = this.#last === null ? 0 : this.#last - Math.max(lastCp ?? 0, this.#anchor?.seq ?? 0);
    return {
      ok: this.#problemCount === 0, entries: this.#entries, chained: this.#chained, unchained: this.#unchained, redacted: this.#redacted,
      firstSeq: this.#first, lastSeq: this.#last, checkpoints: this.#checkpoints.size, lastCheckpointSeq: lastCp,
      uncovered: Math.max(0, uncovered), keyFingerprint: this.#fingerprint, firstBroken, problems, problemCount: this.#problemCount,
    };
  }
}
