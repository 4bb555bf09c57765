/**
 * Tokens issued to named people through the real API on a real RocksDB token store: create, list and revoke;
 * the audit names the person; only hashes reach the disk; revoked and expired tokens answer typed 401s and
 * their open live sockets are closed (4401); operators and investigators cannot issue tokens, an admin of one
 * department cannot issue one for another, nor a face grant it does not hold.
 */
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { openTokenStore, sha256Hex, WS_CLOSE_TOKEN, type TokenStore } from '../api/index.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';
import { tempDir } from './support/index-records.js';
import { createRocks, readRange } from '../common/rocks.js';

interface WsClient {
  on(ev: 'message', fn: (data: Buffer) => void): void;
  on(ev: 'open', fn: () => void): void;
  on(ev: 'close', fn: (code: number, reason: Buffer) => void): void;
  on(ev: 'unexpected-response', fn: (req: { destroy(): void }, res: { statusCode: number }) => void): void;
  on(ev: 'error', fn: (err: Error) => void): void;
  close(): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => WsClient;

let h: ApiHarness;
let store: TokenStore;
let storeDir: string;
let cleanupStore: () => void;
test.before(async () => {
  ({ dir: storeDir, cleanup: cleanupStore } = tempDir('api-tokens'));
  store = await openTokenStore({ dir: storeDir });
  h = await startHarness({ perDepartment: 2, tokenStore: store });
});
test.after.always(async () => {
  await h?.close();
  await store?.close();
  cleanupStore?.();
});

interface View { id: string; person: string; role: string; departments: string[]; faces: boolean; state: string; expires: number; revoked: number | null; createdBy: string }

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(h.url + path, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function issue(token: string, body: Record<string, unknown>): Promise<{ token: View; secret: string }> {
  const r = await call('POST', '/api/v1/tokens', token, body);
  if (r.status !== 201) throw new Error(`create answered ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as unknown as { token: View; secret: string };
}

/** The live events socket; resolves once open, records the close code and reason. */
function live(secret: string): Promise<{ ws: WsClient; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/v1/live?token=${encodeURIComponent(secret)}`);
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('unexpected-response', (req, res) => { req.destroy(); reject(Object.assign(new Error('refused'), { status: res.statusCode })); });
    ws.on('error', reject);
    ws.on('open', () => resolve({ ws, closed }));
  });
}

/** Bounded: a socket that is never closed fails the test instead of hanging it. */
const within = <T>(p: Promise<T>, ms = 15_000): Promise<T> =>
  Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`not within ${ms} ms`)), ms).unref())]);

test('tokens - an admin issues a token to a person; it works, is listed without its secret, and the audit names the person', async (t) => {
  const made = await issue(TOKENS.admin, { person: 'Ana Li', role: 'investigator', departments: ['traffic'], expiresIn: '30d' });
  t.regex(made.secret, /^cvc_[A-Za-z0-9_-]{43}$/);
  t.like(made.token, { person: 'Ana Li', role: 'investigator', departments: ['traffic'], faces: true, state: 'active', revoked: null, createdBy: 'admin' });
  t.true(Math.abs(made.token.expires - (Date.now() + 30 * 86_400_000)) < 60_000);
  const search = await h.get('/api/v1/search?class=car', made.secret);
  t.is(search.status, 200);
  // Her scope is traffic only.
  for (const r of ((await search.json()) as { records: Array<{ department: string }> }).records) t.is(r.department, 'traffic');
  t.is((await h.get(`/api/v1/tracks/${encodeURIComponent(h.records['public-security'][0]!.id)}`, made.secret)).status, 404);

  const list = await call('GET', '/api/v1/tokens', TOKENS.admin);
  t.is(list.status, 200);
  const listed = (list.body['tokens'] as View[]).find((x) => x.id === made.token.id);
  t.truthy(listed);
  t.false(JSON.stringify(list.body).includes(made.secret));
  t.false(JSON.stringify(list.body).includes(sha256Hex(made.secret)), 'not even the hash is handed out');
  t.like((await call('GET', `/api/v1/tokens/${made.token.id}`, TOKENS.admin)).body, { id: made.token.id, person: 'Ana Li' });

  const audit = await call('GET', '/api/v1/audit?limit=1000', TOKENS.admin);
  const entries = audit.body['entries'] as Array<{ tokenId: string; action: string; query: Record<string, unknown> }>;
  t.true(entries.some((e) => e.tokenId === `Ana Li (${made.token.id})` && e.action === 'search'), 'the search is written under her name');
  const createEntry = entries.find((e) => e.action === 'token_create' && e.query['person'] === 'Ana Li');
  t.truthy(createEntry);
  t.false(JSON.stringify(entries).includes(made.secret), 'the secret is never audited');
});

test('tokens - only SHA-256 hashes reach the disk', async (t) => {
  const made = await issue(TOKENS.admin, { person: 'Disk Check', role: 'operator', departments: ['*'] });
  // RocksDB compresses its log and tables (zstd), so a grep of the raw files proves little: they are checked,
  // and so is every key and value RocksDB holds, read back through RocksDB from a store closed and reopened raw.
  for (const f of await readdir(storeDir)) {
    const bytes = await readFile(join(storeDir, f)).catch(() => null);
    if (bytes) t.false(bytes.includes(made.secret.slice(4)), `${f} holds the secret`);
  }
  const { dir, cleanup } = tempDir('api-tokens-raw');
  t.teardown(cleanup);
  const own = await openTokenStore({ dir });
  const mine = await own.create({ person: 'Raw Check', role: 'investigator', departments: ['traffic'] }, 'test');
  await own.revoke(mine.token.id, 'test');
  await own.close();
  const db = createRocks(dir);
  await db.open();
  t.teardown(() => db.close());
  const rows = await readRange(db, {});
  t.true(rows.length >= 2);
  const all = rows.map(([k, v]) => k + '\u0000' + (v?.toString('latin1') ?? '')).join('\n');
  t.false(all.includes(mine.secret.slice(4)), 'no key or value holds the secret');
  t.true(all.includes(sha256Hex(mine.secret)), 'the store holds the hash (so the check looked where the tokens are)');
});

test('tokens - revoking works on the next request and closes the token\'s open live socket with 4401', async (t) => {
  const made = await issue(TOKENS.admin, { person: 'Bo Chen', role: 'investigator', departments: ['public-security'] });
  const sock = await live(made.secret);
  t.teardown(() => sock.ws.close());
  t.is((await h.get('/api/v1/search?class=car', made.secret)).status, 200);
  const r = await call('POST', `/api/v1/tokens/${made.token.id}/revoke`, TOKENS.admin);
  t.is(r.status, 200);
  t.like(r.body, { id: made.token.id, state: 'revoked', revokedBy: 'admin' });
  const closed = await within(sock.closed);
  t.deepEqual(closed, { code: WS_CLOSE_TOKEN, reason: 'API_TOKEN_REVOKED' });
  for (const path of ['/api/v1/search?class=car', '/api/v1/cameras', '/api/v1/alerts']) {
    const res = await call('GET', path, made.secret);
    t.is(res.status, 401, path);
    t.is(res.body['code'], 'API_TOKEN_REVOKED', path);
  }
  await t.throwsAsync(live(made.secret), { message: 'refused' });
  // Again: unchanged.
  const again = await call('POST', `/api/v1/tokens/${made.token.id}/revoke`, TOKENS.admin);
  t.is(again.status, 200);
  t.is(again.body['revoked'], r.body['revoked']);
  // A token that never existed is still the plain 401.
  t.is((await call('GET', '/api/v1/cameras', 'cvc_nonsense')).body['code'], 'API_UNAUTHORIZED');
});

test('tokens - an expired token answers API_TOKEN_EXPIRED and its open socket is closed when the expiry passes', async (t) => {
  const made = await issue(TOKENS.admin, { person: 'Short Lived', role: 'operator', departments: ['traffic'], expiresIn: '3s' });
  t.is((await h.get('/api/v1/cameras', made.secret)).status, 200);
  const sock = await live(made.secret);
  t.teardown(() => sock.ws.close());
  const closed = await within(sock.closed);
  t.deepEqual(closed, { code: WS_CLOSE_TOKEN, reason: 'API_TOKEN_EXPIRED' });
  t.true(Date.now() >= made.token.expires);
  const res = await call('GET', '/api/v1/cameras', made.secret);
  t.is(res.status, 401);
  t.is(res.body['code'], 'API_TOKEN_EXPIRED');
  t.is(((await call('GET', `/api/v1/tokens/${made.token.id}`, TOKENS.admin)).body as unknown as View).state, 'expired');
});

test('tokens - operators and investigators cannot issue, list or revoke tokens', async (t) => {
  for (const token of [TOKENS.operator, TOKENS.ps]) {
    const r = await call('POST', '/api/v1/tokens', token, { person: 'Mallory', role: 'admin', departments: ['*'] });
    t.is(r.status, 403);
    t.is(r.body['code'], 'API_FORBIDDEN');
    t.is((await call('GET', '/api/v1/tokens', token)).status, 403);
  }
  t.false(store.list().some((x) => x.person === 'Mallory'));
});

test('tokens - an admin of one department issues, sees and revokes tokens of that department only', async (t) => {
  const trafficAdmin = await issue(TOKENS.admin, { person: 'Traffic Admin', role: 'admin', departments: ['traffic'] });
  const psToken = await issue(TOKENS.admin, { person: 'PS Investigator', role: 'investigator', departments: ['public-security'] });
  for (const departments of [['public-security'], ['traffic', 'public-security'], ['*']]) {
    const r = await call('POST', '/api/v1/tokens', trafficAdmin.secret, { person: 'Someone', role: 'investigator', departments });
    t.is(r.status, 403, departments.join(','));
    t.is(r.body['code'], 'API_FORBIDDEN');
  }
  const own = await issue(trafficAdmin.secret, { person: 'Traffic Desk', role: 'investigator', departments: ['traffic'], faces: false });
  t.is(own.token.createdBy, `Traffic Admin (${trafficAdmin.token.id})`);
  const listed = ((await call('GET', '/api/v1/tokens', trafficAdmin.secret)).body['tokens'] as View[]);
  t.true(listed.some((x) => x.id === own.token.id));
  t.true(listed.every((x) => x.departments.length === 1 && x.departments[0] === 'traffic'));
  // Another department's token answers exactly as a missing one.
  const other = await call('POST', `/api/v1/tokens/${psToken.token.id}/revoke`, trafficAdmin.secret);
  const missing = await call('POST', `/api/v1/tokens/${psToken.token.id}/revoke`.replace(psToken.token.id, 'tok-000000000000'), trafficAdmin.secret);
  t.is(other.status, 404);
  t.is(other.body['code'], 'TOKEN_NOT_FOUND');
  t.is(missing.status, 404);
  t.is(JSON.stringify(other.body).replace(psToken.token.id, 'X'), JSON.stringify(missing.body).replace('tok-000000000000', 'X'));
  t.is(store.get(psToken.token.id)!.revoked, null);
  // An admin without the face grant cannot hand one out.
  const blindAdmin = await issue(TOKENS.admin, { person: 'Blind Admin', role: 'admin', departments: ['traffic'], faces: false });
  const r = await call('POST', '/api/v1/tokens', blindAdmin.secret, { person: 'X', role: 'investigator', departments: ['traffic'] });
  t.is(r.status, 403);
  t.is(r.body['code'], 'API_FACE_GRANT_REQUIRED');
  t.is((await call('POST', '/api/v1/tokens', blindAdmin.secret, { person: 'X', role: 'investigator', departments: ['traffic'], faces: false })).status, 201);
});

test('tokens - bad requests are typed and name the field; nothing is stored', async (t) => {
  const P = 'Bad Request';
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ person: P, role: 'root', departments: ['traffic'] }, 'TOKEN_BAD_REQUEST', 'role'],
    [{ person: P, role: 'operator', departments: ['*', 'traffic'] }, 'TOKEN_BAD_REQUEST', 'departments'],
    [{ person: P, role: 'operator', departments: ['traffic'], expiresIn: '400d' }, 'TOKEN_BAD_REQUEST', 'expiresIn'],
    [{ person: P, role: 'operator', departments: ['traffic'], expiresIn: 'soon' }, 'TOKEN_BAD_REQUEST', 'expiresIn'],
    [{ person: '   ', role: 'operator', departments: ['traffic'] }, 'TOKEN_BAD_REQUEST', 'person'],
    [{ person: P, role: 'operator', departments: [] }, 'API_BAD_REQUEST', 'departments'],
    [{ person: P, role: 'operator', departments: ['traffic'], secret: 'mine' }, 'API_BAD_REQUEST', ''],
  ];
  for (const [body, code, field] of cases) {
    const r = await call('POST', '/api/v1/tokens', TOKENS.admin, body);
    t.is(r.status, 400, JSON.stringify(body));
    t.is(r.body['code'], code, JSON.stringify(body));
    t.true(String(r.body['message']).includes(field), `${String(r.body['message'])} names ${field}`);
  }
  t.false(store.list().some((x) => x.person === P || x.person.trim() === ''));
});

test('tokens - without a token store (an API started without one) the token routes answer 503 API_TOKENS_UNAVAILABLE', async (t) => {
  const bare = await startHarness({ perDepartment: 1 });
  t.teardown(() => bare.close());
  const r = await bare.get('/api/v1/tokens', TOKENS.admin);
  t.is(r.status, 503);
  t.is(((await r.json()) as { code: string }).code, 'API_TOKENS_UNAVAILABLE');
  // Config tokens keep working there.
  t.is((await bare.get('/api/v1/cameras', TOKENS.operator)).status, 200);
});

test('tokens - a store at its bound drops tokens that ended more than 30 days ago (console sessions add up), and refuses when none did', async (t) => {
  const { dir, cleanup } = tempDir('api-tokens-bound');
  t.teardown(cleanup);
  let now = Date.now();
  const s = await openTokenStore({ dir, now: () => now, maxTokens: 4 });
  t.teardown(() => s.close());
  const made = [];
  for (let i = 0; i < 4; i++) made.push((await s.create({ person: `P${i}`, role: 'investigator', departments: ['traffic'], expiresIn: i < 2 ? '1d' : '366d' }, 'admin')).token);
  await s.revoke(made[2]!.id, 'admin');
  // Nothing ended long enough ago: refused, naming the bound.
  const full = await t.throwsAsync(s.create({ person: 'P4', role: 'investigator', departments: ['traffic'] }, 'admin'));
  t.is((full as { code?: string }).code, 'TOKEN_BAD_REQUEST');
  t.regex(full!.message, /holds 4 tokens/);
  // 40 days on: the two that expired after a day and the revoked one ended long ago; a tenth of the bound (one
  // here) goes, the oldest end first: the revocation, before the two expiries.
  now += 40 * 86_400_000;
  const next = await s.create({ person: 'P4', role: 'investigator', departments: ['traffic'] }, 'admin');
  t.deepEqual(s.list().map((x) => x.person).sort(), ['P0', 'P1', 'P3', 'P4']);
  t.truthy(s.get(next.token.id));
  t.is(s.get(made[2]!.id), null);
  await s.create({ person: 'P5', role: 'investigator', departments: ['traffic'] }, 'admin');
  t.deepEqual(s.list().map((x) => x.person).sort(), ['P1', 'P3', 'P4', 'P5'], 'then the earliest expiry');
  // The drop is on disk: a reopened store agrees.
  await s.close();
  const again = await openTokenStore({ dir, now: () => now, maxTokens: 4 });
  t.deepEqual(again.list().map((x) => x.person).sort(), ['P1', 'P3', 'P4', 'P5']);
  await again.close();
});
