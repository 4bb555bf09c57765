/**
 * What every route module shares: the options, the metrics, and the helpers that keep scope and audit in one
 * place (so a route cannot forget either).
 */
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../common/errors.js';
import type { CameraView } from '../ingest/index.js';
import type { TrackRecordSummary } from '../search-index/index.js';
import { departmentLabel, inScope, whoOf, type TokenTable } from './auth.js';
import { SocketRegistry } from './live-sockets.js';
import type { ApiMetrics } from './metrics.js';
import type { OpenApiExtra } from './openapi.js';
import type { ApiOptions, ApiRole, Principal } from './types.js';

/** Who may call a route. Public routes skip auth and the rate limit (health probes, Prometheus, the document). */
export interface AccessRule {
  readonly public?: boolean;
  readonly roles?: readonly ApiRole[];
  /** Also accept `?token=`: only for clients that cannot send headers (<img src>, browser WebSocket). */
  readonly queryToken?: boolean;
  /** Shows faces (face search, face crops and photos, live or recorded video): needs the token's face grant. */
  readonly faces?: boolean;
}

declare module 'fastify' {
  /** Documentation keys read by the OpenAPI generator (fastify itself ignores them). */
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: readonly string[];
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    access?: AccessRule;
    openapi?: OpenApiExtra;
  }
}

export interface ApiContext {
  readonly o: ApiOptions;
  readonly metrics: ApiMetrics;
  principal(req: FastifyRequest): Principal;
  /** The camera if it exists and is in the caller's scope; otherwise the same 404 either way. */
  camera(req: FastifyRequest, id: string): CameraView;
  departmentOf(cameraId: string): string | null;
  audit(req: FastifyRequest, action: string, query: unknown, results: readonly string[] | number): Promise<void>;
  withLinks<T extends TrackRecordSummary>(r: T): T & { thumbnailUrl: string; trackUrl: string; plateUrl?: string };
  /** Open WebSockets per token: closed when the token is revoked or expires. */
  readonly sockets: SocketRegistry;
  /** The tokens every request is checked against (config tokens and issued ones). */
  readonly tokens: TokenTable;
}

export function notFoundCamera(id: string): ApiError {
  return new ApiError(404, 'API_NOT_FOUND', `no camera "${id}"`);
}

export function createContext(o: ApiOptions, metrics: ApiMetrics, tokens: TokenTable): ApiContext {
  const principal = (req: FastifyRequest): Principal => {
    // The auth hook sets it on every guarded route; reaching here without one is a wiring bug, not a 401.
    if (!req.principal) throw new Error(`route ${req.url} has no principal: is its config.access set?`);
    return req.principal;
  };
  const departmentOf = (cameraId: string): string | null => (o.cameras.has(cameraId) ? o.cameras.get(cameraId).config.department : null);
  return {
    o,
    metrics,
    tokens,
    sockets: new SocketRegistry(),
    principal,
    departmentOf,
    camera(req, id) {
      const p = principal(req);
      if (!o.cameras.has(id)) throw notFoundCamera(id);
      const runner = o.cameras.get(id);
      if (!inScope(p, runner.config.department)) throw notFoundCamera(id);
      return o.cameras.view(runner);
    },
    async audit(req, action, query, results) {
      const p = principal(req);
      // Written before the answer goes out: if the trail cannot be written, the data is not handed over.
      // Who: the person an issued token was given to (with its id), or a config token's id.
      await o.index.appendAudit({ at: Date.now(), tokenId: whoOf(p), role: p.role, department: departmentLabel(p), action, query, results });
    },
    withLinks(r) {
      const id = encodeURIComponent(r.id);
      return { ...r, thumbnailUrl: `/api/v1/tracks/${id}/thumbnail`, trackUrl: `/api/v1/tracks/${id}`, ...(r.hasPlateCrop ? { plateUrl: `/api/v1/tracks/${id}/plate` } : {}) };
    },
  };
}
