/**
 * The evidence stage's contract, fixed before it was built so the API could be written against it in parallel.
 * An export is a zip: the clips (`clips/<camera>-<from>-<to>.mp4`), the records as JSON (`records/<id>.json`,
 * `alarms/<id>.json`, `request.json`), `manifest.json` (every other file's SHA-256 and size, who asked for what,
 * when, on which node) and `manifest.sig` (the node's Ed25519 signature over manifest.json's exact bytes), and
 * `node-key.pem` (the public key, so the zip verifies on its own; its fingerprint is in the manifest and
 * `cvcore export key` prints the node's, to check the origin).
 */

export interface ExportFileInput {
  /** Path inside the zip (forward slashes, no `..`). */
  readonly name: string;
  /** A file on disk (streamed), bytes, or a stream opened when its turn comes (a sealed clip's clear bytes). */
  readonly path?: string;
  readonly data?: Uint8Array;
  readonly open?: () => import('node:stream').Readable;
}

export interface ManifestFile {
  readonly name: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface ExportManifest {
  readonly version: 1;
  readonly id: string;
  readonly node: string;
  readonly createdAt: number;
  /** Token id of the caller. */
  readonly createdBy: string;
  /** What was asked for (track ids, cameras and range), as the API received it. */
  readonly request: Readonly<Record<string, unknown>>;
  /** SHA-256 (hex) of the public key's DER (SPKI): `cvcore export key` prints the same. */
  readonly keyFingerprint: string;
  readonly files: readonly ManifestFile[];
}

export interface ExportInfo {
  readonly id: string;
  readonly createdAt: number;
  readonly createdBy: string;
  /** Departments whose data the export holds (scope: only callers of all of them may download it). */
  readonly departments: readonly string[];
  readonly request: Readonly<Record<string, unknown>>;
  readonly bytes: number;
  readonly files: number;
  /** SHA-256 of the zip itself. */
  readonly sha256: string;
  readonly path: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly id: string | null;
  readonly keyFingerprint: string | null;
  /** Files whose digest or size differ, files listed but absent, files present but not listed. */
  readonly changed: readonly string[];
  readonly missing: readonly string[];
  readonly extra: readonly string[];
  readonly signatureValid: boolean;
  /** When a trusted key was given: whether the zip's key is that key. */
  readonly keyTrusted: boolean | null;
}
