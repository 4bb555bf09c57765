/**
 * Erasure of one person's data (admins only): by track ids, or by a face photo that first finds the person's tracks
 * with the index's face search within the caller's scope. It reaches the index (records, their entries and counts,
 * faces and face vectors, thumbnails, plate crops, trajectories, the crowd frames that show them;
 * search-index/erase.ts), and the watch-list store (entries named by id or whose photo matches the face, and the
 * alarms about the tracks or entries, with their frames). A dry run answers the same receipt and changes nothing.
 *
 * Cluster mode: the api's index is ClusterIndex, whose erase reaches every replica of every shard through the
 * erasure stream and deletes the records from the record log (cluster/erasure.ts); the receipt adds `cluster`
 * (replicas applied / pending) and `recordLog`. redactAudit is refused there (the trail is a replicated stream).
 *
 * Scope: ids outside the caller's departments are "not found", exactly like missing ones, and nothing of theirs
 * is touched. The erasure is itself an audit entry: who, when, reason, case reference and how many of each kind,
 * never the erased ids or the photo (its SHA-256 only).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, CvcoreError } from '../common/errors.js';
import { ERASURE_LIMITS, QUERY_LIMITS, type ErasureResult, type Scope } from '../search-index/index.js';
import { DEFAULT_FACE_THRESHOLD } from '../watchlist/index.js';
import { scopeOf } from './auth.js';
import type { ApiContext } from './context.js';
import { errors } from './schemas.js';
import { checkImageUpload } from './upload.js';

export const ERASURE_PHOTO_FIELD = 'photo';
const TEXT_FIELDS = ['reason', 'caseRef', 'threshold', 'dryRun', 'redactAudit'] as const;
/** Most watch-list entries one erasure names. */
export const MAX_ERASURE_ENTRIES = 100;
/** A photo erasure searches again after each round until no track in scope reaches the threshold, at most this often. */
const MAX_FACE_ROUNDS = 20;
const ROLES_ERASE = ['admin'] as const;

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const strings = { type: 'array', items: str } as const;
const entryRef = { type: 'object', additionalProperties: false, required: ['list', 'entry'], properties: { list: { type: 'string', minLength: 1, maxLength: 64 }, entry: { type: 'string', minLength: 1, maxLength: 64 } } } as const;

const jsonBody = {
  type: 'object', additionalProperties: false, required: ['trackIds', 'reason', 'caseRef'],
  properties: {
    trackIds: { type: 'array', minItems: 0, maxItems: ERASURE_LIMITS.maxIds, items: { type: 'string', minLength: 1, maxLength: ERASURE_LIMITS.maxIdLength }, description: 'the person\'s track (record) ids' },
    reason: { type: 'string', minLength: 1, maxLength: 1000, description: 'why (kept in the audit trail)' },
    caseRef: { type: 'string', minLength: 1, maxLength: 128, description: 'the request or case reference (kept in the audit trail)' },
    watchlistEntries: { type: 'array', maxItems: MAX_ERASURE_ENTRIES, items: entryRef, description: 'watch-list entries of the person, by list and entry id' },
    dryRun: { type: 'boolean', description: 'answer what would be erased; change nothing' },
    redactAudit: { type: 'boolean', description: 'also redact earlier audit entries that list an erased track (the chain still verifies); default false' },
  },
} as const;

export const erasureReceipt = {
  type: 'object', description: 'what was erased (or, in a dry run, would be)',
  properties: {
    id: str, dryRun: { type: 'boolean' }, at: int, by: { ...str, description: 'token id' }, reason: str, caseRef: str,
    match: {
      type: 'object', description: 'how the tracks were chosen',
      properties: { by: { type: 'string', enum: ['trackIds', 'face'] }, threshold: { type: 'number' }, matches: int, photoSha256: str },
    },
    counts: {
      type: 'object',
      properties: {
        records: int, faces: int, thumbnails: int, plateCrops: int, trajectories: int, alarmFramesBlanked: int, alarmFramesDeleted: int,
        alarms: int, watchlistEntries: int, auditRedacted: int,
      },
    },
    tracks: strings,
    notFound: { ...strings, description: 'asked-for track ids that are missing or outside the caller\'s departments (not told apart)' },
    alarmFrames: { type: 'object', properties: { blanked: strings, deleted: strings } },
    alarms: strings,
    watchlistEntries: { type: 'array', items: entryRef },
    watchlistEntriesNotFound: { type: 'array', items: entryRef },
    watchlists: { type: 'string', enum: ['done', 'unavailable'], description: 'unavailable: this core has no watch-list store' },
    cluster: {
      type: 'object', description: 'cluster mode: the index replicas (node ids) that applied the erasure, and those that were down or late and apply it from the erasure stream when back',
      properties: { applied: strings, pending: strings },
    },
    recordLog: {
      type: 'object', description: 'cluster mode: the erased records\' messages deleted from the record streams, and erased ids the log no longer held',
      properties: { deleted: int, notFound: strings },
    },
    recordings: { ...str, description: 'recordings are not erased (see README "Erasure")' },
  },
} as const;

const RECORDINGS_NOTE = 'kept: recorded video is a stream copy of every camera; it is not cut per person and goes by recording retention (see README "Erasure")';

interface Parsed {
  trackIds: string[];
  reason: string;
  caseRef: string;
  dryRun: boolean;
  redactAudit: boolean;
  entries: Array<{ list: string; entry: string }>;
  photo: Buffer | null;
  threshold: number;
}

function badField(field: string, why: string): ApiError {
  return new ApiError(400, 'API_ERASURE_BAD_REQUEST', `${field}: ${why}`, { detail: { field } });
}

function flag(v: string | undefined, field: string): boolean {
  if (v === undefined || v === '' || v === 'false') return false;
  if (v === 'true') return true;
  throw badField(field, `must be true or false (got "${v}")`);
}

async function parseRequest(req: FastifyRequest, maxUploadBytes: number): Promise<Parsed> {
  if (req.isMultipart()) {
    const fields: Partial<Record<(typeof TEXT_FIELDS)[number], string>> = {};
    let photo: Buffer | null = null;
    let files = 0;
    // Read the whole upload first (a request must be consumed), then decide.
    for await (const part of req.parts({ limits: { files: 2, fields: TEXT_FIELDS.length, parts: TEXT_FIELDS.length + 2, fileSize: maxUploadBytes } })) {
      if (part.type === 'file') {
        if (part.fieldname !== ERASURE_PHOTO_FIELD) throw badField(part.fieldname, `the photo goes in field "${ERASURE_PHOTO_FIELD}"`);
        files++;
        photo = await part.toBuffer();
      } else {
        if (!(TEXT_FIELDS as readonly string[]).includes(part.fieldname)) throw badField(part.fieldname, `unknown field (fields: ${TEXT_FIELDS.join(', ')}, ${ERASURE_PHOTO_FIELD})`);
        fields[part.fieldname as (typeof TEXT_FIELDS)[number]] = String(part.value);
      }
    }
    if (files !== 1 || !photo) throw badField(ERASURE_PHOTO_FIELD, 'one face photo is needed (multipart), or send JSON { trackIds, reason, caseRef }');
    const threshold = fields.threshold === undefined || fields.threshold === '' ? DEFAULT_FACE_THRESHOLD : Number(fields.threshold);
    if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) throw badField('threshold', `must be a number in 0..1 (got "${fields.threshold}")`);
    return {
      trackIds: [], reason: text(fields.reason, 'reason', 1000), caseRef: text(fields.caseRef, 'caseRef', 128), dryRun: flag(fields.dryRun, 'dryRun'),
      redactAudit: flag(fields.redactAudit, 'redactAudit'), entries: [], photo, threshold,
    };
  }
  const b = req.body as { trackIds?: string[]; reason?: string; caseRef?: string; dryRun?: boolean; redactAudit?: boolean; watchlistEntries?: Array<{ list: string; entry: string }> } | undefined;
  if (!b || typeof b !== 'object') throw badField('body', 'send JSON { trackIds, reason, caseRef } or multipart with a face photo');
  const trackIds = [...new Set(b.trackIds ?? [])];
  const entries = b.watchlistEntries ?? [];
  if (trackIds.length === 0 && entries.length === 0) throw badField('trackIds', 'name at least one track (or a watch-list entry)');
  return {
    trackIds, reason: text(b.reason, 'reason', 1000), caseRef: text(b.caseRef, 'caseRef', 128), dryRun: b.dryRun === true, redactAudit: b.redactAudit === true,
    entries, photo: null, threshold: DEFAULT_FACE_THRESHOLD,
  };
}

function text(v: string | undefined, field: string, max: number): string {
  const t = (v ?? '').trim();
  if (t.length === 0 || t.length > max) throw badField(field, `is required, 1..${max} characters`);
  return t;
}

const EMPTY: ErasureResult = { tracks: [], notFound: [], faces: 0, thumbnails: 0, plateCrops: 0, trajectories: 0, alarmFrames: { blanked: [], deleted: [] }, auditRedacted: 0 };

function merge(a: ErasureResult, b: ErasureResult): ErasureResult {
  return {
    tracks: [...a.tracks, ...b.tracks], notFound: [...a.notFound, ...b.notFound], faces: a.faces + b.faces, thumbnails: a.thumbnails + b.thumbnails,
    plateCrops: a.plateCrops + b.plateCrops, trajectories: a.trajectories + b.trajectories,
    alarmFrames: { blanked: [...new Set([...a.alarmFrames.blanked, ...b.alarmFrames.blanked])], deleted: [...new Set([...a.alarmFrames.deleted, ...b.alarmFrames.deleted])] },
    auditRedacted: a.auditRedacted + b.auditRedacted,
    ...(a.cluster || b.cluster ? {
      cluster: {
        applied: [...new Set([...(a.cluster?.applied ?? []), ...(b.cluster?.applied ?? [])])].filter((n) => !(a.cluster?.pending ?? []).includes(n) && !(b.cluster?.pending ?? []).includes(n)).sort(),
        pending: [...new Set([...(a.cluster?.pending ?? []), ...(b.cluster?.pending ?? [])])].sort(),
      },
    } : {}),
    ...(a.recordLog || b.recordLog ? {
      recordLog: { deleted: (a.recordLog?.deleted ?? 0) + (b.recordLog?.deleted ?? 0), notFound: [...(a.recordLog?.notFound ?? []), ...(b.recordLog?.notFound ?? [])] },
    } : {}),
  };
}

export function erasureRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { o } = ctx;
  app.post('/api/v1/erasures', {
    config: {
      access: { roles: ROLES_ERASE },
      openapi: {
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: jsonBody },
            'multipart/form-data': {
              schema: {
                type: 'object', required: [ERASURE_PHOTO_FIELD, 'reason', 'caseRef'],
                properties: {
                  [ERASURE_PHOTO_FIELD]: { type: 'string', format: 'binary', description: 'JPEG, PNG or WebP with the person\'s face' },
                  reason: str, caseRef: str,
                  threshold: { type: 'string', description: `0..1: tracks whose face is at least this similar are the person's (default ${DEFAULT_FACE_THRESHOLD})` },
                  dryRun: { type: 'string', enum: ['true', 'false'] }, redactAudit: { type: 'string', enum: ['true', 'false'] },
                },
              },
            },
          },
        },
      },
    },
    schema: {
      summary: 'erase one person\'s data within the caller\'s departments (admins only), or with dryRun say what would go', tags: ['admin'],
      description: 'JSON { trackIds, reason, caseRef, watchlistEntries?, dryRun?, redactAudit? }, or multipart/form-data with a face photo in field "photo" plus reason, caseRef, threshold, dryRun, redactAudit: the photo finds the tracks by face search within scope. Erases the records (index entries, counts, thumbnails, plate crops, trajectories), their faces and face vectors, crowd frames that show them (the person\'s box blanked, or the frame deleted), the alarms about them, and the watch-list entries named or whose photo matches. Ids outside scope are reported as notFound, like missing ones. In cluster mode the erasure reaches every index replica of every shard (the receipt names the replicas that applied it and those pending) and deletes the records from the record log; redactAudit answers 501 API_ERASURE_CLUSTER there.',
      body: { content: { 'application/json': { schema: jsonBody } } },
      response: { 200: erasureReceipt, ...errors(400, 413, 415, 422, 501, 503) },
    },
  }, async (req) => {
    const p = ctx.principal(req);
    const scope: Scope = scopeOf(p);
    const id = `er-${randomBytes(9).toString('base64url')}`;
    let parsed: Parsed | null = null;
    let photoSha256: string | undefined;
    const action = (): string => (parsed?.dryRun ? 'erasure_dry_run' : 'erasure');
    const basis = (): Record<string, unknown> => ({
      erasureId: id, reason: parsed?.reason, caseRef: parsed?.caseRef, by: parsed?.photo ? 'face' : 'trackIds', requested: parsed?.trackIds.length,
      ...(photoSha256 ? { photoSha256, threshold: parsed?.threshold } : {}),
    });
    try {
      const eraseIndex = o.index.erase?.bind(o.index);
      // In a cluster the api's index is ClusterIndex: its erase reaches every replica of every shard (cluster/erasure.ts).
      if (!eraseIndex) throw new ApiError(501, 'API_ERASURE_CLUSTER', 'this core\'s index cannot erase (see README "Erasure")');
      parsed = await parseRequest(req, o.access.maxUploadBytes);
      const q = parsed;
      if (o.cluster && q.redactAudit) {
        throw new ApiError(501, 'API_ERASURE_CLUSTER', 'redactAudit is not available in cluster mode: the audit trail is the replicated JetStream stream CVCORE_AUDIT, whose entries are not rewritten; erase without redactAudit (see README "Erasure")', { detail: { field: 'redactAudit' } });
      }
      const erase = (r: { ids: string[]; scope: Scope; dryRun: boolean; redactAudit: boolean }): Promise<ErasureResult> => eraseIndex({ ...r, erasureId: id });
      const w = o.watchlists ?? null;
      let faceEmbedding: Float32Array | null = null;
      let matches = 0;
      if (q.photo) {
        // Finding a person by face is a face search (the dry run lists what it matched): the face grant's.
        if (!p.faces) throw new ApiError(403, 'API_FACE_GRANT_REQUIRED', `token ${p.tokenId} has no face grant: erasure by a face photo searches faces; erase by track ids`);
        photoSha256 = createHash('sha256').update(q.photo).digest('hex');
        const embedder = o.faces;
        if (!embedder) throw new ApiError(503, 'API_FACE_UNAVAILABLE', 'erasure by photo needs a face embedder and this core has none: erase by track ids');
        const { format } = await checkImageUpload(q.photo);
        let face;
        try {
          face = await embedder.embedFaceFromImage(new Uint8Array(q.photo.buffer, q.photo.byteOffset, q.photo.byteLength));
        } catch (err) {
          if (err instanceof CvcoreError && err.code === 'INFERENCE_BAD_IMAGE') throw new ApiError(415, 'API_UNSUPPORTED_MEDIA', `the ${format} image does not decode`, { cause: err });
          throw err;
        }
        if (!face) throw new ApiError(422, 'API_NO_FACE', 'no face was found in the photo: use a photo with one clearly visible, roughly frontal face');
        faceEmbedding = face.embedding;
      }
      const findByFace = async (): Promise<string[]> => {
        const found = await o.index.faceSearch(faceEmbedding!, { k: QUERY_LIMITS.maxK }, scope);
        return found.filter((m) => m.similarity >= q.threshold).map((m) => m.record.id);
      };

      let result = EMPTY;
      if (faceEmbedding) {
        // A dry run lists one search's worth; the erasure searches again until no track in scope reaches the threshold.
        for (let round = 0; round < (q.dryRun ? 1 : MAX_FACE_ROUNDS); round++) {
          const ids = (await findByFace()).filter((t) => !result.tracks.includes(t));
          if (ids.length === 0) break;
          matches += ids.length;
          result = merge(result, await erase({ ids, scope, dryRun: q.dryRun, redactAudit: q.redactAudit }));
        }
      } else if (q.trackIds.length > 0) {
        result = await erase({ ids: q.trackIds, scope, dryRun: q.dryRun, redactAudit: q.redactAudit });
      }

      // Watch-list entries: named ones in scope, and with a photo those whose own photo matches the face.
      const entries: Array<{ list: string; entry: string }> = [];
      const entriesNotFound: Array<{ list: string; entry: string }> = [];
      let alarms: string[] = [];
      if (w) {
        for (const e of q.entries) {
          if (await w.entry(e.list, e.entry, scope)) entries.push(e);
          else entriesNotFound.push(e);
        }
        if (faceEmbedding && w.faceEntriesMatching) {
          for (const hit of w.faceEntriesMatching(faceEmbedding, scope)) if (!entries.some((e) => e.entry === hit.entry)) entries.push({ list: hit.list, entry: hit.entry });
        }
        alarms = w.eraseAlarmsOf ? await w.eraseAlarmsOf(result.tracks, scope, q.dryRun, entries.map((e) => e.entry)) : [];
        if (!q.dryRun) for (const e of entries) await w.removeEntry(e.list, e.entry, scope);
      } else {
        entriesNotFound.push(...q.entries);
      }

      const counts = {
        records: result.tracks.length, faces: result.faces, thumbnails: result.thumbnails, plateCrops: result.plateCrops, trajectories: result.trajectories,
        alarmFramesBlanked: result.alarmFrames.blanked.length, alarmFramesDeleted: result.alarmFrames.deleted.length, alarms: alarms.length,
        watchlistEntries: entries.length, auditRedacted: result.auditRedacted,
      };
      // The trail keeps who, when, why and how many: not the erased ids, not the photo.
      // In a cluster, which index replicas applied it and which will when back (node ids, no personal data).
      await ctx.audit(req, action(), { ...basis(), dryRun: q.dryRun, redactAudit: q.redactAudit, counts, ...(result.cluster && !q.dryRun ? { replicas: result.cluster } : {}) }, result.tracks.length);
      return {
        id, dryRun: q.dryRun, at: Date.now(), by: p.tokenId, reason: q.reason, caseRef: q.caseRef,
        match: q.photo ? { by: 'face', threshold: q.threshold, matches, ...(photoSha256 ? { photoSha256 } : {}) } : { by: 'trackIds' },
        counts, tracks: result.tracks, notFound: result.notFound, alarmFrames: result.alarmFrames, alarms, watchlistEntries: entries,
        watchlistEntriesNotFound: entriesNotFound, watchlists: w ? 'done' : 'unavailable', recordings: RECORDINGS_NOTE,
        ...(result.cluster ? { cluster: result.cluster } : {}), ...(result.recordLog ? { recordLog: result.recordLog } : {}),
      };
    } catch (err) {
      // Refusals and the caller's mistakes are attempts worth a line too; a store failure is logged as a 500.
      if (err instanceof CvcoreError && !err.code.endsWith('_IO')) await ctx.audit(req, action(), { ...basis(), error: err.code }, 0);
      throw err;
    }
  });
}
