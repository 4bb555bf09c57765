/**
 * Tokens issued to named people: create (the secret in this answer only), list, read and revoke. Admins only,
 * and within their departments: an admin of traffic issues traffic tokens and sees and revokes only those (one
 * of another department answers the same 404 as a missing one); only an admin of every department ('*')
 * issues '*' tokens. An admin without the face grant cannot hand one out. Every call is audited; the secret
 * never is. Config tokens (`api.tokens[]`) are not listed here: they are the config's.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, TokenError } from '../common/errors.js';
import { ROLES, coversDepartments, whoOf } from './auth.js';
import type { ApiContext } from './context.js';
import { audited } from './routes-watchlists.js';
import { errors, idParams } from './schemas.js';
import { checkTokenRequest, tokenState, TOKEN_STATES, type IssuedToken, type IssuedTokenStore } from './token-store.js';
import type { Principal } from './types.js';

const str = { type: 'string' } as const;
export const tokenView = {
  type: 'object', description: 'an issued token (never its secret or hash)',
  properties: {
    id: str, person: { ...str, description: 'who holds it: the audit trail names this person' },
    role: { type: 'string', enum: ['investigator', 'operator', 'admin'] },
    departments: { type: 'array', items: str, description: 'department ids, or [\'*\']' },
    faces: { type: 'boolean', description: 'the face grant' },
    created: { type: 'integer' }, expires: { type: 'integer' },
    revoked: { type: ['integer', 'null'] }, revokedBy: { type: ['string', 'null'] }, createdBy: str,
    state: { type: 'string', enum: TOKEN_STATES },
  },
} as const;

function view(t: IssuedToken): IssuedToken & { state: string } {
  return { ...t, state: tokenState(t) };
}

function storeOf(ctx: ApiContext): IssuedTokenStore {
  const s = ctx.o.tokenStore;
  if (!s) throw new ApiError(503, 'API_TOKENS_UNAVAILABLE', 'this api keeps no token store: use config tokens (api.tokens)');
  return s;
}

const notFound = (id: string): TokenError => new TokenError('TOKEN_NOT_FOUND', `no token "${id}"`);

/** Ids the caller may see: tokens wholly within its departments. */
const visible = (p: Principal, t: IssuedToken): boolean => coversDepartments(p, t.departments);

export function tokenRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const access = { roles: ROLES.audit };
  const tags = ['tokens'];

  app.post<{ Body: { person: string; role: string; departments: string[]; faces?: boolean; expiresIn?: string } }>('/api/v1/tokens', {
    config: { access },
    schema: {
      summary: 'issue a token to a named person; the answer holds its secret, which is never shown again (admins, within their departments; audited)', tags,
      body: {
        type: 'object', additionalProperties: false, required: ['person', 'role', 'departments'],
        properties: {
          person: { type: 'string', minLength: 1, maxLength: 120 }, role: { type: 'string' },
          departments: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string' } }, faces: { type: 'boolean', description: 'the face grant (default true)' },
          expiresIn: { type: 'string', maxLength: 32, description: 'lifetime: 30d, 12h, 90m or whole ms (1 s to 366 d, default 90 d)' },
        },
      },
      response: { 201: { type: 'object', properties: { token: tokenView, secret: { type: 'string', description: 'Bearer secret; shown once' } } }, ...errors(400, 503) },
    },
  }, async (req, reply) => {
    const store = storeOf(ctx);
    const p = ctx.principal(req);
    const b = req.body;
    // The audit names who and what was asked for: never the secret.
    const query = { person: b.person, role: b.role, departments: b.departments, faces: b.faces ?? true, expiresIn: b.expiresIn ?? null };
    const out = await audited(ctx, req, 'token_create', query, async () => {
      const r = checkTokenRequest(b);
      if (!coversDepartments(p, r.departments)) {
        throw new ApiError(403, 'API_FORBIDDEN', `this token may not issue tokens for departments ${r.departments.join(',')}: only within its own (${p.departments?.join(',') ?? '*'})`);
      }
      if (r.faces && !p.faces) throw new ApiError(403, 'API_FACE_GRANT_REQUIRED', 'a token without the face grant cannot issue one with it: set faces false');
      const made = await store.create(b, whoOf(p), ctx.tokens.configIds());
      return { value: made, ids: [made.token.id] };
    });
    return reply.status(201).send({ token: view(out.token), secret: out.secret });
  });

  app.get('/api/v1/tokens', {
    config: { access },
    schema: { summary: 'issued tokens within the caller\'s departments, newest first, with their state (admins; audited)', tags, response: { 200: { type: 'object', properties: { tokens: { type: 'array', items: tokenView } } }, ...errors(503) } },
  }, async (req) => {
    const store = storeOf(ctx);
    const p = ctx.principal(req);
    return audited(ctx, req, 'token_list', {}, async () => {
      const tokens = store.list().filter((t) => visible(p, t));
      return { value: { tokens: tokens.map(view) }, ids: tokens.map((t) => t.id) };
    });
  });

  app.get<{ Params: { id: string } }>('/api/v1/tokens/:id', {
    config: { access },
    schema: { summary: 'one issued token (admins; audited)', tags, params: idParams, response: { 200: tokenView, ...errors(404, 503) } },
  }, async (req) => {
    const store = storeOf(ctx);
    const p = ctx.principal(req);
    return audited(ctx, req, 'token_get', { id: req.params.id }, async () => {
      const t = store.get(req.params.id);
      if (!t || !visible(p, t)) throw notFound(req.params.id);
      return { value: view(t), ids: [t.id] };
    });
  });

  app.post<{ Params: { id: string } }>('/api/v1/tokens/:id/revoke', {
    config: { access },
    schema: {
      summary: 'revoke an issued token: it stops counting on every route at once and its open WebSockets are closed (4401); again: unchanged (admins; audited)', tags,
      params: idParams, response: { 200: tokenView, ...errors(404, 503) },
    },
  }, async (req) => {
    const store = storeOf(ctx);
    const p = ctx.principal(req);
    return audited(ctx, req, 'token_revoke', { id: req.params.id }, async () => {
      const t = store.get(req.params.id);
      if (!t || !visible(p, t)) throw notFound(req.params.id);
      const r = await store.revoke(t.id, whoOf(p));
      return { value: view(r!), ids: [t.id] };
    });
  });
}
