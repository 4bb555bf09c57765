/**
 * The node's Ed25519 signing key: `<dataDir>/keys/node-ed25519.pem` (PKCS#8, mode 0600) and its public half
 * `node-ed25519.pub.pem` (SPKI). Made on first use and reused after. It is the node's identity, not an export's:
 * evidence manifests and the audit trail's checkpoints are signed with it. An existing key that does
 * not read is an error (EVIDENCE_KEY), never a reason to make a new one: a replaced key would orphan every
 * signature made with the old one.
 */
import { KeyObject, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as edSign, verify as edVerify } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EvidenceError } from './errors.js';

export const KEY_DIR = 'keys';
export const PRIVATE_KEY_FILE = 'node-ed25519.pem';
export const PUBLIC_KEY_FILE = 'node-ed25519.pub.pem';

export interface NodeKey {
  readonly publicKey: KeyObject;
  /** The public key as SPKI PEM (what exports embed as node-key.pem). */
  readonly publicPem: string;
  /** SHA-256 (hex) of the public key's SPKI DER. */
  readonly fingerprint: string;
  readonly privatePath: string;
  readonly publicPath: string;
  /** Ed25519 signature over the exact bytes. */
  sign(bytes: Uint8Array): Buffer;
}

/** SHA-256 (hex) of a public key's SPKI DER: the same for the PEM file, the key object and `cvcore export key`. */
export function nodeKeyFingerprint(key: KeyObject | string | Uint8Array): string {
  const k = key instanceof KeyObject ? key : publicKeyFromPem(key);
  return createHash('sha256').update(k.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** A PEM public key (SPKI) that must be Ed25519; EVIDENCE_KEY otherwise. */
export function publicKeyFromPem(pem: string | Uint8Array, what = 'public key'): KeyObject {
  let k: KeyObject;
  try {
    k = createPublicKey({ key: typeof pem === 'string' ? pem : Buffer.from(pem), format: 'pem' });
  } catch (cause) {
    throw new EvidenceError('EVIDENCE_KEY', `${what}: not a PEM public key (${(cause as Error).message})`, { cause, detail: { what } });
  }
  if (k.asymmetricKeyType !== 'ed25519') throw new EvidenceError('EVIDENCE_KEY', `${what}: an ${k.asymmetricKeyType ?? 'unknown'} key, not Ed25519`, { detail: { what } });
  return k;
}

/** Checks an Ed25519 signature; false (never a throw) for a signature of the wrong length or form. */
export function verifySignature(publicKey: KeyObject, bytes: Uint8Array, signature: Uint8Array): boolean {
  try {
    return edVerify(null, bytes, publicKey, signature);
  } catch {
    return false;
  }
}

const keyPaths = (dataDir: string): { dir: string; privatePath: string; publicPath: string } => {
  const dir = join(dataDir, KEY_DIR);
  return { dir, privatePath: join(dir, PRIVATE_KEY_FILE), publicPath: join(dir, PUBLIC_KEY_FILE) };
};

function fromPrivatePem(pem: string, privatePath: string, publicPath: string): NodeKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new EvidenceError('EVIDENCE_KEY', `${privatePath}: not a PEM private key (${(cause as Error).message}); it is left as it is`, { cause, detail: { file: privatePath } });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new EvidenceError('EVIDENCE_KEY', `${privatePath}: an ${privateKey.asymmetricKeyType ?? 'unknown'} key, not Ed25519; it is left as it is`, { detail: { file: privatePath } });
  }
  const publicKey = createPublicKey(privateKey);
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    publicKey, publicPem, fingerprint: nodeKeyFingerprint(publicKey), privatePath, publicPath,
    sign: (bytes) => edSign(null, bytes, privateKey),
  };
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new EvidenceError('EVIDENCE_KEY', `${path}: cannot read the node key (${(err as Error).message})`, { cause: err, detail: { file: path } });
  }
}

/** Writes `data` to `path` only if nothing is there (temp file, fsync, hard link: never a half-written key). */
export async function createExclusive(path: string, data: string, mode: number): Promise<boolean> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * This node's key, made on first use. Two processes starting at once agree on one key (the private file is
 * created with a hard link, which fails when another got there first). The public file is written when missing
 * and must match the private key when present.
 */
export async function loadNodeKey(dataDir: string): Promise<NodeKey> {
  const { dir, privatePath, publicPath } = keyPaths(dataDir);
  let pem = await readIfExists(privatePath);
  if (pem === null) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const { privateKey } = generateKeyPairSync('ed25519');
      const made = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      pem = (await createExclusive(privatePath, made, 0o600)) ? made : await readIfExists(privatePath);
    } catch (err) {
      if (err instanceof EvidenceError) throw err;
      throw new EvidenceError('EVIDENCE_KEY', `${privatePath}: cannot create the node key (${(err as Error).message})`, { cause: err, detail: { file: privatePath } });
    }
    if (pem === null) throw new EvidenceError('EVIDENCE_KEY', `${privatePath}: vanished while it was being created`, { detail: { file: privatePath } });
  }
  const key = fromPrivatePem(pem, privatePath, publicPath);
  const pub = await readIfExists(publicPath);
  if (pub === null) {
    try {
      await createExclusive(publicPath, key.publicPem, 0o644);
    } catch (err) {
      throw new EvidenceError('EVIDENCE_KEY', `${publicPath}: cannot write the public key (${(err as Error).message})`, { cause: err, detail: { file: publicPath } });
    }
  } else if (nodeKeyFingerprint(publicKeyFromPem(pub, publicPath)) !== key.fingerprint) {
    throw new EvidenceError('EVIDENCE_KEY', `${publicPath}: is not the public half of ${privatePath}; neither is changed`, { detail: { file: publicPath } });
  }
  return key;
}

/** The node's public key without creating one (`cvcore export key --data-dir`); EVIDENCE_KEY when there is none. */
export async function readNodePublicKey(dataDir: string): Promise<{ publicPem: string; fingerprint: string }> {
  const { privatePath, publicPath } = keyPaths(dataDir);
  const pub = await readIfExists(publicPath);
  if (pub !== null) {
    const k = publicKeyFromPem(pub, publicPath);
    return { publicPem: k.export({ type: 'spki', format: 'pem' }).toString(), fingerprint: nodeKeyFingerprint(k) };
  }
  const pem = await readIfExists(privatePath);
  if (pem === null) throw new EvidenceError('EVIDENCE_KEY', `no node key in ${join(dataDir, KEY_DIR)} (a core makes one when it starts)`, { detail: { file: privatePath } });
  const k = fromPrivatePem(pem, privatePath, publicPath);
  return { publicPem: k.publicPem, fingerprint: k.fingerprint };
}
