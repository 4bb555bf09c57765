import test from 'ava';
import { ConfigError } from '../common/errors.js';
import { parseConfig } from '../config/index.js';
import { sha256Hex } from '../api/index.js';
import { DEMO_TOKENS } from '../runtime/index.js';

const tok = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ id: 't1', token: 'a-long-secret', role: 'investigator', departments: ['traffic'], ...extra });
const pathOf = (fn: () => unknown): unknown => {
  try { fn(); } catch (err) { if (err instanceof ConfigError) return err.detail['path']; throw err; }
  return null;
};

test('config - api defaults: no tokens, a rate limit and a 5 MiB upload limit', (t) => {
  const cfg = parseConfig({});
  t.deepEqual(cfg.api.tokens, []);
  t.deepEqual(cfg.api.rateLimit, { perMinute: 600, burst: 60 });
  t.is(cfg.api.maxUploadBytes, 5 * 1024 * 1024);
  t.is(parseConfig({ api: { tokens: DEMO_TOKENS } }).api.tokens.length, 4);
});

test('config - api tokens are checked field by field and across tokens', (t) => {
  t.is(parseConfig({ api: { tokens: [tok({ token: undefined, tokenSha256: sha256Hex('x-secret-1') })] } }).api.tokens[0]!.tokenSha256, sha256Hex('x-secret-1'));
  t.is(pathOf(() => parseConfig({ api: { tokens: [tok({ role: 'root' })] } })), 'api.tokens[0].role');
  t.is(pathOf(() => parseConfig({ api: { tokens: [tok({ token: 'short' })] } })), 'api.tokens[0].token');
  t.is(pathOf(() => parseConfig({ api: { tokens: [tok({ token: undefined })] } })), 'api.tokens[0].token');
  t.is(pathOf(() => parseConfig({ api: { tokens: [tok({ tokenSha256: sha256Hex('a-long-secret') })] } })), 'api.tokens[0].token');
  t.is(pathOf(() => parseConfig({ api: { tokens: [tok({ tokenSha256: 'ABC' , token: undefined })] } })), 'api.tokens[0].tokenSha256');
  t.is(pathOf(() => parseConfig({ api: { tokens: [tok({ departments: [] })] } })), 'api.tokens[0].departments');
  t.is(pathOf(() => parseConfig({ api: { tokens: [tok({ departments: ['*', 'traffic'] })] } })), 'api.tokens[0].departments');
  t.is(pathOf(() => parseConfig({ api: { tokens: [tok(), tok()] } })), 'api.tokens[1].id');
  // One secret for two holders (once in clear, once as its hash) could not be told apart in the audit log.
  t.is(pathOf(() => parseConfig({ api: { tokens: [tok(), tok({ id: 't2', token: undefined, tokenSha256: sha256Hex('a-long-secret') })] } })), 'api.tokens[1].tokenSha256');
  t.is(pathOf(() => parseConfig({ api: { rateLimit: { perMinute: 0 } } })), 'api.rateLimit.perMinute');
  t.is(pathOf(() => parseConfig({ api: { tokens: [tok({ scope: 'all' })] } })), 'api.tokens[0].scope');
});
