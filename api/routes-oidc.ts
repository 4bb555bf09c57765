/**
 * Console sign-in through OpenID Connect (api/oidc.ts): where the console learns whether it is on, the start of a
 * login (a redirect to the provider), and the callback, which issues the person a session token and hands it to
 * the console on a page of its own: the secret goes from this answer into the console's storage, never into a URL
 * (no history, no referrer, no proxy log holds it). Every sign-in, and every refused one, is in the audit trail.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, CvcoreError } from '../common/errors.js';
import type { ApiContext } from './context.js';
import { cookieValue, OIDC_COOKIE, OIDC_COOKIE_PATH, OIDC_LOGIN_TTL_MS, OidcLogin } from './oidc.js';
import { httpStatusFor } from './errors.js';
import { errors } from './schemas.js';

/** The console keeps its token under this key (console/src/api.ts TOKEN_KEY). */
const CONSOLE_TOKEN_KEY = 'cvcore.console.token';
const LOGIN_PATH = '/api/v1/auth/oidc/login';

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' })[c]!);

function page(reply: FastifyReply, status: number, body: string, nonce?: string): FastifyReply {
  return reply.status(status).type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'${nonce ? `; script-src 'nonce-${nonce}'` : ''}`)
    .send(`<!doctype html><html><head><meta charset="utf-8"><title>cvcore</title></head><body style="font-family:sans-serif;margin:3em">${body}</body></html>`);
}

export function oidcRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { o } = ctx;
  const settings = o.access.oidc ?? null;
  // Configured but unusable (no token store or no data key) is said at each login, not hidden.
  const login = settings && o.dataKey ? new OidcLogin(settings, o.dataKey) : null;
  const tags = ['auth'];
  const secure = (o.transport?.tls ?? null) !== null;
  const cookie = (value: string, maxAgeS: number): string =>
    `${OIDC_COOKIE}=${value}; Path=${OIDC_COOKIE_PATH}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  const unavailable = (): ApiError => new ApiError(503, 'API_OIDC_UNAVAILABLE', !settings
    ? 'sign-in through an OpenID Connect provider is not configured (api.oidc): sign in with a token'
    : 'this api cannot issue console sessions (it has no token store or no data key): sign in with a token');

  app.get('/api/v1/auth/oidc', {
    config: { access: { public: true } },
    schema: {
      summary: 'whether the console can sign in through the OpenID Connect provider, and where to start', tags,
      response: { 200: { type: 'object', properties: { enabled: { type: 'boolean' }, label: { type: ['string', 'null'] }, loginUrl: { type: ['string', 'null'] } } } },
    },
  }, async () => {
    const on = login !== null && !!o.tokenStore;
    return { enabled: on, label: on ? login.label : null, loginUrl: on ? LOGIN_PATH : null };
  });

  app.get(LOGIN_PATH, {
    config: { access: { public: true }, openapi: { produces: 'text/html' } },
    schema: { summary: 'start a console sign-in: a redirect to the provider, with the login\'s state in a sealed cookie', tags, response: { ...errors(502, 503) } },
  }, async (_req, reply) => {
    if (!login || !o.tokenStore) throw unavailable();
    const { url, cookie: sealed } = await login.start();
    return reply.status(302).header('set-cookie', cookie(sealed, Math.floor(OIDC_LOGIN_TTL_MS / 1000))).header('cache-control', 'no-store').header('location', url).send();
  });

  app.get('/api/v1/auth/oidc/callback', {
    config: { access: { public: true }, openapi: { produces: 'text/html' } },
    schema: { summary: 'the provider sends the browser back here: a session token is issued and handed to the console (an HTML page; errors too)', tags },
  }, async (req: FastifyRequest, reply) => {
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    reply.header('set-cookie', cookie('', 0));
    let subject: string | null = null;
    try {
      if (!login || !o.tokenStore) throw unavailable();
      const who = await login.finish(query, cookieValue(req.headers.cookie, OIDC_COOKIE));
      subject = who.subject;
      const made = await o.tokenStore.create(
        { person: who.person, role: who.role, departments: [...who.departments], faces: who.faces, expiresIn: settings!.sessionMs },
        `oidc:${who.subject}`, ctx.tokens.configIds(),
      );
      await o.index.appendAudit({
        at: Date.now(), tokenId: `${who.person} (${made.token.id})`, role: who.role, department: who.departments.join(','), action: 'oidc_login',
        query: { issuer: settings!.issuer, subject: who.subject, group: who.group, expires: made.token.expires }, results: [made.token.id],
      });
      const nonce = randomBytes(16).toString('base64');
      // JSON inside a script: '<' escaped so nothing in it can close the element.
      const js = (v: string): string => JSON.stringify(v).replace(/</g, '\\u003c');
      return page(reply, 200,
        `<p>Signed in as ${escapeHtml(who.person)}. Opening the console…</p>`
        + `<script nonce="${nonce}">try{localStorage.setItem(${js(CONSOLE_TOKEN_KEY)},${js(made.secret)})}catch(e){};location.replace('/console/')</script>`
        + '<noscript><p>The console needs JavaScript.</p></noscript>', nonce);
    } catch (err) {
      const e = err instanceof CvcoreError ? err : new ApiError(500, 'API_INTERNAL', 'the sign-in failed');
      const status = httpStatusFor(e);
      if (subject !== null || e.code === 'API_OIDC_NO_GROUP') {
        await o.index.appendAudit({
          at: Date.now(), tokenId: `oidc:${subject ?? String(e.detail['subject'] ?? '?')}`, role: 'none', department: '', action: 'oidc_login_refused',
          query: { issuer: settings?.issuer ?? null, error: e.code }, results: 0,
        }).catch(() => undefined);
      }
      o.log.warn('console sign-in failed', { code: e.code, error: e.message });
      // A browser (the provider sends one back here) gets a page; anything else the API's JSON error.
      if (!/text\/html/.test(req.headers.accept ?? '')) throw e;
      return page(reply, status, `<h1>Sign-in failed</h1><p><code data-code="${escapeHtml(e.code)}">${escapeHtml(e.code)}</code>: ${escapeHtml(e.message)}</p><p><a href="/console/">Back to the console</a></p>`);
    }
  });
}
