/** A throw-away data key ring for benchmarks that open an index in a temporary folder (one per process). */
import { randomBytes } from 'node:crypto';
import { SEAL_MAGIC, dataKeyringFrom, sealedKeyId, type DataKeyring } from '../common/data-key.js';

let ring: DataKeyring | null = null;

export function benchDataKey(): DataKeyring {
  ring ??= dataKeyringFrom({ v: 1, current: 'kbench', keys: [{ id: 'kbench', key: randomBytes(32).toString('base64'), created: new Date().toISOString() }] }, '<bench data key>');
  return ring;
}

/**
 * For `bench index --clear` only: a "ring" that frames values exactly as sealing does (same header, same sizes)
 * but copies the bytes instead of encrypting them, so the same run measures the index without the cipher.
 * Never used outside the benchmark (the index has no switch to store in clear).
 */
export function clearBenchRing(): DataKeyring & { benchClear: true } {
  const id = Buffer.from('kclear', 'ascii');
  const headLen = SEAL_MAGIC.length + 1 + id.length + 12 + 16;
  return {
    benchClear: true,
    path: '<bench, no encryption>',
    currentId: 'kclear',
    ids: ['kclear'],
    fingerprint: () => '0000000000000000',
    seal: (plain) => Buffer.concat([SEAL_MAGIC, Buffer.from([id.length]), id, Buffer.alloc(28), plain]),
    open: (sealed) => Buffer.from(sealed.buffer, sealed.byteOffset + headLen, sealed.byteLength - headLen),
    keyIdOf: (v) => sealedKeyId(v),
    needsReseal: () => false,
    reload: async () => undefined,
  };
}
