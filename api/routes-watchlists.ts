/**
 * Watch-list routes: lists and their entries (face entries from photo uploads, plate entries from JSON), the
 * entries' photos and histories of matches. Investigators and admins only (a watch-list names people); every call
 * is written to the audit trail before it is answered, failed attempts included. A list or entry of a department
 * outside the caller's scope is answered exactly like one that does not exist.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, CvcoreError, WatchlistError } from '../common/errors.js';
import type { PlateEntry, StoredAlarm, WatchEntry, WatchList, WatchlistService } from '../watchlist/index.js';
import { DEFAULT_FACE_THRESHOLD, MAX_PHOTOS } from '../watchlist/index.js';
import { ROLES, inScope, scopeOf } from './auth.js';
import type { ApiContext } from './context.js';
import { alarmPage, alarmView } from './routes-alarms.js';
import { errors, parseTime } from './schemas.js';
import { checkImageUpload } from './upload.js';

export const PHOTO_FIELD = 'photo';
const TEXT_FIELDS = ['label', 'note', 'threshold', 'expiresAt'] as const;

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const nullableInt = { type: ['integer', 'null'] } as const;
const box = { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' }, w: { type: 'number' }, h: { type: 'number' } } } as const;

export const listView = {
  type: 'object', description: 'a watch-list',
  properties: {
    id: str, name: str, department: str, kind: { type: 'string', enum: ['face', 'plate'] }, note: str,
    createdAt: int, createdBy: { ...str, description: 'token id' }, updatedAt: int, entries: { ...int, description: 'entries (expired ones included)' },
    entriesUrl: str,
  },
} as const;

export const entryView = {
  type: 'object', description: 'a watch-list entry: face (photos, threshold) or plate (plate, match)',
  properties: {
    id: str, list: str, department: str, kind: { type: 'string', enum: ['face', 'plate'] }, label: str, note: str,
    expiresAt: { ...nullableInt, description: 'ms since the epoch; null: never. An expired entry stops matching and stays listed' },
    createdAt: int, createdBy: str, updatedAt: int, matches: int, lastMatchAt: nullableInt,
    threshold: { type: 'number', description: 'face: cosine similarity at or above which a live face matches' },
    photos: { type: 'array', items: { type: 'object', properties: { box, quality: { type: 'number' } } } },
    photoUrls: { type: 'array', items: str },
    plate: { ...str, description: 'plate: canonical form' }, match: { type: 'string', enum: ['exact', 'fuzzy'] },
    matchesUrl: str,
  },
} as const;

const listParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['id'] } as const;
const entryParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 64 }, entry: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['id', 'entry'] } as const;
const pageQuery = {
  type: 'object', additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 500, description: 'default 50' }, cursor: { type: 'string', maxLength: 512, description: 'nextCursor of the previous page' } },
} as const;
// null first: the body validator coerces types, and null would pass as the integer 0 in an integer branch.
const expiresAt = { anyOf: [{ type: 'null' }, { type: 'string', maxLength: 64 }, { type: 'integer' }], description: 'epoch ms or ISO time, in the future; null: never' } as const;

/** The service, or 503 when this core has none (checked first: nothing else about the request matters then). */
export function watchlistsOf(ctx: ApiContext): WatchlistService {
  const w = ctx.o.watchlists;
  if (!w) throw new ApiError(503, 'API_WATCHLIST_UNAVAILABLE', 'watch-lists are not available: this core has no watch-list store configured');
  return w;
}

export function notFound(what: string): ApiError {
  return new ApiError(404, 'API_NOT_FOUND', `no ${what}`);
}

const enc = encodeURIComponent;
export const entryBase = (list: string, entry: string): string => `/api/v1/watchlists/${enc(list)}/entries/${enc(entry)}`;

function withListLinks(l: WatchList): WatchList & { entriesUrl: string } {
  return { ...l, entriesUrl: `/api/v1/watchlists/${enc(l.id)}/entries` };
}

function withEntryLinks(e: WatchEntry): WatchEntry & { matchesUrl: string; photoUrls?: string[] } {
  const base = entryBase(e.list, e.id);
  return { ...e, matchesUrl: `${base}/matches`, ...(e.kind === 'face' ? { photoUrls: e.photos.map((_, n) => `${base}/photos/${n}`) } : {}) };
}

/** epoch ms, ISO, null, or absent; anything else is WATCHLIST_BAD_ENTRY naming expiresAt. */
function parseExpiry(v: unknown): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === null || v === '' || v === 'null') return null;
  const t = typeof v === 'number' ? v : typeof v === 'string' ? parseTime(v) : v;
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new WatchlistError('WATCHLIST_BAD_ENTRY', `expiresAt: must be epoch ms or an ISO time (got ${JSON.stringify(v)})`, { detail: { field: 'expiresAt' } });
  return t;
}

function parseThreshold(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new WatchlistError('WATCHLIST_BAD_ENTRY', `threshold: must be a number in 0..1 (got "${v}")`, { detail: { field: 'threshold' } });
  return n;
}

/**
 * Runs a route's work and audits it before the answer goes out: the ids it returns, or 0 with the error's code
 * when it failed (a refused upload is an attempt worth a line in the trail too).
 */
export async function audited<T>(ctx: ApiContext, req: FastifyRequest, action: string, query: Record<string, unknown>, fn: () => Promise<{ value: T; ids: readonly string[] | number }>): Promise<T> {
  let out: { value: T; ids: readonly string[] | number };
  try {
    out = await fn();
  } catch (err) {
    // Only the caller's mistakes and refusals are audited as attempts; a store failure is logged as a 500.
    if (err instanceof CvcoreError && err.code !== 'WATCHLIST_IO') await ctx.audit(req, action, { ...query, error: err.code }, 0);
    throw err;
  }
  await ctx.audit(req, action, query, out.ids);
  return out.value;
}

export function watchlistRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const access = { roles: ROLES.search };
  const tags = ['watchlists'];

  app.get('/api/v1/watchlists', {
    config: { access },
    schema: { summary: 'the watch-lists of the caller\'s departments', tags, response: { 200: { type: 'object', properties: { lists: { type: 'array', items: listView } } }, ...errors(503) } },
  }, async (req) => {
    const w = watchlistsOf(ctx);
    return audited(ctx, req, 'watchlist_lists', {}, async () => {
      const lists = await w.lists(scopeOf(ctx.principal(req)));
      return { value: { lists: lists.map(withListLinks) }, ids: lists.map((l) => l.id) };
    });
  });

  app.post<{ Body: { name: string; department: string; kind: 'face' | 'plate'; note?: string } }>('/api/v1/watchlists', {
    config: { access },
    schema: {
      summary: 'create a watch-list in one of the caller\'s departments', tags,
      body: {
        type: 'object', additionalProperties: false, required: ['name', 'department', 'kind'],
        properties: { name: { type: 'string', minLength: 1, maxLength: 128 }, department: { type: 'string', minLength: 1, maxLength: 128 }, kind: { type: 'string', enum: ['face', 'plate'] }, note: { type: 'string', maxLength: 1000 } },
      },
      response: { 201: listView, ...errors(400, 503) },
    },
  }, async (req, reply) => {
    const w = watchlistsOf(ctx);
    const p = ctx.principal(req);
    const b = req.body;
    const list = await audited(ctx, req, 'watchlist_create', { name: b.name, department: b.department, kind: b.kind }, async () => {
      if (!inScope(p, b.department)) throw new ApiError(403, 'API_FORBIDDEN', `department "${b.department}" is outside this token's departments`);
      const l = await w.createList(b, p.tokenId);
      return { value: l, ids: [l.id] };
    });
    return reply.status(201).send(withListLinks(list));
  });

  app.get<{ Params: { id: string } }>('/api/v1/watchlists/:id', {
    config: { access },
    schema: { summary: 'one watch-list', tags, params: listParams, response: { 200: listView, ...errors(404, 503) } },
  }, async (req) => {
    const w = watchlistsOf(ctx);
    return audited(ctx, req, 'watchlist_get', { id: req.params.id }, async () => {
      const l = await w.list(req.params.id, scopeOf(ctx.principal(req)));
      if (!l) throw notFound(`watch-list "${req.params.id}"`);
      return { value: withListLinks(l), ids: [l.id] };
    });
  });

  app.patch<{ Params: { id: string }; Body: { name?: string; note?: string } }>('/api/v1/watchlists/:id', {
    config: { access },
    schema: {
      summary: 'rename a watch-list or change its note', tags, params: listParams,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { name: { type: 'string', minLength: 1, maxLength: 128 }, note: { type: 'string', maxLength: 1000 } } },
      response: { 200: listView, ...errors(400, 404, 503) },
    },
  }, async (req) => {
    const w = watchlistsOf(ctx);
    return audited(ctx, req, 'watchlist_update', { id: req.params.id, ...req.body }, async () => {
      const l = await w.updateList(req.params.id, req.body, scopeOf(ctx.principal(req)));
      if (!l) throw notFound(`watch-list "${req.params.id}"`);
      return { value: withListLinks(l), ids: [l.id] };
    });
  });

  app.delete<{ Params: { id: string } }>('/api/v1/watchlists/:id', {
    config: { access },
    schema: { summary: 'delete a watch-list and all its entries (they stop matching at once; the alarm log keeps its alarms)', tags, params: listParams, response: { 204: { type: 'null', description: 'deleted' }, ...errors(404, 503) } },
  }, async (req, reply) => {
    const w = watchlistsOf(ctx);
    await audited(ctx, req, 'watchlist_delete', { id: req.params.id }, async () => {
      if (!(await w.deleteList(req.params.id, scopeOf(ctx.principal(req))))) throw notFound(`watch-list "${req.params.id}"`);
      return { value: null, ids: [req.params.id] };
    });
    return reply.status(204).send();
  });

  app.get<{ Params: { id: string }; Querystring: { limit?: number; cursor?: string } }>('/api/v1/watchlists/:id/entries', {
    config: { access },
    schema: {
      summary: 'a watch-list\'s entries, oldest first', tags, params: listParams, querystring: pageQuery,
      response: { 200: { type: 'object', properties: { entries: { type: 'array', items: entryView }, nextCursor: { type: ['string', 'null'] } } }, ...errors(400, 404, 503) },
    },
  }, async (req) => {
    const w = watchlistsOf(ctx);
    return audited(ctx, req, 'watchlist_entries', { id: req.params.id, ...req.query }, async () => {
      const page = await w.entries(req.params.id, scopeOf(ctx.principal(req)), req.query);
      if (!page) throw notFound(`watch-list "${req.params.id}"`);
      return { value: { entries: page.items.map(withEntryLinks), nextCursor: page.nextCursor }, ids: page.items.map((e) => e.id) };
    });
  });

  const plateBody = {
    type: 'object', additionalProperties: false, required: ['label', 'plate'],
    properties: {
      label: { type: 'string', maxLength: 128 }, plate: { type: 'string', maxLength: 32, description: 'mainland plate, separators and case ignored (鲁B12345 or 鲁B·12345)' },
      match: { type: 'string', enum: ['exact', 'fuzzy'], description: 'fuzzy: also plates one edit away (substitution, insertion, deletion); default exact' },
      note: { type: 'string', maxLength: 1000 }, expiresAt,
    },
  } as const;
  app.post<{ Params: { id: string }; Body?: { label: string; plate: string; match?: 'exact' | 'fuzzy'; note?: string; expiresAt?: number | string | null } }>('/api/v1/watchlists/:id/entries', {
    config: {
      access,
      openapi: {
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object', required: ['label', PHOTO_FIELD], description: 'face lists',
                properties: {
                  label: { type: 'string' }, note: { type: 'string' },
                  threshold: { type: 'string', description: `0..1, default ${DEFAULT_FACE_THRESHOLD}` }, expiresAt: { type: 'string', description: 'epoch ms or ISO time' },
                  [PHOTO_FIELD]: { type: 'array', maxItems: MAX_PHOTOS, items: { type: 'string', format: 'binary' }, description: `1..${MAX_PHOTOS} JPEG, PNG or WebP photos, one face each` },
                },
              },
            },
            'application/json': { schema: { ...plateBody, description: 'plate lists' } },
          },
        },
      },
    },
    schema: {
      summary: 'add an entry: photos (multipart/form-data) to a face list, a plate (JSON) to a plate list', tags, params: listParams,
      description: `Face lists: multipart/form-data with text fields label, note, threshold, expiresAt and 1..${MAX_PHOTOS} files in field "${PHOTO_FIELD}" (each up to config api.maxUploadBytes). Nothing is stored when any photo fails: 415 not an image, 422 WATCHLIST_NO_FACE / WATCHLIST_MANY_FACES naming the photo. Plate lists: JSON. The other kind: 400 WATCHLIST_KIND_MISMATCH.`,
      body: { content: { 'application/json': { schema: plateBody } } },
      response: { 201: entryView, ...errors(400, 404, 413, 415, 422, 503) },
    },
  }, async (req, reply) => {
    const w = watchlistsOf(ctx);
    const p = ctx.principal(req);
    const scope = scopeOf(p);
    const listId = req.params.id;
    const list = await w.list(listId, scope);
    if (req.isMultipart()) {
      const fields: Partial<Record<(typeof TEXT_FIELDS)[number], string>> = {};
      const photos: Buffer[] = [];
      // Read the whole upload first (a request must be consumed), then decide.
      for await (const part of req.parts({ limits: { files: MAX_PHOTOS + 1, fields: TEXT_FIELDS.length, parts: MAX_PHOTOS + 1 + TEXT_FIELDS.length, fileSize: ctx.o.access.maxUploadBytes } })) {
        if (part.type === 'file') {
          if (part.fieldname !== PHOTO_FIELD) throw new ApiError(400, 'API_BAD_REQUEST', `photos go in field "${PHOTO_FIELD}", not "${part.fieldname}"`);
          photos.push(await part.toBuffer());
        } else {
          if (!(TEXT_FIELDS as readonly string[]).includes(part.fieldname)) throw new ApiError(400, 'API_BAD_REQUEST', `unknown field "${part.fieldname}" (fields: ${TEXT_FIELDS.join(', ')}, ${PHOTO_FIELD})`);
          fields[part.fieldname as (typeof TEXT_FIELDS)[number]] = String(part.value);
        }
      }
      const hashes = photos.map((b) => ({ sha256: createHash('sha256').update(b).digest('hex'), bytes: b.byteLength }));
      // The photos themselves are personal data and stay out of the trail; their hashes tie the line to the files.
      const query = { list: listId, kind: 'face', label: fields.label, threshold: fields.threshold, expiresAt: fields.expiresAt, photos: hashes };
      const entry = await audited(ctx, req, 'watchlist_entry_add', query, async () => {
        if (!list) throw notFound(`watch-list "${listId}"`);
        if (list.kind !== 'face') throw new WatchlistError('WATCHLIST_KIND_MISMATCH', `list "${listId}" holds plates: send JSON { label, plate, match }, not photos`, { detail: { list: listId, kind: list.kind } });
        if (photos.length === 0) throw new WatchlistError('WATCHLIST_BAD_ENTRY', `photo: a face entry takes 1..${MAX_PHOTOS} photos in field "${PHOTO_FIELD}" (got none)`, { detail: { field: 'photo' } });
        if (photos.length > MAX_PHOTOS) throw new WatchlistError('WATCHLIST_BAD_ENTRY', `photo: a face entry takes at most ${MAX_PHOTOS} photos (got ${photos.length})`, { detail: { field: 'photo' } });
        for (let i = 0; i < photos.length; i++) await checkImageUpload(photos[i]!, `photo ${i + 1} of ${photos.length}`);
        const threshold = parseThreshold(fields.threshold);
        const exp = parseExpiry(fields.expiresAt);
        let e;
        try {
          e = await w.addFaceEntry(listId, {
            label: fields.label ?? '', ...(fields.note !== undefined ? { note: fields.note } : {}), ...(threshold !== undefined ? { threshold } : {}), ...(exp !== undefined ? { expiresAt: exp } : {}),
            photos: photos.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
          }, p.tokenId, scope);
        } catch (err) {
          // The header can pass and the pixels still fail (a truncated file): the upload's fault, as in face search.
          if (err instanceof CvcoreError && err.code === 'INFERENCE_BAD_IMAGE') throw new ApiError(415, 'API_UNSUPPORTED_MEDIA', err.message, { cause: err, detail: err.detail as Record<string, unknown> });
          throw err;
        }
        if (!e) throw notFound(`watch-list "${listId}"`);
        return { value: e, ids: [e.id] };
      });
      return reply.status(201).send(withEntryLinks(entry));
    }
    const b = req.body;
    const query = { list: listId, kind: 'plate', label: b?.label, plate: b?.plate, match: b?.match, expiresAt: b?.expiresAt };
    const entry = await audited(ctx, req, 'watchlist_entry_add', query, async () => {
      if (!list) throw notFound(`watch-list "${listId}"`);
      if (list.kind !== 'plate') throw new WatchlistError('WATCHLIST_KIND_MISMATCH', `list "${listId}" holds faces: send photos as multipart/form-data (field "${PHOTO_FIELD}"), not JSON`, { detail: { list: listId, kind: list.kind } });
      if (!b) throw new ApiError(400, 'API_BAD_REQUEST', 'a JSON body { label, plate, match?, note?, expiresAt? } is required');
      const exp = parseExpiry(b.expiresAt);
      const e: PlateEntry | null = await w.addPlateEntry(listId, {
        label: b.label, plate: b.plate, ...(b.match ? { match: b.match } : {}), ...(b.note !== undefined ? { note: b.note } : {}), ...(exp !== undefined ? { expiresAt: exp } : {}),
      }, p.tokenId, scope);
      if (!e) throw notFound(`watch-list "${listId}"`);
      return { value: e, ids: [e.id] };
    });
    return reply.status(201).send(withEntryLinks(entry));
  });

  app.get<{ Params: { id: string; entry: string } }>('/api/v1/watchlists/:id/entries/:entry', {
    config: { access },
    schema: { summary: 'one entry', tags, params: entryParams, response: { 200: entryView, ...errors(404, 503) } },
  }, async (req) => {
    const w = watchlistsOf(ctx);
    return audited(ctx, req, 'watchlist_entry_get', { list: req.params.id, entry: req.params.entry }, async () => {
      const e = await w.entry(req.params.id, req.params.entry, scopeOf(ctx.principal(req)));
      if (!e) throw notFound(`entry "${req.params.entry}" in watch-list "${req.params.id}"`);
      return { value: withEntryLinks(e), ids: [e.id] };
    });
  });

  app.patch<{ Params: { id: string; entry: string }; Body: { label?: string; note?: string; threshold?: number; expiresAt?: number | string | null } }>('/api/v1/watchlists/:id/entries/:entry', {
    config: { access },
    schema: {
      summary: 'change an entry\'s label, note, threshold (face) or expiry', tags, params: entryParams,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { label: { type: 'string', maxLength: 128 }, note: { type: 'string', maxLength: 1000 }, threshold: { type: 'number' }, expiresAt } },
      response: { 200: entryView, ...errors(400, 404, 503) },
    },
  }, async (req) => {
    const w = watchlistsOf(ctx);
    return audited(ctx, req, 'watchlist_entry_update', { list: req.params.id, entry: req.params.entry, ...req.body }, async () => {
      const { expiresAt: rawExp, ...rest } = req.body;
      const exp = parseExpiry(rawExp);
      const e = await w.updateEntry(req.params.id, req.params.entry, { ...rest, ...(exp !== undefined ? { expiresAt: exp } : {}) }, scopeOf(ctx.principal(req)));
      if (!e) throw notFound(`entry "${req.params.entry}" in watch-list "${req.params.id}"`);
      return { value: withEntryLinks(e), ids: [e.id] };
    });
  });

  app.delete<{ Params: { id: string; entry: string } }>('/api/v1/watchlists/:id/entries/:entry', {
    config: { access },
    schema: { summary: 'remove an entry: it stops matching before this answers (the alarm log keeps its alarms)', tags, params: entryParams, response: { 204: { type: 'null', description: 'removed' }, ...errors(404, 503) } },
  }, async (req, reply) => {
    const w = watchlistsOf(ctx);
    await audited(ctx, req, 'watchlist_entry_remove', { list: req.params.id, entry: req.params.entry }, async () => {
      if (!(await w.removeEntry(req.params.id, req.params.entry, scopeOf(ctx.principal(req))))) throw notFound(`entry "${req.params.entry}" in watch-list "${req.params.id}"`);
      return { value: null, ids: [req.params.entry] };
    });
    return reply.status(204).send();
  });

  app.get<{ Params: { id: string; entry: string; n: number } }>('/api/v1/watchlists/:id/entries/:entry/photos/:n', {
    config: { access: { ...access, queryToken: true, faces: true }, openapi: { produces: 'image/jpeg' } },
    schema: {
      summary: 'an entry\'s photo n (0-based), as stored (JPEG)', tags,
      params: { type: 'object', properties: { ...entryParams.properties, n: { type: 'integer', minimum: 0, maximum: MAX_PHOTOS - 1 } }, required: ['id', 'entry', 'n'] },
      response: errors(404, 503),
    },
  }, async (req, reply) => {
    const w = watchlistsOf(ctx);
    const { id, entry, n } = req.params;
    const jpeg = await audited(ctx, req, 'watchlist_entry_photo', { list: id, entry, n }, async () => {
      const b = await w.entryPhoto(id, entry, n, scopeOf(ctx.principal(req)));
      if (!b) throw notFound(`photo ${n} of entry "${entry}" in watch-list "${id}"`);
      return { value: b, ids: [entry] };
    });
    return reply.type('image/jpeg').send(Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength));
  });

  app.get<{ Params: { id: string; entry: string }; Querystring: { limit?: number; cursor?: string } }>('/api/v1/watchlists/:id/entries/:entry/matches', {
    config: { access },
    schema: { summary: 'the entry\'s history of matches (its watch-list alarms), newest first', tags, params: entryParams, querystring: pageQuery, response: { 200: alarmPage, ...errors(400, 404, 503) } },
  }, async (req) => {
    const w = watchlistsOf(ctx);
    return audited(ctx, req, 'watchlist_entry_matches', { list: req.params.id, entry: req.params.entry, ...req.query }, async () => {
      const page = await w.entryMatches(req.params.id, req.params.entry, scopeOf(ctx.principal(req)), req.query);
      if (!page) throw notFound(`entry "${req.params.entry}" in watch-list "${req.params.id}"`);
      return { value: { alarms: page.items.map((a: StoredAlarm) => alarmView(a)), nextCursor: page.nextCursor }, ids: page.items.map((a) => a.alarm.id) };
    });
  });
}
