/**
 * API: the HTTP face of the core for investigators, operators and admins (fastify, JSON schemas on every route,
 * OpenAPI document, bearer tokens with roles and department scopes, audit trail, rate limit, Prometheus, live
 * WebSocket). Takes: the index, the camera registry, alert history, live events and an optional face embedder.
 * Gives: a listening server. See README.md.
 */
export { startApi, API_VERSION, JSON_BODY_LIMIT, type ApiServer } from './server.js';
export { loadApiTls, isLoopback, type ApiTransport } from './tls.js';
export { httpStatusFor } from './errors.js';
export { TokenTable, scopeOf, sha256Hex, ROLES } from './auth.js';
export {
  openTokenStore, tokenState, checkTokenRequest, mintToken, publicView, byNewest, storeFull, droppable, ENDED_TOKEN_KEEP_MS, TokenStore, TOKEN_SECRET_PREFIX, TOKEN_STATES, DEFAULT_TOKEN_LIFETIME_MS,
  MAX_TOKEN_LIFETIME_MS, MAX_ISSUED_TOKENS, type IssuedToken, type IssuedTokenStore, type StoredToken, type TokenRequest, type TokenState, type TokenChange,
} from './token-store.js';
export { WS_CLOSE_TOKEN } from './live-sockets.js';
export { TokenBuckets, type RateLimitSettings } from './rate-limit.js';
export { LIVE_EVENT_TYPES, LIVE_MAX_BUFFERED } from './routes-cameras.js';
export { MAX_UPLOAD_PIXELS } from './upload.js';
export type {
  AlertHistory, AlertStatusSource, ApiOptions, ApiRole, CameraRegistry, ClusterSource, FaceEmbedder, FaceFromImage, LiveEventSource, PipelineStatsSource, Principal,
} from './types.js';
