/**
 * The HTTP API (fastify): search, track detail and thumbnails, cameras (list, add, remove, health), alert
 * history, snapshots and health, and the investigators' console (console/dist) at /console/. Every route has
 * a JSON schema; errors answer `{ code, message }` with the stable code.
 * Takes: the running pipeline and index. Gives: a listening server.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { ApiError, CvcoreError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { parseQuery, type Scope, type SearchIndex } from '../search-index/index.js';
import type { Pipeline } from '../runtime/index.js';
import type { AlertSink } from '../alerts/index.js';
import { httpStatusFor } from './errors.js';
import { registerConsole } from '../console/serve.js';

export interface ApiOptions {
  readonly host: string;
  readonly port: number;
  readonly index: SearchIndex;
  readonly pipeline: Pipeline;
  readonly alerts: AlertSink | null;
  readonly log: Logger;
}

const errorBody = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } as const;
const list = (v: string | undefined): string[] | undefined => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
/** Accepts epoch milliseconds or an ISO date; anything else is passed through so parseQuery names the field. */
const time = (v: string | undefined): unknown => {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? v : t;
};

export async function startApi(o: ApiOptions): Promise<{ app: FastifyInstance; url: string; close(): Promise<void> }> {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  const scope: Scope = 'all';

  app.setErrorHandler((err, _req, reply: FastifyReply) => {
    const status = httpStatusFor(err);
    const e = err as { code?: unknown; message: string; validation?: unknown };
    const code = err instanceof CvcoreError ? err.code : e.validation ? 'API_BAD_REQUEST' : status === 404 ? 'API_NOT_FOUND' : status < 500 ? 'API_BAD_REQUEST' : 'INTERNAL';
    if (status >= 500) o.log.error('api error', { err: err as Error });
    void reply.status(e.validation ? 400 : status).send({ code, message: e.message });
  });
  app.setNotFoundHandler((req, reply) => { void reply.status(404).send({ code: 'API_NOT_FOUND', message: `no route ${req.method} ${req.url}` }); });

  app.get('/health', { schema: { response: { 200: { type: 'object', additionalProperties: true } } } }, async () => {
    const cams = o.pipeline.cameras.list();
    const alerts = o.alerts?.status() ?? null;
    return {
      status: cams.some((c) => c.health.state === 'live') ? 'ok' : 'degraded',
      cameras: Object.fromEntries(cams.map((c) => [c.id, c.health.state])),
      alerts,
      index: o.index.stats(),
      pipeline: o.pipeline.stats(),
    };
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/api/v1/search', {
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          camera: { type: 'string', description: 'camera ids, comma-separated' },
          class: { type: 'string', description: 'classes, comma-separated (person, car, bus, truck, motorcycle, bicycle)' },
          from: { type: 'string', description: 'epoch ms or ISO time' },
          to: { type: 'string', description: 'epoch ms or ISO time' },
          colour: { type: 'string' }, vehicleType: { type: 'string' }, gender: { type: 'string' }, ageBand: { type: 'string' },
          limit: { type: 'string', pattern: '^[0-9]+$' },
          cursor: { type: 'string' },
        },
      },
      response: { 400: errorBody },
    },
  }, async (req) => {
    const q = req.query;
    const attributes = Object.fromEntries(['colour', 'vehicleType', 'gender', 'ageBand'].filter((k) => q[k] !== undefined).map((k) => [k, q[k]]));
    const query = parseQuery({
      ...(q['camera'] ? { cameraIds: list(q['camera']) } : {}),
      ...(q['class'] ? { classes: list(q['class']) } : {}),
      ...(q['from'] !== undefined ? { from: time(q['from']) } : {}),
      ...(q['to'] !== undefined ? { to: time(q['to']) } : {}),
      ...(Object.keys(attributes).length ? { attributes } : {}),
      ...(q['limit'] !== undefined ? { limit: Number(q['limit']) } : {}),
      ...(q['cursor'] !== undefined ? { cursor: q['cursor'] } : {}),
    });
    const page = await o.index.query(query, scope);
    return {
      records: page.records.map((r) => ({ ...r, thumbnailUrl: `/api/v1/tracks/${encodeURIComponent(r.id)}/thumbnail`, trackUrl: `/api/v1/tracks/${encodeURIComponent(r.id)}` })),
      nextCursor: page.nextCursor,
    };
  });

  app.get<{ Params: { id: string } }>('/api/v1/tracks/:id', { schema: { params: { type: 'object', properties: { id: { type: 'string', maxLength: 256 } } } } }, async (req) => {
    const rec = await o.index.get(req.params.id, scope);
    if (!rec) throw new ApiError(404, 'INDEX_NOT_FOUND', `no track ${req.params.id}`);
    const { thumbnail, embedding, ...rest } = rec;
    return { ...rest, hasThumbnail: thumbnail !== null, hasFace: embedding !== null, thumbnailUrl: `/api/v1/tracks/${encodeURIComponent(rec.id)}/thumbnail` };
  });

  app.get<{ Params: { id: string } }>('/api/v1/tracks/:id/thumbnail', { schema: { params: { type: 'object', properties: { id: { type: 'string', maxLength: 256 } } } } }, async (req, reply) => {
    const jpeg = await o.index.thumbnail(req.params.id, scope);
    if (!jpeg) throw new ApiError(404, 'INDEX_NOT_FOUND', `no thumbnail for ${req.params.id}`);
    return reply.type('image/jpeg').send(Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength));
  });

  app.get('/api/v1/cameras', async () => ({ cameras: o.pipeline.cameras.list() }));
  app.get<{ Params: { id: string } }>('/api/v1/cameras/:id', async (req) => o.pipeline.cameras.view(o.pipeline.cameras.get(req.params.id)));
  app.post('/api/v1/cameras', { schema: { body: { type: 'object' } } }, async (req, reply) => {
    const view = o.pipeline.cameras.add(req.body);
    return reply.status(201).send(view);
  });
  app.delete<{ Params: { id: string } }>('/api/v1/cameras/:id', async (req, reply) => {
    o.pipeline.cameras.remove(req.params.id);
    return reply.status(204).send();
  });

  app.get<{ Querystring: { limit?: number } }>('/api/v1/alerts', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } } },
  }, async (req) => ({ alerts: o.pipeline.alertHistory(req.query.limit ?? 100) }));

  app.get('/api/v1/zones', async () => ({ zones: o.pipeline.zoneCounts() }));

  app.get<{ Params: { id: string } }>('/api/v1/snapshots/:id', async (req, reply) => {
    const jpeg = o.pipeline.snapshot(req.params.id);
    if (!jpeg) throw new ApiError(404, 'API_NOT_FOUND', `no snapshot ${req.params.id} (snapshots are kept for the latest alerts only)`);
    return reply.type('image/jpeg').send(Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength));
  });

  registerConsole(app);

  await app.listen({ host: o.host, port: o.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return { app, url: `http://${o.host}:${port}`, close: () => app.close() };
}
