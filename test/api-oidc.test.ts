/**
 * Console sign-in through OpenID Connect against a real provider: npm oidc-provider (a certified OpenID Provider
 * implementation) on 127.0.0.1, its own login and consent pages, and the real API with a RocksDB token store.
 * A browser is played with fetch and a cookie jar: the console's start, the provider's pages, the callback.
 * A person in a configured group gets a session token of sessionMs with that group's role, departments and face
 * grant, audited under their name; a person in no group is refused (403 API_OIDC_NO_GROUP, audited); a callback
 * without this browser's state, or with a forged one, is refused (400 API_OIDC_STATE); without api.oidc the
 * routes say so (503 API_OIDC_UNAVAILABLE) and the console learns it is off.
 */
import test from 'ava';
import { createServer, type Server } from 'node:http';
import Provider from 'oidc-provider';
import { openTokenStore, sha256Hex, type TokenStore } from '../api/index.js';
import { freePort } from '../common/net.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';
import { tempDir } from './support/index-records.js';
import { launchBrowser, playwrightAvailable } from './support/browser.js';
import { testDataKey } from './support/data-key.js';
import { OidcLogin } from '../api/oidc.js';
import { parseConfig } from '../config/index.js';

const ACCOUNTS: Record<string, { name: string; groups: string[] }> = {
  ana: { name: 'Ana Li', groups: ['staff', 'police-investigators'] },
  bo: { name: 'Bo Chen', groups: ['traffic-desk'] },
  eve: { name: 'Eve Stranger', groups: ['visitors'] },
};

let idp: Server | null = null;
let issuer = '';
let h: ApiHarness;
let store: TokenStore;
const cleanups: Array<() => unknown> = [];

test.before(async () => {
  const idpPort = await freePort();
  const apiPort = await freePort();
  issuer = `http://127.0.0.1:${idpPort}`;
  const callback = `http://127.0.0.1:${apiPort}/api/v1/auth/oidc/callback`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'cvcore-console', client_secret: 'a-test-secret-for-the-console', redirect_uris: [callback], response_types: ['code'], grant_types: ['authorization_code'] }],
    claims: { openid: ['sub'], profile: ['name'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'groups'],
    async findAccount(_ctx: unknown, id: string) {
      const a = ACCOUNTS[id];
      if (!a) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, name: a.name, groups: a.groups }) };
    },
    cookies: { keys: ['cvcore-test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    // Set, so the provider does not print a notice for each default.
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
  });
  idp = createServer(provider.callback());
  await new Promise<void>((r) => idp!.listen(idpPort, '127.0.0.1', r));
  const { dir, cleanup } = tempDir('api-oidc');
  cleanups.push(cleanup);
  store = await openTokenStore({ dir });
  cleanups.push(() => store.close());
  h = await startHarness({
    perDepartment: 2, tokenStore: store, port: apiPort,
    oidc: {
      issuer, clientId: 'cvcore-console', clientSecret: 'a-test-secret-for-the-console', redirectUrl: callback, scopes: ['openid', 'profile', 'groups'],
      groups: [
        { group: 'police-investigators', role: 'investigator', departments: ['public-security'] },
        { group: 'traffic-desk', role: 'investigator', departments: ['traffic'], faces: false },
      ],
      sessionMs: 3_600_000, label: 'City ID',
    },
  });
  cleanups.push(() => h.close());
});
test.after.always(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  await new Promise((r) => (idp ? idp.close(r) : r(undefined)));
});

/** A browser's cookies and redirects, enough for the provider's pages and ours. */
class Browser {
  readonly #jar = new Map<string, Map<string, string>>();
  async go(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ url: string; status: number; text: string }> {
    let current = url;
    let method = init.method ?? 'GET';
    let body: string | undefined = init.form ? new URLSearchParams(init.form).toString() : undefined;
    for (let hop = 0; hop < 20; hop++) {
      const u = new URL(current);
      const cookies = [...(this.#jar.get(u.host) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(current, {
        method, redirect: 'manual',
        headers: { accept: 'text/html,application/xhtml+xml', ...(cookies ? { cookie: cookies } : {}), ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair!.indexOf('=');
        const jar = this.#jar.get(u.host) ?? new Map<string, string>();
        this.#jar.set(u.host, jar);
        const value = pair!.slice(i + 1);
        if (value === '' || /max-age=0/i.test(c) || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(pair!.slice(0, i)); else jar.set(pair!.slice(0, i), value);
      }
      const loc = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && loc) {
        current = new URL(loc, current).href;
        method = 'GET';
        body = undefined;
        await res.arrayBuffer();
        continue;
      }
      return { url: current, status: res.status, text: await res.text() };
    }
    throw new Error('too many redirects');
  }
  forget(host: string): void { this.#jar.delete(host); }
}

const formAction = (html: string, base: string): string => new URL(/<form[^>]*action="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&'), base).href;

/** The whole sign-in as a person would do it: the console's button, the provider's login and consent pages. */
async function signIn(b: Browser, login: string): Promise<{ status: number; text: string; url: string }> {
  let page = await b.go(`${h.url}/api/v1/auth/oidc/login`);
  if (page.url.startsWith(issuer)) {
    page = await b.go(formAction(page.text, page.url), { method: 'POST', form: { prompt: 'login', login, password: 'any' } });
    if (page.url.startsWith(issuer) && /name="prompt" value="consent"/.test(page.text)) {
      page = await b.go(formAction(page.text, page.url), { method: 'POST', form: { prompt: 'consent' } });
    }
  }
  return page;
}

const secretOf = (html: string): string => JSON.parse(/setItem\("cvcore\.console\.token",("[^"]+")\)/.exec(html)![1]!) as string;
const codeOf = (html: string): string | undefined => /data-code="([A-Z_]+)"/.exec(html)?.[1];

test.serial('oidc - the console learns the provider is on; a person in a configured group signs in and gets that group\'s scope, under their name', async (t) => {
  const info = await (await fetch(`${h.url}/api/v1/auth/oidc`)).json() as { enabled: boolean; label: string; loginUrl: string };
  t.deepEqual(info, { enabled: true, label: 'City ID', loginUrl: '/api/v1/auth/oidc/login' });

  const b = new Browser();
  const page = await signIn(b, 'ana');
  t.is(page.status, 200, page.text.slice(0, 300));
  t.true(page.url.startsWith(`${h.url}/api/v1/auth/oidc/callback?`));
  t.regex(page.text, /Signed in as Ana Li/);
  const secret = secretOf(page.text);
  t.regex(secret, /^cvc_/);
  t.false(page.url.includes(secret), 'the secret is never in a URL');

  // An ordinary token of the store from here on: her group's role and departments, the session's expiry.
  const mine = store.list().find((x) => x.person === 'Ana Li')!;
  t.like(mine, { role: 'investigator', departments: ['public-security'], faces: true, createdBy: 'oidc:ana', revoked: null });
  t.true(Math.abs(mine.expires - (Date.now() + 3_600_000)) < 60_000);
  const search = await h.get('/api/v1/search?class=car', secret);
  t.is(search.status, 200);
  for (const r of ((await search.json()) as { records: Array<{ department: string }> }).records) t.is(r.department, 'public-security');

  const audit = ((await (await h.get('/api/v1/audit?limit=1000', TOKENS.admin)).json()) as { entries: Array<{ tokenId: string; action: string; query: Record<string, unknown> }> }).entries;
  t.truthy(audit.find((e) => e.action === 'oidc_login' && e.tokenId === `Ana Li (${mine.id})` && e.query['group'] === 'police-investigators' && e.query['subject'] === 'ana'));
  t.true(audit.some((e) => e.action === 'search' && e.tokenId === `Ana Li (${mine.id})`), 'what she does is written under her name');

  // A second group's member gets that group's mapping (no face grant here).
  const bo = await signIn(new Browser(), 'bo');
  t.is(bo.status, 200);
  t.like(store.list().find((x) => x.person === 'Bo Chen'), { departments: ['traffic'], faces: false });
});

test.serial('oidc - a person in no configured group is refused and audited; no token is issued', async (t) => {
  const before = store.list().length;
  const page = await signIn(new Browser(), 'eve');
  t.is(page.status, 403);
  t.is(codeOf(page.text), 'API_OIDC_NO_GROUP');
  t.is(store.list().length, before);
  const audit = ((await (await h.get('/api/v1/audit?limit=1000', TOKENS.admin)).json()) as { entries: Array<{ tokenId: string; action: string }> }).entries;
  t.true(audit.some((e) => e.action === 'oidc_login_refused' && e.tokenId === 'oidc:eve'));
});

test.serial('oidc - a callback without this browser\'s state, or with a forged state cookie, is refused with API_OIDC_STATE', async (t) => {
  // Start in one browser, finish in another (a link sent to someone else): the second has no state cookie.
  const a = new Browser();
  let page = await a.go(`${h.url}/api/v1/auth/oidc/login`);
  page = await a.go(formAction(page.text, page.url), { method: 'POST', form: { prompt: 'login', login: 'ana', password: 'any' } });
  if (/name="prompt" value="consent"/.test(page.text)) page = await a.go(formAction(page.text, page.url), { method: 'POST', form: { prompt: 'consent' } });
  t.is(page.status, 200, 'the first browser finishes');
  const callback = page.url;
  const other = await fetch(callback, { headers: { accept: 'text/html' } });
  t.is(other.status, 400);
  t.is(codeOf(await other.text()), 'API_OIDC_STATE');
  // Not a browser: the API's JSON error.
  const forged = await fetch(callback, { headers: { cookie: 'cvcore_oidc=Q1ZFMQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
  t.is(forged.status, 400);
  t.like(await forged.json(), { code: 'API_OIDC_STATE' });
  // The provider's own refusal (the person said no) comes back as one of ours, for the browser that started.
  const start = await fetch(`${h.url}/api/v1/auth/oidc/login`, { redirect: 'manual' });
  t.is(start.status, 302);
  const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
  const cookie = start.headers.getSetCookie()[0]!.split(';')[0]!;
  const denied = await fetch(`${h.url}/api/v1/auth/oidc/callback?error=access_denied&error_description=the+user+said+no&state=${state}`, { headers: { cookie, accept: 'text/html' } });
  t.is(denied.status, 502);
  const text = await denied.text();
  t.is(codeOf(text), 'API_OIDC_PROVIDER');
  t.regex(text, /access_denied/);
});

test('oidc - without api.oidc the console learns it is off and the login answers 503 API_OIDC_UNAVAILABLE; an http provider off this machine is a config error', async (t) => {
  const bare = await startHarness({ perDepartment: 1 });
  t.teardown(() => bare.close());
  t.deepEqual(await (await fetch(`${bare.url}/api/v1/auth/oidc`)).json(), { enabled: false, label: null, loginUrl: null });
  const r = await fetch(`${bare.url}/api/v1/auth/oidc/login`, { redirect: 'manual' });
  t.is(r.status, 503);
  t.is(((await r.json()) as { code: string }).code, 'API_OIDC_UNAVAILABLE');
  // A provider reached over plain HTTP off this machine: the API does not start (startApi builds this), naming the field.
  const cfg = parseConfig({ api: { oidc: { issuer: 'http://10.1.2.3/realms/city', clientId: 'c', redirectUrl: 'https://core.example/api/v1/auth/oidc/callback', groups: [{ group: 'g', role: 'admin', departments: ['*'] }] } } });
  const err = t.throws(() => new OidcLogin(cfg.api.oidc!, testDataKey()));
  t.is((err as { code?: string }).code, 'CONFIG_INVALID_VALUE');
  t.regex(err!.message, /api\.oidc\.issuer must be https/);
});

const unavailable = playwrightAvailable();
(unavailable && process.env['CI'] !== 'true' ? test.serial.skip : test.serial)('oidc - in the console: the provider\'s button, its login and consent pages in a real browser, and back in the console signed in as the person', async (t) => {
  if (unavailable) { t.fail(unavailable); return; }
  t.timeout(120_000);
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(`${h.url}/console/`);
  const button = page.getByTestId('sso');
  await button.waitFor({ timeout: 15_000 });
  t.regex(await button.innerText(), /City ID/);
  await button.click();
  // The provider's own pages.
  await page.locator('input[name="login"]').waitFor({ timeout: 15_000 });
  await page.locator('input[name="login"]').fill('ana');
  await page.locator('input[name="password"]').fill('any');
  await page.locator('button[type="submit"]').click();
  await page.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached', timeout: 15_000 });
  await page.locator('button[type="submit"]').click();
  // Back in the console, signed in: the header names the role, and the token in storage is Ana's session.
  await page.getByTestId('who').waitFor({ timeout: 30_000 });
  const secret = await page.evaluate<string | null>('localStorage.getItem("cvcore.console.token")');
  t.truthy(secret);
  t.like(store.byHash(sha256Hex(secret!)), { person: 'Ana Li', role: 'investigator', departments: ['public-security'], createdBy: 'oidc:ana' });
  t.is((await h.get('/api/v1/search?class=car', secret)).status, 200);
  t.false((await page.evaluate<string>('location.href')).includes(secret!), 'the secret is in no URL the browser kept');
});
