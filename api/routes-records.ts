/**
 * Investigator routes: attribute search, face search, track detail and thumbnails (every one written to the
 * audit trail with the caller's token, role and departments), and the audit log itself for admins. The
 * caller's scope goes into the index, which enforces it inside the query; a track outside the scope is
 * answered exactly like one that does not exist.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError, CvcoreError } from '../common/errors.js';
import { VEHICLE_COLOURS } from '../common/colours.js';
import { PLATE_COLOURS } from '../common/plates.js';
import type { TrackRecord } from '../common/messages.js';
import { ATTRIBUTE_NAMES, parseFaceOptions, parseQuery, type ReadAuditOptions } from '../search-index/index.js';
import { ROLES, scopeOf } from './auth.js';
import type { ApiContext } from './context.js';
import type { Principal } from './types.js';
import { blurHead } from './privacy.js';
import { checkImageUpload } from './upload.js';
import { auditPage, errors, faceResult, idParams, parseList, parseTime, searchPage } from './schemas.js';

const FACE_FIELD = 'image';

/** A track's clip starts this long before the track and ends this long after it (ms). */
export const TRACK_CLIP_MARGIN_MS = 3_000;

/**
 * The link to a camera's recorded clip between two wall-clock times (ms): the one place its format is written.
 * The clip route (recording) answers it within the caller's scope and says where nothing was recorded.
 */
export function clipRef(cameraId: string, from: number, to: number): string {
  return `/api/v1/cameras/${encodeURIComponent(cameraId)}/clip?from=${Math.max(0, Math.floor(from))}&to=${Math.ceil(to)}`;
}

/** A track view's link to its clip, TRACK_CLIP_MARGIN_MS on either side. */
export function withClip<T extends { cameraId: string; start: number; end: number }>(r: T): T & { clipRef: string } {
  return { ...r, clipRef: clipRef(r.cameraId, r.start - TRACK_CLIP_MARGIN_MS, r.end + TRACK_CLIP_MARGIN_MS) };
}

/** One track as GET /api/v1/tracks/:id answers it (and an export stores it): no bytes, links, trajectory, frame size, clip link. */
export function trackView(ctx: ApiContext, rec: TrackRecord): Record<string, unknown> {
  const { o } = ctx;
  const { thumbnail, embedding, plateCrop, trajectory, frame, ...rest } = rec;
  // Records from before trajectories have no frame size: the camera's analysis size is the best guess there is.
  const size = frame ?? (o.cameras.has(rec.cameraId) ? { width: o.cameras.get(rec.cameraId).config.width, height: o.cameras.get(rec.cameraId).config.height } : null);
  return withClip({
    ...ctx.withLinks({ ...rest, hasThumbnail: thumbnail !== null, hasFace: embedding !== null, hasPlateCrop: !!plateCrop }),
    trajectory: (trajectory ?? []).map((p) => ({ t: p.t, x: p.x, y: p.y, w: p.w, h: p.h })), frame: size,
  });
}

export function recordRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { o } = ctx;

  app.get<{ Querystring: Record<string, string | undefined> }>('/api/v1/search', {
    config: { access: { roles: ROLES.search } },
    schema: {
      summary: 'attribute search over track records, newest first, within the caller\'s departments', tags: ['search'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          camera: { type: 'string', description: 'camera ids, comma-separated' },
          class: { type: 'string', description: 'classes, comma-separated (person, car, bus, truck, motorcycle, bicycle)' },
          from: { type: 'string', description: 'start of the track at or after: epoch ms or ISO time' },
          to: { type: 'string', description: 'start of the track at or before: epoch ms or ISO time' },
          colour: { type: 'string' }, vehicleType: { type: 'string' }, gender: { type: 'string' }, ageBand: { type: 'string' },
          plate: { type: 'string', description: 'licence plate, separators and case ignored; * matches any run, ? one character (e.g. 鲁B*23*)' },
          plateFuzzy: { type: 'string', description: 'true or false: also plates one character off, ranked after exact ones (OCR confusions first); default true for a plate without wildcards' },
          plateColour: { type: 'string', description: `plate colour: ${PLATE_COLOURS.join(', ')}` },
          upperColour: { type: 'string', description: `people: upper-body clothing colour: ${VEHICLE_COLOURS.join(', ')}` },
          lowerColour: { type: 'string', description: `people: lower-body clothing colour: ${VEHICLE_COLOURS.join(', ')}` },
          limit: { type: 'string', pattern: '^[0-9]+$', description: '1..500, default 50' },
          cursor: { type: 'string', description: 'nextCursor of the previous page' },
        },
      },
      response: { 200: searchPage, ...errors(400) },
    },
  }, async (req) => {
    const q = req.query;
    const attributes = Object.fromEntries(ATTRIBUTE_NAMES.filter((k) => q[k] !== undefined).map((k) => [k, q[k]]));
    const query = parseQuery({
      ...(q['camera'] ? { cameraIds: parseList(q['camera']) } : {}),
      ...(q['class'] ? { classes: parseList(q['class']) } : {}),
      ...(q['from'] !== undefined ? { from: parseTime(q['from']) } : {}),
      ...(q['to'] !== undefined ? { to: parseTime(q['to']) } : {}),
      ...(Object.keys(attributes).length ? { attributes } : {}),
      ...(q['plate'] !== undefined ? { plate: q['plate'] } : {}),
      // Anything but true/false goes on as text, so the index's parser names the field.
      ...(q['plateFuzzy'] !== undefined ? { plateFuzzy: q['plateFuzzy'] === 'true' ? true : q['plateFuzzy'] === 'false' ? false : q['plateFuzzy'] } : {}),
      ...(q['limit'] !== undefined ? { limit: Number(q['limit']) } : {}),
      ...(q['cursor'] !== undefined ? { cursor: q['cursor'] } : {}),
    });
    const page = await o.index.query(query, scopeOf(ctx.principal(req)));
    // The audit entry keeps the query as parsed, the plate included: a plate search is a search for a person's car.
    await ctx.audit(req, 'search', query, page.records.map((r) => r.id));
    // A cluster names the shards no replica answered for: the page is short by them, never silently.
    return { records: page.records.map((r) => withClip(ctx.withLinks(r))), nextCursor: page.nextCursor, ...(page.missingShards?.length ? { missingShards: page.missingShards } : {}) };
  });

  app.post<{ Querystring: { k?: number; from?: string; to?: string; camera?: string } }>('/api/v1/faces/search', {
    config: {
      access: { roles: ROLES.search, faces: true },
      openapi: {
        requestBody: {
          required: true,
          content: { 'multipart/form-data': { schema: { type: 'object', required: [FACE_FIELD], properties: { [FACE_FIELD]: { type: 'string', format: 'binary', description: 'JPEG, PNG or WebP with one face' } } } } },
        },
      },
    },
    schema: {
      summary: 'every appearance of the uploaded face, most similar first, within the caller\'s departments', tags: ['search'],
      description: 'multipart/form-data with the image in field "image" (size limit: config api.maxUploadBytes). 413 over the limit, 415 not an image, 422 no face, 503 no face embedder on this core.',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          k: { type: 'integer', minimum: 1, maximum: 500, description: 'most matches returned, default 10' },
          from: { type: 'string', description: 'track start at or after: epoch ms or ISO time' },
          to: { type: 'string', description: 'track start at or before: epoch ms or ISO time' },
          camera: { type: 'string', description: 'camera ids, comma-separated' },
        },
      },
      response: { 200: faceResult, ...errors(400, 413, 415, 422, 503) },
    },
  }, async (req) => {
    const q = req.query;
    const opts = parseFaceOptions({
      ...(q.k !== undefined ? { k: q.k } : {}),
      ...(q.from !== undefined ? { from: parseTime(q.from) } : {}),
      ...(q.to !== undefined ? { to: parseTime(q.to) } : {}),
      ...(q.camera ? { cameraIds: parseList(q.camera) } : {}),
    });
    // Before the upload is read: without an embedder nothing about the image matters.
    const embedder = o.faces;
    if (!embedder) throw new ApiError(503, 'API_FACE_UNAVAILABLE', 'face search is not available: this core has no face embedder configured');
    const part = await req.file();
    if (!part) throw new ApiError(400, 'API_BAD_REQUEST', `no file: send the image as multipart/form-data field "${FACE_FIELD}"`);
    if (part.fieldname !== FACE_FIELD) throw new ApiError(400, 'API_BAD_REQUEST', `the image must be in field "${FACE_FIELD}", not "${part.fieldname}"`);
    const bytes = await part.toBuffer();
    const { format } = await checkImageUpload(bytes);
    let face: Awaited<ReturnType<typeof embedder.embedFaceFromImage>>;
    try {
      face = await embedder.embedFaceFromImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (err) {
      // The header can pass and the pixels still fail (a truncated file): that is the upload's fault, not ours.
      if (err instanceof CvcoreError && err.code === 'INFERENCE_BAD_IMAGE') throw new ApiError(415, 'API_UNSUPPORTED_MEDIA', `the ${format} image does not decode`, { cause: err });
      throw err;
    }
    const imageSha256 = createHash('sha256').update(bytes).digest('hex');
    // The image itself is personal data and stays out of the trail; its hash ties the entry to the file.
    const audited = { ...opts, image: { sha256: imageSha256, bytes: bytes.byteLength, format } };
    if (!face) {
      await ctx.audit(req, 'face_search', audited, 0);
      throw new ApiError(422, 'API_NO_FACE', 'no face was found in the image: use a photo with one clearly visible, roughly frontal face');
    }
    const matches = await o.index.faceSearch(face.embedding, opts, scopeOf(ctx.principal(req)));
    await ctx.audit(req, 'face_search', audited, matches.map((m) => m.record.id));
    return {
      face: { box: face.box, quality: face.quality, gender: face.gender, age: face.age },
      matches: matches.map((m) => ({ record: withClip(ctx.withLinks(m.record)), similarity: m.similarity })),
      ...(matches.missingShards?.length ? { missingShards: matches.missingShards } : {}),
    };
  });

  app.get<{ Params: { id: string } }>('/api/v1/tracks/:id', {
    config: { access: { roles: ROLES.search } },
    schema: {
      summary: 'one track record (without its bytes), with its trajectory and its clip link', tags: ['search'], params: idParams,
      description: 'trajectory: [{t, x, y, w, h}], a measured box about every 0.5 s (t: wall-clock ms, the frame\'s capture time), first and last kept, at most 600, empty for records kept before trajectories; frame: {width, height}, the analysis frame the boxes are in (records without one: the camera\'s configured analysis size, or null for a camera no longer configured); clipRef: the recorded clip from 3 s before the track to 3 s after it.',
      response: { 200: { type: 'object', additionalProperties: true }, ...errors(404) },
    },
  }, async (req) => {
    const rec = await o.index.get(req.params.id, scopeOf(ctx.principal(req)));
    await ctx.audit(req, 'track', { id: req.params.id }, rec ? [rec.id] : 0);
    if (!rec) throw new ApiError(404, 'INDEX_NOT_FOUND', `no track "${req.params.id}"`);
    return trackView(ctx, rec);
  });

  // A track's images: personal data like the record, so scoped and audited the same way; `?token=` for <img>.
  const imageRoute = (path: string, summary: string, action: string, missing: string, read: (id: string, scope: ReturnType<typeof scopeOf>, p: Principal) => Promise<Uint8Array | null>): void => {
    app.get<{ Params: { id: string } }>(path, {
      config: { access: { roles: ROLES.search, queryToken: true }, openapi: { produces: 'image/jpeg' } },
      schema: { summary, tags: ['search'], params: idParams, response: errors(404) },
    }, async (req, reply) => {
      const p = ctx.principal(req);
      const jpeg = await read(req.params.id, scopeOf(p), p);
      await ctx.audit(req, action, { id: req.params.id }, jpeg ? [req.params.id] : 0);
      if (!jpeg) throw new ApiError(404, 'INDEX_NOT_FOUND', `${missing} "${req.params.id}"`);
      return reply.type('image/jpeg').send(Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength));
    });
  };
  // Without the face grant a person's best shot comes with its head blurred (api/privacy.ts).
  imageRoute('/api/v1/tracks/:id/thumbnail', 'the track\'s best-shot JPEG (a person\'s head blurred for a token without the face grant)', 'thumbnail', 'no track', async (id, scope, p) => {
    const jpeg = await o.index.thumbnail(id, scope);
    if (!jpeg || p.faces) return jpeg;
    const rec = await o.index.get(id, scope);
    // A stored best shot that does not decode cannot be blurred, so it is not shown at all (it was a 500: found by
    // test/fuzz-routes.test.ts); the original must never go out in its place.
    return rec && rec.cls === 'person' ? blurHead(jpeg).catch(() => null) : jpeg;
  });
  imageRoute('/api/v1/tracks/:id/plate', 'the JPEG of the track\'s licence plate', 'plate', 'no plate image for track', (id, scope) => o.index.plateCrop(id, scope));

  app.get<{ Querystring: { from?: string; to?: string; limit?: number; cursor?: string } }>('/api/v1/audit', {
    config: { access: { roles: ROLES.audit } },
    schema: {
      summary: 'the audit trail, oldest first (admins only)', tags: ['admin'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          from: { type: 'string', description: 'epoch ms or ISO time' }, to: { type: 'string', description: 'epoch ms or ISO time' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'default 100' }, cursor: { type: 'string' },
        },
      },
      response: { 200: auditPage, ...errors(400) },
    },
  }, async (req) => {
    const q = req.query;
    const opts: ReadAuditOptions = {};
    for (const k of ['from', 'to'] as const) {
      const t = parseTime(q[k]);
      if (t === undefined) continue;
      if (typeof t !== 'number') throw new ApiError(400, 'API_BAD_REQUEST', `${k} must be epoch ms or an ISO time`);
      opts[k] = t;
    }
    if (q.limit !== undefined) opts.limit = q.limit;
    if (q.cursor !== undefined) opts.cursor = q.cursor;
    return o.index.readAudit(opts);
  });
}
