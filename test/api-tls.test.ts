/**
 * The API over HTTPS with a throw-away CA made by openssl (Debian), and plain HTTP kept to loopback: a request,
 * the live WebSocket over wss, a plain-HTTP client refused, and the typed errors of a bad set-up (a file that
 * does not read, a certificate that does not match its key, an expired certificate, a non-loopback host
 * without TLS).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { request as plainRequest } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadApiTls, startApi } from '../api/index.js';
import { ConfigError } from '../common/errors.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';

interface WsClient { on(ev: 'message', fn: (d: Buffer) => void): void; on(ev: 'error', fn: (e: Error) => void): void; close(): void }
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string, opts: { ca: Buffer }) => WsClient;

let dir = '';
let ca: Buffer;
const pki = { cert: '', key: '', otherKey: '' };

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cvcore-tls-'));
  const o = (args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }); };
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=cvcore test CA']);
  o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  o(['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'other.key']);
  ca = await readFile(join(dir, 'ca.pem'));
  pki.cert = join(dir, 'server.pem');
  pki.key = join(dir, 'server.key');
  pki.otherKey = join(dir, 'other.key');
});
test.after.always(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

function get(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test.serial('https: requests and the live WebSocket over TLS; a plain-HTTP client gets no answer', async (t) => {
  const h: ApiHarness = await startHarness({ perDepartment: 1, transport: { tls: { cert: pki.cert, key: pki.key }, allowPlainHttp: false } });
  t.teardown(() => h.close());
  t.regex(h.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const res = await get(`${h.url}/api/v1/search?class=person`, TOKENS.ps);
  t.is(res.status, 200);
  t.true((JSON.parse(res.body) as { records: unknown[] }).records.length > 0);
  // The live socket over wss, with the same CA.
  const hello = await new Promise<{ type: string }>((resolve, reject) => {
    const ws = new WebSocket(`${h.url.replace('https', 'wss')}/api/v1/live?token=${TOKENS.ps}`, { ca });
    ws.on('message', (d) => { ws.close(); resolve(JSON.parse(d.toString()) as { type: string }); });
    ws.on('error', reject);
  });
  t.is(hello.type, 'hello');
  // Plain HTTP to the TLS port: no HTTP answer.
  const plain = await new Promise<string>((resolve) => {
    const req = plainRequest(h.url.replace('https', 'http') + '/health', (r) => resolve(`status ${r.statusCode}`));
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.setTimeout(5_000, () => { req.destroy(); resolve('timeout'); });
    req.end();
  });
  t.notRegex(plain, /^status 200/);
});

test('set-up errors are typed and name the config path', async (t) => {
  const err = async (p: Promise<unknown>): Promise<ConfigError> => (await t.throwsAsync(p, { instanceOf: ConfigError }))!;
  const missing = await err(loadApiTls({ tls: { cert: join(dir, 'nope.pem'), key: pki.key }, allowPlainHttp: false }, '127.0.0.1'));
  t.is(missing.code, 'CONFIG_TLS_UNREADABLE');
  t.is(missing.detail['path'], 'api.tls.cert');
  const notPem = await err(loadApiTls({ tls: { cert: join(dir, 'san.ext'), key: pki.key }, allowPlainHttp: false }, '127.0.0.1'));
  t.is(notPem.code, 'CONFIG_TLS_UNREADABLE');
  const mismatch = await err(loadApiTls({ tls: { cert: pki.cert, key: pki.otherKey }, allowPlainHttp: false }, '127.0.0.1'));
  t.is(mismatch.code, 'CONFIG_TLS_KEY_MISMATCH');
  t.is(mismatch.detail['path'], 'api.tls.key');
  const expired = await err(loadApiTls({ tls: { cert: pki.cert, key: pki.key }, allowPlainHttp: false }, '127.0.0.1', Date.now() + 30 * 86_400_000));
  t.is(expired.code, 'CONFIG_TLS_EXPIRED');
  t.truthy(await loadApiTls({ tls: { cert: pki.cert, key: pki.key }, allowPlainHttp: false }, '0.0.0.0'));
  // Plain HTTP: loopback yes; any other address only when explicitly allowed.
  t.is(await loadApiTls({ tls: null, allowPlainHttp: false }, '127.0.0.1'), null);
  t.is(await loadApiTls({ tls: null, allowPlainHttp: false }, '::1'), null);
  const open = await err(loadApiTls({ tls: null, allowPlainHttp: false }, '0.0.0.0'));
  t.is(open.code, 'CONFIG_PLAIN_HTTP_REFUSED');
  t.is(await loadApiTls({ tls: null, allowPlainHttp: true }, '0.0.0.0'), null);
});

test('a core that would serve plain HTTP beyond loopback does not start', async (t) => {
  const h = await startHarness({ perDepartment: 1 });
  t.teardown(() => h.close());
  await t.throwsAsync(startApi({
    host: '0.0.0.0', port: 0, index: h.index, cameras: h.cameras, history: h.history, events: null, stats: null, alerts: null, faces: null,
    access: { tokens: [], rateLimit: { perMinute: 60, burst: 10 }, maxUploadBytes: 1024 * 1024 }, log: (await import('../common/log.js')).createLogger({ level: 'error', sink: () => undefined }),
  }), { code: 'CONFIG_PLAIN_HTTP_REFUSED' } as never);
});
