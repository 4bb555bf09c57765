/**
 * How the API crosses a wire: HTTPS with the configured certificate and key (`api.tls`), or plain HTTP only on a
 * loopback address unless the config explicitly allows it (`api.allowPlainHttp`), since bearer tokens and
 * personal data would otherwise cross the network in clear. Problems are found at start, before listening: a
 * file that does not read or is not PEM, a certificate that does not match its key, an expired certificate.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { ConfigError } from '../common/errors.js';
import type { ApiConfig } from '../config/index.js';

export type ApiTransport = Pick<ApiConfig, 'tls' | 'allowPlainHttp'>;

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The certificate and key to serve HTTPS with, or null for plain HTTP; typed errors naming the config path. */
export async function loadApiTls(t: ApiTransport, host: string, now = Date.now()): Promise<{ cert: Buffer; key: Buffer } | null> {
  if (!t.tls) {
    if (!isLoopback(host) && !t.allowPlainHttp) {
      throw new ConfigError('CONFIG_PLAIN_HTTP_REFUSED',
        `api.host: "${host}" is not a loopback address and api.tls is not set: set api.tls (cert and key) to serve HTTPS, or api.allowPlainHttp to serve tokens and personal data in clear`,
        { detail: { path: 'api.tls' } });
    }
    return null;
  }
  const read = async (path: 'cert' | 'key'): Promise<Buffer> => {
    try {
      return await readFile(t.tls![path]);
    } catch (err) {
      throw new ConfigError('CONFIG_TLS_UNREADABLE', `api.tls.${path}: ${t.tls![path]} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err, detail: { path: `api.tls.${path}` } });
    }
  };
  const [cert, key] = [await read('cert'), await read('key')];
  let x509: X509Certificate;
  try { x509 = new X509Certificate(cert); } catch (err) {
    throw new ConfigError('CONFIG_TLS_UNREADABLE', `api.tls.cert: ${t.tls.cert} is not a PEM certificate`, { cause: err, detail: { path: 'api.tls.cert' } });
  }
  let priv;
  try { priv = createPrivateKey(key); } catch (err) {
    throw new ConfigError('CONFIG_TLS_UNREADABLE', `api.tls.key: ${t.tls.key} is not a PEM private key (an encrypted key is not supported)`, { cause: err, detail: { path: 'api.tls.key' } });
  }
  if (!x509.checkPrivateKey(priv)) {
    throw new ConfigError('CONFIG_TLS_KEY_MISMATCH', `api.tls.key: ${t.tls.key} is not the key of the certificate ${t.tls.cert} (${x509.subject.replace(/\n/g, ', ')})`, { detail: { path: 'api.tls.key' } });
  }
  const until = Date.parse(x509.validTo);
  if (Number.isFinite(until) && until < now) {
    throw new ConfigError('CONFIG_TLS_EXPIRED', `api.tls.cert: ${t.tls.cert} expired on ${x509.validTo}`, { detail: { path: 'api.tls.cert' } });
  }
  return { cert, key };
}
