/**
 * The HTTP API (fastify): search, face search, track detail and thumbnails, the audit log, cameras (list, add,
 * change, remove, health), alert history, zone counts, snapshots, a live WebSocket, Prometheus metrics and an
 * OpenAPI document generated from the route schemas, watch-lists and the alarm log, signed evidence exports, and (in cluster mode) the cluster's status and node drain. Every guarded route needs a bearer token (role + departments)
 * and passes a per-token rate limit; errors answer `{ code, message }` with a stable code. The investigators'
 * console (console/dist) is served at /console/.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import websocket from '@fastify/websocket';
import { ApiError, CvcoreError } from '../common/errors.js';
import { TokenTable, bearerOf } from './auth.js';
import { createContext, type AccessRule } from './context.js';
import { httpStatusFor } from './errors.js';
import { createMetrics } from './metrics.js';
import { OpenApiCollector } from './openapi.js';
import { TokenBuckets } from './rate-limit.js';
import { cameraRoutes } from './routes-cameras.js';
import { clusterRoutes } from './routes-cluster.js';
import { recordRoutes } from './routes-records.js';
import { auditRoutes } from './routes-audit.js';
import { watchlistRoutes } from './routes-watchlists.js';
import { alarmRoutes } from './routes-alarms.js';
import { exportRoutes } from './routes-exports.js';
import { loadApiTls } from './tls.js';
import { recordingRoutes } from './routes-recordings.js';
import { tokenRoutes } from './routes-tokens.js';
import { erasureRoutes } from './routes-erasures.js';
import type { ApiOptions } from './types.js';
import { registerConsole } from '../console/serve.js';
import { oidcRoutes } from './routes-oidc.js';

export const API_VERSION = '1.0.0';
/** JSON bodies (camera configs) are small; the face upload has its own limit (config api.maxUploadBytes). */
export const JSON_BODY_LIMIT = 1 << 20;

export interface ApiServer {
  readonly app: FastifyInstance;
  readonly url: string;
  close(): Promise<void>;
}

/** fastify and plugin errors that are the client's fault, mapped to the API's stable codes. */
const PLUGIN_CODES: Record<string, { status: number; code: string }> = {
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'API_PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'API_PAYLOAD_TOO_LARGE' },
  FST_FILES_LIMIT: { status: 413, code: 'API_PAYLOAD_TOO_LARGE' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, code: 'API_UNSUPPORTED_MEDIA' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'API_UNSUPPORTED_MEDIA' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'API_BAD_REQUEST' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'API_BAD_REQUEST' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'API_BAD_REQUEST' },
  FST_PARTS_LIMIT: { status: 400, code: 'API_BAD_REQUEST' },
  FST_FIELDS_LIMIT: { status: 400, code: 'API_BAD_REQUEST' },
};

/**
 * busboy (under @fastify/multipart) throws plain Errors, without a code, for a body that is not the multipart it
 * claims: no boundary, a boundary too long or empty, data cut short. They are the client's, not a 500 (found by
 * test/fuzz-routes.test.ts).
 */
const MULTIPART_MALFORMED = { status: 400, code: 'API_BAD_REQUEST' } as const;
const BUSBOY_MESSAGES = [/^Multipart: Boundary not found$/, /^Boundary required$/, /unexpected end of multipart data$/i, /^The needle /];
function isMultipartParseError(err: unknown): boolean {
  return err instanceof Error && !(err instanceof CvcoreError) && (err as { statusCode?: unknown }).statusCode === undefined && BUSBOY_MESSAGES.some((re) => re.test(err.message));
}

export async function startApi(o: ApiOptions): Promise<ApiServer> {
  const tokens = new TokenTable(o.access.tokens, o.tokenStore ?? null);
  const buckets = new TokenBuckets(o.access.rateLimit);
  const metrics = createMetrics({ cameras: o.cameras, stats: o.stats, alerts: o.alerts, index: o.index, recordings: o.recordings ?? null });
  const ctx = createContext(o, metrics, tokens);
  // A revocation reaches the sockets the token already holds, not only its next request.
  const unfollow = o.tokenStore?.onChange((c) => { if (c.type === 'revoked') ctx.sockets.closeToken(c.token.id, 'API_TOKEN_REVOKED'); }) ?? (() => undefined);
  const openapi = new OpenApiCollector();
  if (tokens.size === 0) o.log.warn('api: no tokens configured (config api.tokens); every guarded route answers 401');

  // Before anything listens: HTTPS with a certificate that matches its key, or plain HTTP on loopback only.
  const tls = await loadApiTls(o.transport ?? { tls: null, allowPlainHttp: false }, o.host);
  const base = {
    logger: false,
    bodyLimit: JSON_BODY_LIMIT,
    // Unknown query keys are an error, not silently dropped: a typo must not widen a search.
    ajv: { customOptions: { removeAdditional: false } },
    // Ids are at most 256 characters by schema (a longer one is a 400 naming the field); the router's own limit sits
    // above that, and what it and the URL decoder refuse answers the API's error shape (found by test/fuzz-routes.test.ts).
    routerOptions: { maxParamLength: 1024 },
    frameworkErrors: (err: Error & { code?: string }, _req: FastifyRequest, reply: FastifyReply) => {
      const long = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      void reply.status(long ? 414 : 400).send({ code: 'API_BAD_REQUEST', message: long ? 'a path segment is longer than 1024 characters' : 'the URL does not decode' });
    },
  } as const;
  // The routes take the HTTP instance's type; an HTTPS server offers them the same request and reply API.
  const app = (tls ? Fastify({ ...base, https: { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' } }) : Fastify(base)) as unknown as FastifyInstance;
  app.addHook('onRoute', (route) => openapi.onRoute(route));
  app.decorateRequest('principal', null);

  app.setErrorHandler((err, req, reply: FastifyReply) => {
    const e = err as { code?: unknown; message: string; validation?: unknown; statusCode?: number };
    const plugin = typeof e.code === 'string' ? PLUGIN_CODES[e.code] : (req.isMultipart() && isMultipartParseError(err) ? MULTIPART_MALFORMED : undefined);
    let status: number;
    let code: string;
    if (err instanceof CvcoreError) {
      status = httpStatusFor(err);
      code = err.code;
    } else if (e.validation) {
      status = 400;
      code = 'API_BAD_REQUEST';
    } else if (plugin) {
      ({ status, code } = plugin);
    } else {
      status = httpStatusFor(err);
      code = status === 404 ? 'API_NOT_FOUND' : status < 500 ? 'API_BAD_REQUEST' : 'INTERNAL';
    }
    if (status >= 500) o.log.error('api error', { err: err as Error });
    if (err instanceof ApiError && err.detail['retryAfter'] !== undefined) void reply.header('retry-after', String(err.detail['retryAfter']));
    void reply.status(status).send({ code, message: status >= 500 && code === 'INTERNAL' ? 'internal error' : e.message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ code: 'API_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  await app.register(multipart, { limits: { fileSize: o.access.maxUploadBytes, files: 1, fields: 8, parts: 9 } });
  // Before the auth hook: the websocket plugin's own onRequest marks upgrade requests, and only a marked
  // request has its socket closed when auth refuses it (otherwise the refused upgrade socket lingers).
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  app.addHook('onRequest', async (req: FastifyRequest) => {
    const access: AccessRule | undefined = req.routeOptions.config.access;
    // No rule: the not-found handler (404); a route without a rule is refused by ctx.principal().
    if (!access || access.public) return;
    let secret = bearerOf(req.headers.authorization);
    if (secret === null && access.queryToken) {
      const t = (req.query as Record<string, unknown> | undefined)?.['token'];
      if (typeof t === 'string' && t.length > 0) secret = t;
    }
    const found = secret === null ? null : tokens.check(secret);
    const principal = found?.kind === 'ok' ? found.principal : null;
    // Before a token is known, the bucket is the client address: guessing tokens is rate limited too.
    const wait = buckets.take(principal ? `token:${principal.tokenId}` : `addr:${req.ip}`);
    if (wait > 0) {
      metrics.rateLimited();
      throw new ApiError(429, 'API_RATE_LIMITED', `too many requests; retry in ${wait} s`, { detail: { retryAfter: wait } });
    }
    // A revoked or expired token is told so (its holder had the secret, so this discloses nothing to a guesser).
    if (found?.kind === 'refused') throw new ApiError(401, found.code, `token ${found.tokenId} ${found.code === 'API_TOKEN_REVOKED' ? 'was revoked' : 'has expired'}`);
    if (!principal) throw new ApiError(401, 'API_UNAUTHORIZED', secret === null ? 'missing token: send Authorization: Bearer <token>' : 'unknown token');
    if (access.roles && !access.roles.includes(principal.role)) {
      throw new ApiError(403, 'API_FORBIDDEN', `role ${principal.role} may not ${req.method} ${req.routeOptions.url ?? req.url}`);
    }
    if (access.faces && !principal.faces) {
      throw new ApiError(403, 'API_FACE_GRANT_REQUIRED', `token ${principal.tokenId} has no face grant: ${req.method} ${req.routeOptions.url ?? req.url} shows faces`);
    }
    req.principal = principal;
  });

  // Every error has the { code, message } body, also one a plugin sends bare: @fastify/websocket answers a plain
  // GET of a WebSocket route 404 with no body at all (found by test/fuzz-routes.test.ts).
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode < 400 || req.method === 'HEAD' || (payload !== undefined && payload !== null && payload !== '')) return payload;
    void reply.type('application/json; charset=utf-8');
    const path = req.url.split('?')[0];
    const ws = req.routeOptions.url !== undefined && reply.statusCode === 404;
    return JSON.stringify({
      code: reply.statusCode === 404 ? 'API_NOT_FOUND' : 'API_BAD_REQUEST',
      message: ws ? `${path} is a WebSocket: open it with Upgrade: websocket` : `${req.method} ${path} failed (${reply.statusCode})`,
    });
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.observeRequest(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });


  app.get('/health', {
    config: { access: { public: true } },
    schema: {
      summary: 'liveness for probes: overall state and camera counts by state (no ids)', tags: ['system'],
      response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ok', 'degraded'] }, cameras: { type: 'object', additionalProperties: { type: 'integer' } } } } },
    },
  }, async () => {
    const byState: Record<string, number> = {};
    for (const c of o.cameras.list()) byState[c.health.state] = (byState[c.health.state] ?? 0) + 1;
    return { status: (byState['live'] ?? 0) > 0 ? 'ok' : 'degraded', cameras: byState };
  });

  app.get('/metrics', {
    config: { access: { public: true }, openapi: { produces: 'text/plain' } },
    schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['system'] },
  }, async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  app.get('/api/v1/openapi.json', {
    config: { access: { public: true } },
    schema: { summary: 'this document (OpenAPI 3)', tags: ['system'], response: { 200: { type: 'object', additionalProperties: true } } },
  }, async () => openapi.document({ title: 'cvcore API', version: API_VERSION, description: 'investigator search, cameras, alerts and metrics of a cvcore node' }));

  recordRoutes(app, ctx);
  auditRoutes(app, ctx);
  cameraRoutes(app, ctx);
  clusterRoutes(app, ctx);
  watchlistRoutes(app, ctx);
  alarmRoutes(app, ctx);
  exportRoutes(app, ctx);
  recordingRoutes(app, ctx);
  tokenRoutes(app, ctx);
  erasureRoutes(app, ctx);
  oidcRoutes(app, ctx);

  registerConsole(app);

  await app.listen({ host: o.host, port: o.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    app, url: `${tls ? 'https' : 'http'}://${host}:${port}`,
    close: async () => { unfollow(); ctx.sockets.stop(); await app.close(); },
  };
}
