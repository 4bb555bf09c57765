/**
 * Evidence: signed export zips of clips and records, and their verification. Takes: files (clips on disk,
 * records as bytes), who asked for what. Gives: `<dataDir>/exports/<id>.zip` with a manifest of SHA-256 digests
 * signed by the node's Ed25519 key, an index of exports that survives restarts, and `verifyExport` that checks a
 * zip on its own. The node key (`loadNodeKey`) is the node's, not the exports': other stages sign with it too.
 * See evidence/README.md.
 */
export { loadNodeKey, readNodePublicKey, nodeKeyFingerprint, publicKeyFromPem, verifySignature, KEY_DIR, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, type NodeKey } from '../common/node-key.js';
export { buildExport, manifestBytes, checkEntryName, MANIFEST_NAME, SIGNATURE_NAME, KEY_NAME, type BuildExportOptions, type BuiltExport } from './export.js';
export { verifyExport, verifyProblems, normaliseFingerprint, type VerifyOptions } from './verify.js';
export { openExports, exportsDataKeyUsage, EXPORTS_DIR, type ExportStore, type StoredExport, type ExportHold, type ExportLimits, type CreateExportInput, type OpenExportsOptions } from './store.js';
export { parseExportRequest, fileSegment, TRACK_CLIP_MARGIN_MS, ALARM_CLIP_MARGIN_MS, MAX_NOTE_CHARS, type ExportRequest } from './request.js';
export type { ExportFileInput, ExportManifest, ExportInfo, ManifestFile, VerifyResult } from './types.js';
