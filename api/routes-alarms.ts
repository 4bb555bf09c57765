/**
 * The alarm log (watch-list, frequency and stranger alarms): listing with filters, one alarm, its frame and face
 * JPEGs, and acknowledging or dismissing it. Investigators and admins only, scoped by the alarm's department,
 * every call audited before it is answered.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../common/errors.js';
import { ALARM_KINDS } from '../common/alarm-schemas.js';
import { ALARM_STATES, type AlarmQuery, type StoredAlarm } from '../watchlist/index.js';
import { ROLES, scopeOf } from './auth.js';
import { blurFrame } from './privacy.js';
import type { ApiContext } from './context.js';
import { audited, entryBase, notFound, watchlistsOf } from './routes-watchlists.js';
import { errors, parseTime } from './schemas.js';
import { clipRef } from './routes-records.js';

/** An alarm's clip: this long (ms) before and after the frame that raised it (crowd alerts: the decision). */
export const ALARM_CLIP_MARGIN_MS = 10_000;

/** The link to the recorded clip around a moment of a camera (an alarm's or a crowd alert's). */
export function alarmClipRef(cameraId: string, at: number): string {
  return clipRef(cameraId, at - ALARM_CLIP_MARGIN_MS, at + ALARM_CLIP_MARGIN_MS);
}

const str = { type: 'string' } as const;

export const alarmViewSchema = {
  type: 'object', description: 'a stored alarm: the wire alarm, its state, who handled it, and links to its images',
  properties: {
    alarm: { type: 'object', additionalProperties: true, description: 'the alarm as sent to the city brain (common/alarm-schemas.ts)' },
    state: { type: 'string', enum: ALARM_STATES },
    handledBy: { type: ['string', 'null'], description: 'token id that acknowledged or dismissed it' },
    handledAt: { type: ['integer', 'null'] }, handledNote: { type: ['string', 'null'] },
    hasSnapshot: { type: 'boolean' }, hasFace: { type: 'boolean' },
    entryLabel: { type: ['string', 'null'], description: 'watch-list alarms: the entry\'s label when it matched (the wire alarm carries only its id)' },
    snapshotUrl: str, faceUrl: str,
    clipRef: { ...str, description: 'the recorded clip from 10 s before to 10 s after the alarm\'s frame (watch-list: matchedFrameAt; others: at)' },
    entryPhotoUrl: { ...str, description: 'face watch-list alarms: the entry\'s first photo, to show beside the snapshot' },
  },
} as const;

export const alarmPage = {
  type: 'object', properties: { alarms: { type: 'array', items: alarmViewSchema }, nextCursor: { type: ['string', 'null'] } },
} as const;

export function alarmView(a: StoredAlarm): StoredAlarm & { snapshotUrl?: string; faceUrl?: string; entryPhotoUrl?: string; clipRef: string } {
  const base = `/api/v1/alarms/${encodeURIComponent(a.alarm.id)}`;
  // A watch-list alarm is decided after the frame that matched (a plate at the track's end): the clip is around the frame.
  const at = a.alarm.kind === 'watchlist' ? a.alarm.matchedFrameAt : a.alarm.at;
  return {
    ...a,
    clipRef: alarmClipRef(a.alarm.camera, at),
    ...(a.hasSnapshot ? { snapshotUrl: `${base}/snapshot` } : {}),
    ...(a.hasFace ? { faceUrl: `${base}/face` } : {}),
    ...(a.alarm.kind === 'watchlist' && a.alarm.entryKind === 'face' ? { entryPhotoUrl: `${entryBase(a.alarm.list, a.alarm.entry)}/photos/0` } : {}),
  };
}

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['id'] } as const;

export function alarmRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const access = { roles: ROLES.search };
  const tags = ['alarms'];

  app.get<{ Querystring: { kind?: AlarmQuery['kind']; state?: AlarmQuery['state']; camera?: string; from?: string; to?: string; limit?: number; cursor?: string } }>('/api/v1/alarms', {
    config: { access },
    schema: {
      summary: 'watch-list, frequency and stranger alarms of the caller\'s departments, newest first', tags,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          kind: { type: 'string', enum: ALARM_KINDS }, state: { type: 'string', enum: ALARM_STATES }, camera: { type: 'string', maxLength: 256 },
          from: { type: 'string', description: 'decided at or after: epoch ms or ISO time' }, to: { type: 'string', description: 'decided at or before: epoch ms or ISO time' },
          limit: { type: 'integer', minimum: 1, maximum: 500, description: 'default 50' }, cursor: { type: 'string', maxLength: 512 },
        },
      },
      response: { 200: alarmPage, ...errors(400, 503) },
    },
  }, async (req) => {
    const w = watchlistsOf(ctx);
    const q = req.query;
    const query: { -readonly [K in keyof AlarmQuery]: AlarmQuery[K] } = {};
    for (const k of ['from', 'to'] as const) {
      const t = parseTime(q[k]);
      if (t === undefined) continue;
      if (typeof t !== 'number') throw new ApiError(400, 'API_BAD_REQUEST', `${k} must be epoch ms or an ISO time`);
      query[k] = t;
    }
    if (q.kind) query.kind = q.kind;
    if (q.state) query.state = q.state;
    if (q.camera) query.camera = q.camera;
    if (q.limit !== undefined) query.limit = q.limit;
    if (q.cursor !== undefined) query.cursor = q.cursor;
    return audited(ctx, req, 'alarms', query, async () => {
      const page = await w.alarms(scopeOf(ctx.principal(req)), query);
      return { value: { alarms: page.items.map(alarmView), nextCursor: page.nextCursor }, ids: page.items.map((a) => a.alarm.id) };
    });
  });

  app.get<{ Params: { id: string } }>('/api/v1/alarms/:id', {
    config: { access },
    schema: { summary: 'one alarm', tags, params: idParams, response: { 200: alarmViewSchema, ...errors(404, 503) } },
  }, async (req) => {
    const w = watchlistsOf(ctx);
    return audited(ctx, req, 'alarm', { id: req.params.id }, async () => {
      const a = await w.alarm(req.params.id, scopeOf(ctx.principal(req)));
      if (!a) throw notFound(`alarm "${req.params.id}"`);
      return { value: alarmView(a), ids: [a.alarm.id] };
    });
  });

  for (const which of ['snapshot', 'face'] as const) {
    app.get<{ Params: { id: string } }>(`/api/v1/alarms/:id/${which}`, {
      // The live face crop is a face (refused without the grant); the alarm frame is served with its heads blurred.
      config: { access: { ...access, queryToken: true, ...(which === 'face' ? { faces: true } : {}) }, openapi: { produces: 'image/jpeg' } },
      schema: { summary: which === 'snapshot' ? 'the frame behind the alarm (JPEG; without the face grant its people\'s heads blurred)' : 'the live face that raised the alarm (JPEG; needs the face grant)', tags, params: idParams, response: errors(404, 503) },
    }, async (req, reply) => {
      const w = watchlistsOf(ctx);
      const jpeg = await audited(ctx, req, `alarm_${which}`, { id: req.params.id }, async () => {
        const b = await w.alarmImage(req.params.id, which, scopeOf(ctx.principal(req)));
        if (!b) throw notFound(`${which} for alarm "${req.params.id}"`);
        return { value: b, ids: [req.params.id] };
      });
      // The frame without the face grant: its people's heads blurred (or all of it, when its people are not known).
      const plain = which === 'face' || ctx.principal(req).faces;
      return reply.type('image/jpeg').send(plain ? Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength) : await blurFrame(jpeg));
    });
  }

  for (const [verb, state] of [['ack', 'acknowledged'], ['dismiss', 'dismissed']] as const) {
    app.post<{ Params: { id: string }; Body?: { note?: string } }>(`/api/v1/alarms/:id/${verb}`, {
      config: { access },
      schema: {
        summary: verb === 'ack' ? 'acknowledge an open alarm (again: unchanged)' : 'dismiss an alarm (final)', tags, params: idParams,
        body: { content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { note: { type: 'string', maxLength: 1000 } } } } } },
        response: { 200: alarmViewSchema, ...errors(400, 404, 409, 503) },
      },
    }, async (req) => {
      const w = watchlistsOf(ctx);
      const p = ctx.principal(req);
      const note = req.body?.note ?? null;
      return audited(ctx, req, `alarm_${verb}`, { id: req.params.id, note }, async () => {
        const a = await w.setAlarmState(req.params.id, state, p.tokenId, note, scopeOf(p));
        if (!a) throw notFound(`alarm "${req.params.id}"`);
        return { value: alarmView(a), ids: [a.alarm.id] };
      });
    });
  }
}
