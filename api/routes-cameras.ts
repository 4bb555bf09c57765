/**
 * Camera, alert and live routes. Lists are filtered by the caller's departments; a camera outside them is
 * answered exactly like one that does not exist. Operators add, change and remove cameras within their
 * departments; every role sees alerts, zone counts and the live feed of the cameras it may see.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../common/errors.js';
import { DEFAULT_URL_POLICY, parseCamera, type CameraUrlPolicy } from '../config/index.js';
import type { CrowdAlertV1, PipelineEvent } from '../common/messages.js';
import { ROLES, inScope, scopeOf } from './auth.js';
import { blurFrame } from './privacy.js';
import type { ApiContext } from './context.js';
import { clusterSummary } from './routes-cluster.js';
import { alarmClipRef } from './routes-alarms.js';
import { cameraView, errors, idParams } from './schemas.js';
import type { Principal } from './types.js';
import type { LiveViewer } from '../ingest/index.js';
import { CvcoreError } from '../common/errors.js';

/** A live client this far behind (bytes queued in the socket) misses events rather than growing the buffer. */
export const LIVE_MAX_BUFFERED = 1 << 20;
/** Event kinds the live socket forwards. */
export const LIVE_EVENT_TYPES = ['alert', 'zone_count', 'health', 'alarm'] as const;

/** What the live route uses of a ws WebSocket (ws ships no types in this tree). */
interface LiveSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code: number, reason: string): void;
  on(event: 'close', fn: () => void): void;
}
const WS_OPEN = 1;

const object = { type: 'object', additionalProperties: true } as const;

export function cameraRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { o } = ctx;
  // The API never opens local files, whatever the config file allows its own cameras.
  const urls: CameraUrlPolicy = { schemes: o.cameraUrlSchemes ?? DEFAULT_URL_POLICY.schemes, allowFiles: false };
  /** A failure as health reports it: a typed error's code and message; anything else is logged and stays 'internal error'. */
  const errorOf = (err: unknown): { code: string; message: string } => {
    if (err instanceof CvcoreError) return { code: err.code, message: err.message };
    o.log.error('api: cluster status failed', { err: err as Error });
    return { code: 'INTERNAL', message: 'internal error' };
  };
  const visible = (p: Principal, cameraId: string): boolean => inScope(p, ctx.departmentOf(cameraId));

  app.get('/api/v1/cameras', {
    config: { access: { roles: ROLES.view } },
    schema: { summary: 'cameras of the caller\'s departments', tags: ['cameras'], response: { 200: { type: 'object', properties: { cameras: { type: 'array', items: cameraView } } }, ...errors() } },
  }, async (req) => {
    const p = ctx.principal(req);
    return { cameras: o.cameras.list().filter((c) => inScope(p, c.department)) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/cameras/:id', {
    config: { access: { roles: ROLES.view } },
    schema: { summary: 'one camera', tags: ['cameras'], params: idParams, response: { 200: cameraView, ...errors(404) } },
  }, async (req) => ctx.camera(req, req.params.id));

  app.get<{ Params: { id: string } }>('/api/v1/cameras/:id/health', {
    config: { access: { roles: ROLES.operate } },
    schema: { summary: 'one camera\'s decoder health', tags: ['cameras'], params: idParams, response: { 200: object, ...errors(404) } },
  }, async (req) => ctx.camera(req, req.params.id).health);

  /** Cameras are added or moved only into departments the operator holds. */
  const checkDepartment = (p: Principal, department: string): void => {
    if (!inScope(p, department)) throw new ApiError(403, 'API_FORBIDDEN', `this token may not manage cameras of department "${department}"`);
  };

  app.post<{ Body: Record<string, unknown> }>('/api/v1/cameras', {
    config: { access: { roles: ROLES.operate } },
    schema: {
      summary: 'add a camera (config.cameras entry); it starts decoding when enabled', tags: ['cameras'],
      body: { type: 'object', additionalProperties: true, required: ['id', 'url'], properties: { id: { type: 'string' }, url: { type: 'string' }, department: { type: 'string' } } },
      response: { 201: cameraView, ...errors(400, 409) },
    },
  }, async (req, reply) => {
    const cfg = parseCamera(req.body, 'body', urls);
    checkDepartment(ctx.principal(req), cfg.department);
    return reply.status(201).send(await o.cameras.add(cfg));
  });

  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>('/api/v1/cameras/:id', {
    config: { access: { roles: ROLES.operate } },
    schema: {
      summary: 'change a camera: the fields given replace the current ones; its decoder restarts', tags: ['cameras'], params: idParams,
      body: { type: 'object', additionalProperties: true },
      response: { 200: cameraView, ...errors(400, 404) },
    },
  }, async (req) => {
    const p = ctx.principal(req);
    ctx.camera(req, req.params.id);
    if (req.body['id'] !== undefined && req.body['id'] !== req.params.id) throw new ApiError(400, 'API_BAD_REQUEST', 'body.id: a camera\'s id cannot change; remove it and add a new one');
    if (typeof req.body['url'] === 'string' && req.body['url'].includes('***:***@')) {
      throw new ApiError(400, 'API_BAD_REQUEST', 'body.url: this is the masked URL from a camera view; send the real URL, or leave url out to keep it');
    }
    // The stored config, not the view: the view's URL has its credentials masked.
    const merged = parseCamera({ ...o.cameras.get(req.params.id).config, ...req.body, id: req.params.id }, 'body', urls);
    checkDepartment(p, merged.department);
    return await o.cameras.update(req.params.id, merged);
  });

  app.delete<{ Params: { id: string } }>('/api/v1/cameras/:id', {
    config: { access: { roles: ROLES.operate } },
    schema: { summary: 'remove a camera (its open tracks are written to the index)', tags: ['cameras'], params: idParams, response: { 204: { type: 'null', description: 'removed' }, ...errors(404) } },
  }, async (req, reply) => {
    ctx.camera(req, req.params.id);
    await o.cameras.remove(req.params.id);
    return reply.status(204).send();
  });

  // Live view for a JSMpeg player: MPEG-TS bytes as binary messages. A camera outside the caller's scope is a
  // 404 like a missing one, and a full camera (503, INGEST_VIEWER_LIMIT) is refused before the upgrade, so the
  // client gets a plain HTTP error with its code.
  // Live video shows faces: refused without the face grant (blurring it would need a face detector on every
  // relayed frame, CPU the analysis needs).
  app.get<{ Params: { id: string } }>('/api/v1/cameras/:id/live', {
    websocket: true,
    config: { access: { roles: ROLES.view, queryToken: true, faces: true } },
    schema: { summary: 'live view of a camera: MPEG-1 in MPEG-TS over WebSocket (JSMpeg); ?token= for browsers', tags: ['cameras'], params: idParams },
    preValidation: async (req) => {
      ctx.camera(req, req.params.id);
      o.cameras.live.assertRoom(req.params.id);
    },
  }, (socket: LiveViewer & { on(event: 'close', fn: () => void): void }, req) => {
    let detach: (() => void) | null = null;
    try {
      detach = o.cameras.live.attach(req.params.id, socket);
    } catch (err) {
      // Lost a race for the last seat between the check and the upgrade.
      socket.close(1013, err instanceof CvcoreError ? err.code : 'INTERNAL');
      return;
    }
    socket.on('close', () => detach?.());
    // Closed when the token is revoked or expires.
    ctx.sockets.track(ctx.principal(req), socket);
  });

  app.get('/api/v1/health', {
    config: { access: { roles: ROLES.operate } },
    schema: { summary: 'pipeline, plate reader, index, alert sink and per-camera health (cameras of the caller\'s departments); in cluster mode a cluster summary (nodes alive, cameras assigned and unassigned, shards without a replica)', tags: ['cameras'], response: { 200: object, ...errors() } },
  }, async (req) => {
    const p = ctx.principal(req);
    const pipeline = o.stats?.stats() ?? null;
    return {
      cameras: o.cameras.list().filter((c) => inScope(p, c.department)).map((c) => c.health),
      pipeline,
      // ready | disabled | unavailable (code, reason, since): whether vehicle records get plates.
      plates: pipeline?.plates ?? null,
      index: o.index.stats(),
      alerts: o.alerts?.status() ?? null,
      // Recording per camera of the caller's departments (state, disk-full, bytes, oldest and newest), when this core records.
      ...(o.recordings ? { recording: o.recordings.healthAll().filter((h) => inScope(p, ctx.departmentOf(h.cameraId))) } : {}),
      // Cluster mode only. A cluster that cannot be read is reported here, not turned into a failed health call.
      ...(o.cluster ? { cluster: await o.cluster.status().then(clusterSummary, (err: unknown) => ({ error: errorOf(err) })) } : {}),
    };
  });

  const alertVisible = (p: Principal, a: CrowdAlertV1): boolean => visible(p, a.camera);

  app.get<{ Querystring: { limit?: number } }>('/api/v1/alerts', {
    config: { access: { roles: ROLES.view } },
    schema: {
      summary: 'recent crowd alerts, newest first, of the caller\'s cameras', tags: ['alerts'],
      description: 'Each alert as sent, plus clipRef: the recorded clip from 10 s before to 10 s after the decision (at).',
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } },
      response: { 200: { type: 'object', properties: { alerts: { type: 'array', items: object } } }, ...errors(400) },
    },
  }, async (req) => {
    const p = ctx.principal(req);
    const limit = req.query.limit ?? 100;
    // Filtered from the whole kept history, then cut, so a scoped caller still gets up to `limit` of its own.
    return { alerts: o.history.alertHistory(1000).filter((a) => alertVisible(p, a)).slice(0, limit).map((a) => ({ ...a, clipRef: alarmClipRef(a.camera, a.at) })) };
  });

  app.get('/api/v1/zones', {
    config: { access: { roles: ROLES.view } },
    schema: { summary: 'latest count per watched zone of the caller\'s cameras', tags: ['alerts'], response: { 200: { type: 'object', properties: { zones: { type: 'array', items: object } } }, ...errors() } },
  }, async (req) => {
    const p = ctx.principal(req);
    return { zones: o.history.zoneCounts().filter((z) => visible(p, z.cameraId)) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/snapshots/:id', {
    config: { access: { roles: ROLES.view, queryToken: true }, openapi: { produces: 'image/jpeg' } },
    schema: {
      summary: 'the frame of a crowd alert (alert.snapshotRef)', tags: ['alerts'], params: idParams, response: errors(404),
      description: 'Audited (action snapshot). Without the face grant the heads of the frame\'s people are blurred (the whole frame when it does not carry its people). Kept in the search index with the alert\'s camera department, as long as the records of that time (index.trackDays); a frame of another department answers the same 404 as a missing one. Cluster api nodes read the frames of recent alerts from the snapshots KV bucket.',
    },
  }, async (req, reply) => {
    const p = ctx.principal(req);
    const id = req.params.id;
    // The stored frame carries its department; one the index does not hold (cluster api nodes, whose index keeps
    // none, and frames the index could not store) is found through the recent alert that points at it.
    const stored = o.index.alarmFrame ? await o.index.alarmFrame(id, scopeOf(p)) : null;
    let jpeg = stored?.jpeg ?? null;
    if (!jpeg) {
      const ref = `/api/v1/snapshots/${id}`;
      const owner = o.history.alertHistory(1000).find((a) => a.snapshotRef === ref);
      jpeg = owner && alertVisible(p, owner) ? o.history.snapshot(id) : null;
    }
    // A crowd frame shows people: every view is in the audit trail (a miss too), before the answer goes out.
    await ctx.audit(req, 'snapshot', { id }, jpeg ? [id] : []);
    if (!jpeg) throw new ApiError(404, 'API_NOT_FOUND', `no snapshot "${id}"`);
    // Without the face grant: the heads of the frame's people blurred (or the whole frame, when its people are not known).
    return reply.type('image/jpeg').send(p.faces ? Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength) : await blurFrame(jpeg));
  });

  app.get('/api/v1/live', {
    websocket: true,
    config: { access: { roles: ROLES.view, queryToken: true }, openapi: { websocket: true } },
    schema: {
      summary: 'WebSocket: live crowd alerts, zone counts and camera health of the caller\'s cameras, one JSON message each',
      description: 'Messages: {type:"hello", tokenId, role, departments}, then {type:"alert", alert}, {type:"zone_count", count}, {type:"health", ...}, {type:"load", cameraId, overloaded, handledFps, targetFps, at} (a camera over or back under capacity), and for investigators and admins {type:"alarm", alarm} (watch-list, frequency and stranger alarms of their departments). A client too slow to read misses events.',
      tags: ['alerts'],
    },
  }, (socket: LiveSocket, req) => {
    const p = ctx.principal(req);
    socket.send(JSON.stringify({ type: 'hello', tokenId: p.tokenId, role: p.role, departments: p.departments ?? ['*'] }));
    // Alarms name watch-list entries and strangers: personal data, for the roles that may search people only,
    // and scoped by the alarm's department (a watch-list alarm belongs to the list's department, not the camera's).
    const seesAlarms = (ROLES.search as readonly string[]).includes(p.role);
    const off = o.events?.on((e: PipelineEvent) => {
      if (e.type === 'alarm') {
        if (!seesAlarms || !inScope(p, e.alarm.department) || socket.readyState !== WS_OPEN) return;
        if (socket.bufferedAmount > LIVE_MAX_BUFFERED) {
          ctx.metrics.liveDropped();
          return;
        }
        socket.send(JSON.stringify({ type: 'alarm', alarm: e.alarm }));
        return;
      }
      const cameraId = e.type === 'alert' ? e.alert.camera : e.type === 'zone_count' ? e.count.cameraId : e.type === 'health' || e.type === 'load' ? e.cameraId : null;
      if (cameraId === null || !visible(p, cameraId) || socket.readyState !== WS_OPEN) return;
      if (socket.bufferedAmount > LIVE_MAX_BUFFERED) {
        ctx.metrics.liveDropped();
        return;
      }
      socket.send(JSON.stringify(e));
    });
    socket.on('close', () => off?.());
    // Closed when the token is revoked or expires.
    ctx.sockets.track(p, socket);
  });
}
