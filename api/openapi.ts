/**
 * The OpenAPI 3 document, generated from the route schemas as fastify registers them (its onRoute hook), so
 * the document cannot drift from what the server validates. @fastify/swagger is not installed in this tree;
 * this covers what the API uses: path and query parameters, JSON bodies, multipart uploads, JSON and binary
 * responses, and bearer auth on every guarded route.
 */
import type { RouteOptions } from 'fastify';

type Json = Record<string, unknown>;

/** Extra route metadata the schema cannot say (fastify's `config.openapi`). */
export interface OpenApiExtra {
  /** A request body other than JSON (the face upload). */
  readonly requestBody?: Json;
  /** Content type of a 200 that is not JSON (thumbnails, snapshots, metrics). */
  readonly produces?: string;
  /** The route upgrades to a WebSocket. */
  readonly websocket?: boolean;
}

interface Collected {
  readonly method: string;
  readonly url: string;
  readonly schema: Json;
  readonly public: boolean;
  readonly queryToken: boolean;
  readonly extra: OpenApiExtra;
}

export class OpenApiCollector {
  readonly #routes: Collected[] = [];

  /** Pass to `app.addHook('onRoute', ...)`. */
  onRoute(route: RouteOptions): void {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const config = (route.config ?? {}) as { access?: { public?: boolean; queryToken?: boolean }; openapi?: OpenApiExtra };
    for (const m of methods) {
      // fastify adds a HEAD for every GET; the document lists what was declared.
      if (m === 'HEAD') continue;
      // No schema: not part of the API contract (the console's static files).
      if (!route.schema) continue;
      this.#routes.push({
        method: m.toLowerCase(),
        url: route.url,
        schema: (route.schema ?? {}) as Json,
        public: config.access?.public === true,
        queryToken: config.access?.queryToken === true,
        extra: config.openapi ?? {},
      });
    }
  }

  routes(): ReadonlyArray<{ method: string; url: string }> {
    return this.#routes.map((r) => ({ method: r.method.toUpperCase(), url: r.url }));
  }

  document(info: { title: string; version: string; description?: string }): Json {
    const paths: Record<string, Record<string, Json>> = {};
    for (const r of this.#routes) {
      const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const op: Json = {};
      for (const k of ['summary', 'description', 'tags'] as const) if (r.schema[k] !== undefined) op[k] = r.schema[k];
      op['operationId'] = `${r.method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`;
      const parameters: Json[] = [];
      for (const [where, key] of [['path', 'params'], ['query', 'querystring']] as const) {
        const s = r.schema[key] as { properties?: Record<string, Json>; required?: string[] } | undefined;
        for (const [name, p] of Object.entries(s?.properties ?? {})) {
          const { description, ...schema } = p;
          parameters.push({ name, in: where, required: where === 'path' || (s?.required ?? []).includes(name), schema, ...(description ? { description } : {}) });
        }
      }
      if (r.queryToken) parameters.push({ name: 'token', in: 'query', required: false, schema: { type: 'string' }, description: 'API token, for clients that cannot send headers (<img>, WebSocket)' });
      if (parameters.length) op['parameters'] = parameters;
      if (r.extra.requestBody) op['requestBody'] = r.extra.requestBody;
      else if (r.schema['body']) op['requestBody'] = { required: true, content: { 'application/json': { schema: r.schema['body'] } } };
      const responses: Record<string, Json> = {};
      for (const [code, s] of Object.entries((r.schema['response'] ?? {}) as Record<string, Json>)) {
        const description = typeof s['description'] === 'string' ? s['description'] : code.startsWith('2') ? 'success' : 'error ({ code, message })';
        responses[code] = code === '204' ? { description } : { description, content: { 'application/json': { schema: s } } };
      }
      if (r.extra.produces) responses['200'] = { description: 'success', content: { [r.extra.produces]: { schema: { type: 'string', format: 'binary' } } } };
      if (r.extra.websocket) responses['101'] = { description: 'switching to the WebSocket protocol' };
      if (Object.keys(responses).length === 0) responses['200'] = { description: 'success' };
      op['responses'] = responses;
      if (!r.public) op['security'] = [{ bearerAuth: [] }];
      (paths[path] ??= {})[r.method] = op;
    }
    return {
      openapi: '3.0.3',
      info,
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'an API token from config api.tokens' } } },
      paths,
    };
  }
}
