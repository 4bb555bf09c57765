/**
 * Checks an export zip on its own (no core, no API): reads it entry by entry with yauzl (a clip is hashed as
 * it streams, never held whole), recomputes every digest and size against manifest.json, checks manifest.sig
 * over manifest.json's exact bytes with the embedded key, and, when the caller trusts a key (a PEM file or a
 * fingerprint from `cvcore export key`), that the embedded key is that one. Any difference is named.
 */
import { createHash } from 'node:crypto';
import yauzl from 'yauzl';
import { EvidenceError } from '../common/errors.js';
import { KEY_NAME, MANIFEST_NAME, SIGNATURE_NAME } from './export.js';
import { nodeKeyFingerprint, publicKeyFromPem, verifySignature } from '../common/node-key.js';
import type { ExportManifest, VerifyResult } from './types.js';

/** manifest.json, manifest.sig and node-key.pem are read into memory: bounded so a hostile zip cannot exhaust it. */
const MAX_SMALL_ENTRY = 16 * 1024 * 1024;

export interface VerifyOptions {
  /** A trusted public key (PEM text): the zip's key must be it. */
  readonly trustedKeyPem?: string;
  /** A trusted key fingerprint (hex SHA-256 of the SPKI DER, as `cvcore export key` prints it). */
  readonly trustedFingerprint?: string;
}

const badFile = (file: string, why: string, cause?: unknown): EvidenceError =>
  new EvidenceError('EVIDENCE_BAD_FILE', `${file}: ${why}`, { ...(cause === undefined ? {} : { cause }), detail: { file } });

function parseManifest(file: string, bytes: Buffer): ExportManifest {
  let m: unknown;
  try {
    m = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw badFile(file, `${MANIFEST_NAME} is not JSON`, cause);
  }
  const o = m as Partial<ExportManifest> | null;
  const fileOk = (f: unknown): boolean => {
    const x = f as { name?: unknown; sha256?: unknown; bytes?: unknown } | null;
    return !!x && typeof x.name === 'string' && typeof x.sha256 === 'string' && typeof x.bytes === 'number';
  };
  if (!o || typeof o !== 'object' || o.version !== 1 || typeof o.id !== 'string' || typeof o.keyFingerprint !== 'string' || !Array.isArray(o.files) || !o.files.every(fileOk)) {
    throw badFile(file, `${MANIFEST_NAME} is not an export manifest (version 1 with id, keyFingerprint and files)`);
  }
  return o as ExportManifest;
}

export async function verifyExport(file: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const trustedFp = opts.trustedKeyPem !== undefined
    ? nodeKeyFingerprint(publicKeyFromPem(opts.trustedKeyPem, 'trusted key'))
    : opts.trustedFingerprint !== undefined ? normaliseFingerprint(opts.trustedFingerprint) : null;

  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw badFile(file, code === 'ENOENT' ? 'no such file' : code ? `cannot read (${code})` : `not a zip (${(cause as Error).message})`, cause);
  }
  const digests = new Map<string, { sha256: string; bytes: number }>();
  const duplicates = new Set<string>();
  const small = new Map<string, Buffer>();
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (name.endsWith('/')) continue;
      if (digests.has(name)) duplicates.add(name);
      const keep = name === MANIFEST_NAME || name === SIGNATURE_NAME || name === KEY_NAME;
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      let bytes = 0;
      const stream = await zip.openReadStreamPromise(entry);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
        if (keep) {
          if (bytes > MAX_SMALL_ENTRY) throw badFile(file, `${name} is over ${MAX_SMALL_ENTRY} bytes`);
          chunks.push(chunk);
        }
      }
      digests.set(name, { sha256: hash.digest('hex'), bytes });
      if (keep) small.set(name, Buffer.concat(chunks));
    }
  } catch (cause) {
    if (cause instanceof EvidenceError) throw cause;
    throw badFile(file, `the zip does not read (${(cause as Error).message})`, cause);
  } finally {
    zip.close();
  }

  const manifestBuf = small.get(MANIFEST_NAME);
  if (!manifestBuf) throw badFile(file, `no ${MANIFEST_NAME}: not a cvcore export`);
  const manifest = parseManifest(file, manifestBuf);

  const changed: string[] = [];
  const missing: string[] = [];
  const listed = new Set<string>();
  for (const f of manifest.files) {
    listed.add(f.name);
    const d = digests.get(f.name);
    if (!d) missing.push(f.name);
    else if (d.sha256 !== f.sha256.toLowerCase() || d.bytes !== f.bytes || duplicates.has(f.name)) changed.push(f.name);
  }
  const extra = [...digests.keys()].filter((n) => !listed.has(n) && n !== MANIFEST_NAME && n !== SIGNATURE_NAME);
  // A second manifest or signature entry: which one a reader takes is up to the reader, so neither is trusted.
  for (const n of [MANIFEST_NAME, SIGNATURE_NAME]) if (duplicates.has(n)) changed.push(n);

  // The embedded key signs; it must also be the key the manifest names.
  let signatureValid = false;
  let embeddedFp: string | null = null;
  const keyPem = small.get(KEY_NAME);
  const sig = small.get(SIGNATURE_NAME);
  if (keyPem) {
    try {
      const key = publicKeyFromPem(keyPem, KEY_NAME);
      embeddedFp = nodeKeyFingerprint(key);
      if (sig) signatureValid = verifySignature(key, manifestBuf, Buffer.from(sig.toString('utf8').trim(), 'base64'));
    } catch (err) {
      if (!(err instanceof EvidenceError)) throw err;
      // A key that does not parse cannot sign anything: the signature fails and the key is named as changed.
      if (!changed.includes(KEY_NAME)) changed.push(KEY_NAME);
    }
  }
  if (!sig) missing.push(SIGNATURE_NAME);
  if (embeddedFp !== null && embeddedFp !== manifest.keyFingerprint.toLowerCase()) {
    signatureValid = false;
    if (!changed.includes(KEY_NAME)) changed.push(KEY_NAME);
  }
  const keyTrusted = trustedFp === null ? null : embeddedFp === trustedFp;
  const ok = signatureValid && changed.length === 0 && missing.length === 0 && extra.length === 0 && keyTrusted !== false;
  return { ok, id: manifest.id, keyFingerprint: embeddedFp, changed, missing, extra, signatureValid, keyTrusted };
}

/** Accepts hex with or without colons or spaces, any case. */
export function normaliseFingerprint(fp: string): string {
  const hex = fp.replace(/[\s:]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new EvidenceError('EVIDENCE_KEY', `fingerprint: 64 hex digits (SHA-256), got "${fp}"`, { detail: { what: 'fingerprint' } });
  return hex;
}

/** Each problem of a result in words, one per line (the CLI prints these). */
export function verifyProblems(r: VerifyResult): string[] {
  const out: string[] = [];
  if (!r.signatureValid) out.push(`signature: ${SIGNATURE_NAME} does not verify ${MANIFEST_NAME} with the embedded key`);
  for (const n of r.changed) out.push(`changed: ${n}`);
  for (const n of r.missing) out.push(`missing: ${n}`);
  for (const n of r.extra) out.push(`extra: ${n} (not in the manifest)`);
  if (r.keyTrusted === false) out.push(`key: the export was signed by ${r.keyFingerprint ?? 'no readable key'}, not the trusted key`);
  return out;
}
