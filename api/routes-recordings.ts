/**
 * Recording routes: a camera's recorded segments and gaps, its clips (MP4, HTTP range requests, HEAD, `?token=` for
 * a <video>), and legal holds. Video of people is personal data: investigators and admins only (operators 403), a
 * camera of another department answers exactly like an unknown one, and every call is written to the audit trail
 * before it is answered, except that a clip is audited once per token and clip (a player's many range requests
 * are one viewing).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, CvcoreError, RecordingError } from '../common/errors.js';
import type { Clip, Hold, RecordingService } from '../recording/index.js';
import { ROLES, inScope, scopeOf } from './auth.js';
import { notFoundCamera, type ApiContext } from './context.js';
import { errors, parseTime } from './schemas.js';
import { parseRange } from './range.js';

/** A hold placed for tracks covers each track's span widened by this much on each side. */
export const TRACK_HOLD_MARGIN_MS = 10_000;
/** Clip views remembered for the once-per-token-and-clip audit (oldest forgotten first). */
export const CLIP_AUDIT_MEMORY = 10_000;

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const gap = { type: 'object', properties: { from: int, to: int, reason: { type: 'string', enum: ['not-recorded', 'disconnected', 'disk-full', 'off', 'removed'] } } } as const;
const segment = {
  type: 'object',
  properties: { cameraId: str, start: int, end: int, file: str, bytes: int, ptsStart: { type: 'number' }, held: { type: 'boolean' } },
} as const;
const holdView = {
  type: 'object', description: 'a legal hold: the segments of its cameras in [from, to] are kept beyond retention until it is released',
  properties: {
    id: str, cameraIds: { type: 'array', items: str }, from: int, to: int, trackIds: { type: 'array', items: str }, reason: str,
    createdBy: str, createdAt: int, releasedBy: { type: ['string', 'null'] }, releasedAt: { type: ['integer', 'null'] },
  },
} as const;
const notRecorded = {
  type: 'object', description: 'RECORDING_NOT_RECORDED: nothing recorded in the range; detail.gaps says why',
  properties: { code: str, message: str, detail: { type: 'object', properties: { camera: str, gaps: { type: 'array', items: gap } } } },
  required: ['code', 'message'],
} as const;
const rangeQuery = {
  type: 'object', additionalProperties: false, required: ['from', 'to'],
  properties: {
    from: { type: 'string', description: 'epoch ms or ISO time' },
    to: { type: 'string', description: 'epoch ms or ISO time' },
  },
} as const;
const cameraParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['id'] } as const;

function recordingsOf(ctx: ApiContext): RecordingService {
  const r = ctx.o.recordings;
  if (!r) throw new ApiError(503, 'API_RECORDING_UNAVAILABLE', 'recordings are not available: this core does not record');
  return r;
}

function time(v: unknown, field: string): number {
  const t = typeof v === 'string' ? parseTime(v) : v;
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new RecordingError('RECORDING_BAD_RANGE', `${field}: must be epoch ms or an ISO time (got ${JSON.stringify(v)})`, { detail: { field } });
  return t;
}

export function recordingRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { o } = ctx;
  const access = { roles: ROLES.search };
  const tags = ['recordings'];
  /** token + clip -> audited; a Map keeps insertion order, so the oldest goes first when it is full. */
  const viewed = new Map<string, true>();

  /** The camera if it is known and in scope; 404 the same either way. */
  const cameraFor = (req: FastifyRequest, id: string): void => {
    const p = ctx.principal(req);
    if (!inScope(p, ctx.departmentOf(id))) throw notFoundCamera(id);
  };

  /** Audits before the answer; a refusal of the caller's making is an attempt worth a line too. */
  const audited = async <T>(req: FastifyRequest, action: string, query: Record<string, unknown>, fn: () => Promise<{ value: T; ids: readonly string[] | number }>): Promise<T> => {
    let out: { value: T; ids: readonly string[] | number };
    try {
      out = await fn();
    } catch (err) {
      if (err instanceof CvcoreError && err.code !== 'RECORDING_IO') await ctx.audit(req, action, { ...query, error: err.code }, 0);
      throw err;
    }
    await ctx.audit(req, action, query, out.ids);
    return out.value;
  };

  const sendNotRecorded = (reply: FastifyReply, err: RecordingError): FastifyReply =>
    reply.status(404).send({ code: err.code, message: err.message, detail: { camera: err.detail['camera'], gaps: err.detail['gaps'] } });

  app.get<{ Params: { id: string }; Querystring: { from: string; to: string } }>('/api/v1/cameras/:id/recordings', {
    config: { access },
    schema: {
      summary: 'the camera\'s recorded segments and the gaps between them (why each gap: off, disconnected, disk-full, not-recorded, removed) over [from, to]', tags,
      params: cameraParams, querystring: rangeQuery,
      response: {
        200: { type: 'object', properties: { cameraId: str, from: int, to: int, segments: { type: 'array', items: segment }, gaps: { type: 'array', items: gap } } },
        ...errors(400, 404, 503),
      },
    },
  }, async (req) => {
    const rec = recordingsOf(ctx);
    const { id } = req.params;
    cameraFor(req, id);
    const from = time(req.query.from, 'from');
    const to = time(req.query.to, 'to');
    return audited(req, 'recordings', { camera: id, from, to }, async () => {
      const a = await rec.recordings(id, from, to);
      return { value: a, ids: a.segments.length };
    });
  });

  app.get<{ Params: { id: string }; Querystring: { from: string; to: string; token?: string } }>('/api/v1/cameras/:id/clip', {
    // Recorded video shows faces, as live view does: the face grant is needed.
    config: { access: { ...access, queryToken: true, faces: true }, openapi: { produces: 'video/mp4' } },
    schema: {
      summary: 'one MP4 of the camera over [from, to] (stream copy, starts at the keyframe at or before from); HTTP range requests (206, 416), HEAD', tags,
      description: 'Headers: x-clip-start and x-clip-end (ms, what the file covers), x-clip-spans (JSON [{offsetMs, start, end}]: video time -> wall clock across gaps), x-clip-sha256. A range with nothing recorded answers 404 RECORDING_NOT_RECORDED with the gaps in detail.gaps. ?token= for a <video> element.',
      params: cameraParams,
      querystring: { ...rangeQuery, properties: { ...rangeQuery.properties, token: { type: 'string', description: 'the API token, for clients that cannot send headers (<video>)' } } },
      response: { 404: notRecorded, ...errors(400, 416, 503, 507) },
    },
  }, async (req, reply) => {
    const rec = recordingsOf(ctx);
    const { id } = req.params;
    cameraFor(req, id);
    const from = time(req.query.from, 'from');
    const to = time(req.query.to, 'to');
    const p = ctx.principal(req);
    const key = `${p.tokenId}\u0000${id}\u0000${from}\u0000${to}`;
    let clip: Clip;
    try {
      clip = await rec.clip(id, from, to);
    } catch (err) {
      if (err instanceof CvcoreError && err.code !== 'RECORDING_IO') await ctx.audit(req, 'clip', { camera: id, from, to, error: err.code }, 0);
      if (err instanceof RecordingError && err.code === 'RECORDING_NOT_RECORDED') return sendNotRecorded(reply, err);
      throw err;
    }
    if (!viewed.has(key)) {
      await ctx.audit(req, 'clip', { camera: id, from, to, start: clip.start, end: clip.end, sha256: clip.sha256 }, [`${id}:${clip.start}-${clip.end}`]);
      viewed.set(key, true);
      if (viewed.size > CLIP_AUDIT_MEMORY) viewed.delete(viewed.keys().next().value!);
    }
    const size = clip.bytes;
    void reply
      .header('accept-ranges', 'bytes')
      .header('x-clip-start', String(clip.start))
      .header('x-clip-end', String(clip.end))
      .header('x-clip-spans', JSON.stringify(clip.spans))
      .header('x-clip-sha256', clip.sha256)
      .header('etag', `"${clip.sha256}"`)
      .header('cache-control', 'private, no-store')
      .type('video/mp4');
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      return reply.status(416).header('content-range', `bytes */${size}`).type('application/json; charset=utf-8').send({ code: 'API_RANGE_NOT_SATISFIABLE', message: `the range ${req.headers.range} is outside the clip's ${size} bytes` });
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    if (range) void reply.status(206).header('content-range', `bytes ${start}-${end}/${size}`);
    void reply.header('content-length', String(end - start + 1));
    // HEAD: fastify's HEAD route runs this handler and drops the body, keeping the length set here.
    // The cached clip is sealed at rest: only the chunks of the range are opened.
    return reply.send(clip.read({ start, end }));
  });

  const holdsOf = (req: FastifyRequest, holds: Hold[]): Hold[] => {
    const p = ctx.principal(req);
    // A hold is visible when all its cameras are: another department's camera ids are not for this caller.
    return holds.filter((h) => h.cameraIds.every((c) => inScope(p, ctx.departmentOf(c))));
  };

  app.post<{ Body: { cameraIds?: string[]; from?: number | string; to?: number | string; trackIds?: string[]; reason: string } }>('/api/v1/holds', {
    config: { access },
    schema: {
      summary: 'places a legal hold: the segments of the cameras over [from, to] (or of the tracks, widened by 10 s each side) stay beyond retention until released', tags,
      body: {
        type: 'object', additionalProperties: false, required: ['reason'],
        properties: {
          cameraIds: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 64 }, maxItems: 1000 },
          from: { anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 64 }], description: 'epoch ms or ISO time' },
          to: { anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 64 }], description: 'epoch ms or ISO time' },
          trackIds: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 1000 },
          reason: { type: 'string', minLength: 1, maxLength: 1000, description: 'the case or order the hold is for' },
        },
      },
      response: { 200: holdView, ...errors(400, 404, 503) },
    },
  }, async (req) => {
    const rec = recordingsOf(ctx);
    const b = req.body;
    const p = ctx.principal(req);
    const query = { cameraIds: b.cameraIds ?? [], from: b.from ?? null, to: b.to ?? null, trackIds: b.trackIds ?? [], reason: b.reason };
    return audited(req, 'hold_add', query, async () => {
      const cameras = new Set(b.cameraIds ?? []);
      for (const c of cameras) if (!inScope(p, ctx.departmentOf(c))) throw notFoundCamera(c);
      let from = b.from !== undefined ? time(b.from, 'from') : Number.POSITIVE_INFINITY;
      let to = b.to !== undefined ? time(b.to, 'to') : Number.NEGATIVE_INFINITY;
      for (const tid of b.trackIds ?? []) {
        const r = await o.index.get(tid, scopeOf(p));
        if (!r) throw new ApiError(404, 'INDEX_NOT_FOUND', `no track "${tid}"`);
        cameras.add(r.cameraId);
        from = Math.min(from, r.start - TRACK_HOLD_MARGIN_MS);
        to = Math.max(to, r.end + TRACK_HOLD_MARGIN_MS);
      }
      if (cameras.size === 0) throw new RecordingError('RECORDING_BAD_HOLD', 'cameraIds: give cameras with from and to, or trackIds', { detail: { field: 'cameraIds' } });
      if (!Number.isFinite(from) || !Number.isFinite(to)) throw new RecordingError('RECORDING_BAD_RANGE', 'from and to are needed for a hold on cameras without tracks', { detail: { field: 'from' } });
      const hold = await rec.addHold({ cameraIds: [...cameras], from, to, trackIds: b.trackIds ?? [], reason: b.reason, by: p.tokenId });
      return { value: hold, ids: [hold.id] };
    });
  });

  app.get<{ Querystring: { active?: 'true' | 'false' } }>('/api/v1/holds', {
    config: { access },
    schema: {
      summary: 'legal holds on the caller\'s cameras, oldest first', tags,
      querystring: { type: 'object', additionalProperties: false, properties: { active: { type: 'string', enum: ['true', 'false'], description: 'only active (true) or only released (false) holds' } } },
      response: { 200: { type: 'object', properties: { holds: { type: 'array', items: holdView } } }, ...errors(400, 503) },
    },
  }, async (req) => {
    const rec = recordingsOf(ctx);
    const active = req.query.active === undefined ? undefined : req.query.active === 'true';
    return audited(req, 'holds', { active: active ?? null }, async () => {
      const holds = holdsOf(req, await rec.holds(active === undefined ? {} : { active }));
      return { value: { holds }, ids: holds.map((h) => h.id) };
    });
  });

  app.delete<{ Params: { id: string } }>('/api/v1/holds/:id', {
    config: { access },
    schema: {
      summary: 'releases a legal hold (its segments fall under retention again); the hold stays listed as released', tags,
      params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['id'] },
      response: { 200: holdView, ...errors(404, 503) },
    },
  }, async (req) => {
    const rec = recordingsOf(ctx);
    const { id } = req.params;
    return audited(req, 'hold_release', { id }, async () => {
      const visible = holdsOf(req, await rec.holds()).some((h) => h.id === id);
      if (!visible) throw new RecordingError('RECORDING_HOLD_NOT_FOUND', `no legal hold "${id}"`, { detail: { id } });
      const h = await rec.releaseHold(id, ctx.principal(req).tokenId);
      return { value: h, ids: [h.id] };
    });
  });
}

