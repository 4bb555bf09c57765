/** A throw-away data key ring for benchmarks that open an index in a temporary folder (one per process). */
import { randomBytes } from 'node:crypto';
import { dataKeyringFrom, type DataKeyring } from '../common/data-key.js';

let ring: DataKeyring | null = null;

export function benchDataKey(): DataKeyring {
  ring ??= dataKeyringFrom({ v: 1, current: 'kbench', keys: [{ id: 'kbench', key: randomBytes(32).toString('base64'), created: new Date().toISOString() }] }, '<bench data key>');
  return ring;
}
