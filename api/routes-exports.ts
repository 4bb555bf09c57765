/**
 * Evidence exports: a signed zip of tracks (each record, its thumbnail and its clip from a few seconds before to a
 * few after) or of a time range on cameras (each camera's clip and its records in the range); listing, detail,
 * download (with Range requests) and the node's public key. Investigators and admins only; a track or camera of
 * a department outside the caller's scope is answered exactly like one that does not exist, and an export is
 * visible only to callers of all its departments. Every export and every download is written to the audit trail
 * before the answer goes out.
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, CvcoreError, EvidenceError } from '../common/errors.js';
import type { TrackRecord } from '../common/messages.js';
import {
  ALARM_CLIP_MARGIN_MS, fileSegment, parseExportRequest, TRACK_CLIP_MARGIN_MS, type ExportFileInput, type ExportRequest, type ExportStore, type StoredExport,
} from '../evidence/index.js';
import type { Gap, RecordingService } from '../recording/index.js';
import { parseQuery, type Scope } from '../search-index/index.js';
import { ROLES, inScope, scopeOf } from './auth.js';
import type { ApiContext } from './context.js';
import { alarmView } from './routes-alarms.js';
import { trackView } from './routes-records.js';
import { parseRange } from './range.js';
import { audited, notFound, watchlistsOf } from './routes-watchlists.js';
import type { StoredAlarm } from '../watchlist/index.js';
import { errors } from './schemas.js';

/** A camera export's records: at most this many (the request notes say when there were more). */
export const MAX_RANGE_RECORDS = 1000;
/** Range requests of one download are audited once per token and export within this window (a player's or a resumed download's many ranges are one viewing). */
export const DOWNLOAD_AUDIT_WINDOW_MS = 3_600_000;

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;

export const exportView = {
  type: 'object', description: 'an evidence export (ExportInfo, evidence/types.ts) and where to download it',
  properties: {
    id: str, createdAt: int, createdBy: { ...str, description: 'token id' },
    departments: { type: 'array', items: str, description: 'departments whose data it holds: only callers of all of them see it' },
    request: { type: 'object', additionalProperties: true, description: 'what was asked for, and the clips that could not be exported (missing, with their gaps)' },
    bytes: { ...int, description: 'size of the zip' }, files: { ...int, description: 'entries in the zip' }, sha256: { ...str, description: 'SHA-256 of the zip' },
    hold: { type: ['object', 'null'], additionalProperties: true, description: 'a legal hold: kept beyond retention until released' },
    downloadRef: str,
  },
} as const;

const exportParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['id'] } as const;

/** A clip that could not go into the export, and why (the manifest's request notes list these). */
interface MissingClip { readonly cameraId: string; readonly from: number; readonly to: number; readonly code: string; readonly reason: string; readonly gaps?: readonly Gap[] }

export function exportsOf(ctx: ApiContext): ExportStore {
  const s = ctx.o.exports;
  if (!s) throw new ApiError(503, 'API_EXPORTS_UNAVAILABLE', 'exports are not available: this core has no export store configured');
  return s;
}

function notFoundExport(id: string): EvidenceError {
  return new EvidenceError('EVIDENCE_NOT_FOUND', `no export "${id}"`, { detail: { id } });
}

function view(e: StoredExport): Omit<StoredExport, 'path'> & { downloadRef: string } {
  const { path: _path, ...rest } = e;
  return { ...rest, downloadRef: `/api/v1/exports/${encodeURIComponent(e.id)}/download` };
}

/** Whether the caller may see an export: every department it holds is within the caller's. */
function visible(req: FastifyRequest, ctx: ApiContext, e: StoredExport): boolean {
  const p = ctx.principal(req);
  return e.departments.every((d) => inScope(p, d));
}

/** The record as GET /api/v1/tracks/:id answers it (bytes left out; links, trajectory and clip link in). */
function recordJson(ctx: ApiContext, rec: TrackRecord): Buffer {
  return Buffer.from(JSON.stringify(trackView(ctx, rec), null, 2) + '\n', 'utf8');
}

function recordFiles(ctx: ApiContext, rec: TrackRecord): ExportFileInput[] {
  const base = `records/${fileSegment(rec.id)}`;
  const out: ExportFileInput[] = [{ name: `${base}.json`, data: recordJson(ctx, rec) }];
  if (rec.thumbnail) out.push({ name: `${base}.jpg`, data: rec.thumbnail });
  if (rec.plateCrop) out.push({ name: `${base}-plate.jpg`, data: rec.plateCrop });
  return out;
}

/**
 * The clip of [from, to] on a camera, or why there is none. Only "not there" answers (nothing recorded, no such
 * recording camera, too long) become notes; anything else (a disk error) fails the export.
 */
async function clipOf(recordings: RecordingService | null, cameraId: string, from: number, to: number): Promise<{ file: ExportFileInput; sha256: string; start: number; end: number; gaps: readonly Gap[] } | MissingClip> {
  if (!recordings) return { cameraId, from, to, code: 'RECORDING_OFF', reason: 'this core records no camera' };
  try {
    const c = await recordings.clip(cameraId, from, to);
    return { file: { name: `clips/${fileSegment(cameraId)}-${from}-${to}.mp4`, open: () => c.read() }, sha256: c.sha256, start: c.start, end: c.end, gaps: c.gaps };
  } catch (err) {
    if (err instanceof CvcoreError && ['RECORDING_NOT_RECORDED', 'RECORDING_UNKNOWN_CAMERA', 'RECORDING_RANGE_TOO_LONG', 'RECORDING_BAD_RANGE'].includes(err.code)) {
      const gaps = err.detail['gaps'];
      return { cameraId, from, to, code: err.code, reason: err.message, ...(Array.isArray(gaps) ? { gaps: gaps as Gap[] } : {}) };
    }
    throw err;
  }
}

/** Records of one camera whose track starts in [from, to], newest first, up to `max`. */
async function recordsInRange(ctx: ApiContext, scope: Scope, cameraId: string, from: number, to: number, max: number): Promise<{ records: TrackRecord[]; more: boolean }> {
  const out: TrackRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await ctx.o.index.query(parseQuery({ cameraIds: [cameraId], from, to, limit: 500, ...(cursor ? { cursor } : {}) }), scope);
    for (const s of page.records) {
      if (out.length >= max) return { records: out, more: true };
      const r = await ctx.o.index.get(s.id, scope);
      if (r) out.push(r);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return { records: out, more: false };
}

interface Gathered {
  files: ExportFileInput[];
  departments: Set<string>;
  clips: { cameraId: string; from: number; to: number; start: number; end: number; sha256: string; name: string; gaps: readonly Gap[] }[];
  missing: MissingClip[];
  records: string[];
  alarms: string[];
  truncated: string[];
}

async function gather(ctx: ApiContext, req: FastifyRequest, r: ExportRequest, store: ExportStore): Promise<Gathered> {
  const scope = scopeOf(ctx.principal(req));
  const recordings = ctx.o.recordings ?? null;
  const g: Gathered = { files: [], departments: new Set(), clips: [], missing: [], records: [], alarms: [], truncated: [] };
  const names = new Set<string>();
  const addRecord = (rec: TrackRecord): void => {
    if (g.records.includes(rec.id)) return;
    g.records.push(rec.id);
    g.departments.add(rec.department);
    for (const f of recordFiles(ctx, rec)) { names.add(f.name); g.files.push(f); }
  };
  const addClip = async (cameraId: string, from: number, to: number): Promise<void> => {
    const c = await clipOf(recordings, cameraId, from, to);
    if ('file' in c) {
      if (names.has(c.file.name)) return;
      names.add(c.file.name);
      g.files.push(c.file);
      g.clips.push({ cameraId, from, to, start: c.start, end: c.end, sha256: c.sha256, name: c.file.name, gaps: c.gaps });
    } else g.missing.push(c);
  };

  // Every id is looked up before any clip is cut: a request naming a track the caller cannot see fails whole.
  const tracks: TrackRecord[] = [];
  for (const id of r.trackIds) {
    const rec = await ctx.o.index.get(id, scope);
    if (!rec) throw new ApiError(404, 'INDEX_NOT_FOUND', `no track "${id}"`);
    tracks.push(rec);
  }
  const alarms: StoredAlarm[] = [];
  if (r.alarmIds.length) {
    const w = watchlistsOf(ctx);
    for (const id of r.alarmIds) {
      const a = await w.alarm(id, scope);
      // The same answer as GET /api/v1/alarms/:id for one outside the scope or missing.
      if (!a) throw notFound(`alarm "${id}"`);
      alarms.push(a);
    }
  }
  for (const id of r.cameras) {
    ctx.camera(req, id);
    const d = ctx.departmentOf(id);
    if (d) g.departments.add(d);
  }
  for (const rec of tracks) {
    addRecord(rec);
    const from = rec.start - TRACK_CLIP_MARGIN_MS;
    // A long track (a parked car) gets its first maxRangeMs: the rest is for a camera-range export.
    const to = Math.min(rec.end + TRACK_CLIP_MARGIN_MS, from + store.limits.maxRangeMs);
    if (to < rec.end + TRACK_CLIP_MARGIN_MS) g.truncated.push(rec.id);
    await addClip(rec.cameraId, from, to);
  }
  for (const a of alarms) {
    const base = `alarms/${fileSegment(a.alarm.id)}`;
    g.alarms.push(a.alarm.id);
    g.departments.add(a.alarm.department);
    g.files.push({ name: `${base}.json`, data: Buffer.from(JSON.stringify(alarmView(a), null, 2) + '\n', 'utf8') });
    for (const which of ['snapshot', 'face'] as const) {
      const jpeg = (which === 'snapshot' ? a.hasSnapshot : a.hasFace) ? await watchlistsOf(ctx).alarmImage(a.alarm.id, which, scope) : null;
      if (jpeg) g.files.push({ name: `${base}${which === 'snapshot' ? '' : '-face'}.jpg`, data: jpeg });
    }
    await addClip(a.alarm.camera, a.alarm.at - ALARM_CLIP_MARGIN_MS, a.alarm.at + ALARM_CLIP_MARGIN_MS);
  }
  for (const id of r.cameras) {
    await addClip(id, r.from!, r.to!);
    const { records, more } = await recordsInRange(ctx, scope, id, r.from!, r.to!, MAX_RANGE_RECORDS);
    for (const rec of records) addRecord(rec);
    if (more) g.truncated.push(`camera ${id}: the first ${MAX_RANGE_RECORDS} records only`);
  }
  return g;
}

/**
 * Sends a file's bytes, honouring one byte range (206) or answering 416 with the size; every answer says it takes
 * ranges. `read` gives the bytes of a range (a sealed file opens only the chunks the range lies in).
 */
export function sendFileRange(req: FastifyRequest, reply: FastifyReply, read: (range?: { start: number; end: number }) => Readable, size: number, type: string, filename: string): FastifyReply {
  void reply.header('accept-ranges', 'bytes').header('content-disposition', `attachment; filename="${filename}"`);
  const range = parseRange(req.headers.range, size);
  if (range === 'unsatisfiable') {
    void reply.header('content-range', `bytes */${size}`);
    throw new ApiError(416, 'API_RANGE_NOT_SATISFIABLE', `range "${req.headers.range}" is outside the file (${size} bytes) or not of the form bytes=a-b`);
  }
  if (!range) return reply.type(type).header('content-length', String(size)).send(read());
  return reply.status(206).type(type)
    .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
    .header('content-length', String(range.end - range.start + 1))
    .send(read({ start: range.start, end: range.end }));
}

export function exportRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const access = { roles: ROLES.search };
  const tags = ['exports'];
  /** token + export -> last audited download by range, pruned as it grows. */
  const rangeAudited = new Map<string, number>();

  // An export holds clips, frames, thumbnails and face crops as they are: making or fetching one needs the face grant.
  app.post<{ Body: Record<string, unknown> }>('/api/v1/exports', {
    config: { access: { ...access, faces: true } },
    schema: {
      summary: 'export tracks (record, thumbnail, clip from 3 s before to 3 s after), alarms (alarm, frame, clip) or cameras over a time range (clip and records) as a zip signed by this node', tags,
      description: 'Body: {trackIds?: string[], alarmIds?: string[], cameras?: string[], from?: ms|ISO, to?: ms|ISO, note?: string}. Clips that are not recorded are listed in request.missing (with their gaps), not an error, unless nothing at all can be exported (EVIDENCE_EMPTY).',
      // Types are checked by parseExportRequest, not here: the validator would coerce "id" into ["id"] and a
      // refusal must name the field with EVIDENCE_BAD_REQUEST.
      body: {
        type: 'object',
        properties: {
          trackIds: { description: 'array of track ids (at most exports.maxTracks)' },
          alarmIds: { description: 'array of alarm ids (at most exports.maxTracks): each alarm, its frame and face, and its clip from 5 s before to 5 s after' },
          cameras: { description: 'array of camera ids (at most exports.maxCameras), with from and to' },
          from: { description: 'epoch ms or ISO time' }, to: { description: 'epoch ms or ISO time' },
          note: { description: 'string: why (case number...), kept in the manifest; at most 1000 characters' },
        },
      },
      response: { 201: exportView, ...errors(400, 404, 503) },
    },
  }, async (req, reply) => {
    const store = exportsOf(ctx);
    const p = ctx.principal(req);
    const body = req.body ?? {};
    const asked: Record<string, unknown> = {
      trackIds: Array.isArray(body['trackIds']) ? body['trackIds'] : [], alarmIds: Array.isArray(body['alarmIds']) ? body['alarmIds'] : [], cameras: Array.isArray(body['cameras']) ? body['cameras'] : [],
      from: body['from'] ?? null, to: body['to'] ?? null,
    };
    let info: StoredExport;
    let records: string[];
    let alarmIds: string[];
    try {
      const r = parseExportRequest(body, store.limits);
      const g = await gather(ctx, req, r, store);
      records = g.records;
      alarmIds = g.alarms;
      const request = {
        trackIds: r.trackIds, alarmIds: r.alarmIds, cameras: r.cameras, from: r.from, to: r.to, note: r.note,
        records: g.records, alarms: g.alarms, clips: g.clips.map(({ name, cameraId, from, to, start, end, gaps }) => ({ name, cameraId, from, to, start, end, gaps })),
        missing: g.missing, ...(g.truncated.length ? { truncated: g.truncated } : {}),
      };
      if (g.files.length === 0) {
        throw new EvidenceError('EVIDENCE_EMPTY', `nothing to export: no records in the range and no recording (${g.missing.map((m) => `${m.cameraId}: ${m.code}`).join('; ')})`, { detail: { missing: g.missing } });
      }
      const files: ExportFileInput[] = [{ name: 'request.json', data: Buffer.from(JSON.stringify(request, null, 2) + '\n', 'utf8') }, ...g.files];
      info = await store.create({ createdBy: p.tokenId, departments: [...g.departments], request, files, expect: new Map(g.clips.map((c) => [c.name, c.sha256])) });
    } catch (err) {
      // Refusals are attempts worth a line too (a track id outside the caller's scope, a range over the limit).
      if (err instanceof CvcoreError && err.code !== 'EVIDENCE_IO') await ctx.audit(req, 'export_create', { ...asked, error: err.code }, 0);
      throw err;
    }
    // One line names who exported what: the request, the export, its zip's digest, and the records it holds.
    await ctx.audit(req, 'export_create', { ...asked, id: info.id, sha256: info.sha256, bytes: info.bytes, departments: info.departments }, [info.id, ...records, ...alarmIds]);
    return reply.status(201).send(view(info));
  });

  app.get('/api/v1/exports', {
    config: { access },
    schema: { summary: 'exports the caller may see (all their departments within the caller\'s), newest first', tags, response: { 200: { type: 'object', properties: { exports: { type: 'array', items: exportView } } }, ...errors(503) } },
  }, async (req) => {
    const store = exportsOf(ctx);
    return audited(ctx, req, 'exports', {}, async () => {
      const list = store.list().filter((e) => visible(req, ctx, e));
      return { value: { exports: list.map(view) }, ids: list.map((e) => e.id) };
    });
  });

  app.get('/api/v1/exports/key', {
    config: { access: { roles: ROLES.view } },
    schema: {
      summary: 'this node\'s public signing key (Ed25519, SPKI PEM) and its fingerprint: what an export\'s node-key.pem must be', tags,
      response: { 200: { type: 'object', properties: { algorithm: str, fingerprint: { ...str, description: 'SHA-256 (hex) of the SPKI DER' }, publicKeyPem: str, node: str } }, ...errors(503) },
    },
  }, async () => {
    const store = exportsOf(ctx);
    return { algorithm: 'ed25519', fingerprint: store.key.fingerprint, publicKeyPem: store.key.publicPem, node: store.node };
  });

  app.get<{ Params: { id: string } }>('/api/v1/exports/:id', {
    config: { access },
    schema: { summary: 'one export', tags, params: exportParams, response: { 200: exportView, ...errors(404, 503) } },
  }, async (req) => {
    const store = exportsOf(ctx);
    return audited(ctx, req, 'export', { id: req.params.id }, async () => {
      const e = store.get(req.params.id);
      if (!e || !visible(req, ctx, e)) throw notFoundExport(req.params.id);
      return { value: view(e), ids: [e.id] };
    });
  });

  app.get<{ Params: { id: string } }>('/api/v1/exports/:id/download', {
    config: { access: { ...access, queryToken: true, faces: true }, openapi: { produces: 'application/zip' } },
    schema: { summary: 'the export zip (Range requests answered with 206)', tags, params: exportParams, response: errors(404, 416, 503) },
  }, async (req, reply) => {
    const store = exportsOf(ctx);
    const p = ctx.principal(req);
    const e = store.get(req.params.id);
    // A zip removed behind the store's back (by hand, a disk replaced) is gone: answered as missing, not a 500 mid-stream.
    // Sealed at rest: opened here (its header), so a key that does not open it is a typed error before any byte is sent.
    const sealed = !!e && visible(req, ctx, e) ? await store.open(e.id) : null;
    const found = sealed !== null;
    const key = `${p.tokenId}\u0000${req.params.id}`;
    const now = Date.now();
    // A plain GET is a download and always audited; the ranges of one viewing are audited once per window.
    const ranged = req.headers.range !== undefined;
    if (!found || !ranged || now - (rangeAudited.get(key) ?? 0) > DOWNLOAD_AUDIT_WINDOW_MS) {
      await ctx.audit(req, 'export_download', { id: req.params.id, range: req.headers.range ?? null, ...(found ? { sha256: e!.sha256 } : { error: 'EVIDENCE_NOT_FOUND' }) }, found ? [e!.id] : 0);
      if (found && ranged) {
        if (rangeAudited.size > 10_000) for (const [k, t] of rangeAudited) if (now - t > DOWNLOAD_AUDIT_WINDOW_MS) rangeAudited.delete(k);
        rangeAudited.set(key, now);
      }
    }
    if (!found) throw notFoundExport(req.params.id);
    return sendFileRange(req, reply, (r) => sealed!.read(r), sealed!.size, 'application/zip', `${e!.id}.zip`);
  });

  for (const [verb, summary] of [['hold', 'put an export under a legal hold (kept beyond retention until released); body {note}'], ['release', 'release an export\'s legal hold']] as const) {
    app.post<{ Params: { id: string }; Body?: { note?: string } }>(`/api/v1/exports/:id/${verb}`, {
      config: { access },
      schema: {
        summary, tags, params: exportParams,
        body: { content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { note: { type: 'string', minLength: 1, maxLength: 1000 } } } } } },
        response: { 200: exportView, ...errors(400, 404, 503) },
      },
    }, async (req) => {
      const store = exportsOf(ctx);
      const p = ctx.principal(req);
      const note = req.body?.note ?? null;
      return audited(ctx, req, `export_${verb}`, { id: req.params.id, note }, async () => {
        const e = store.get(req.params.id);
        if (!e || !visible(req, ctx, e)) throw notFoundExport(req.params.id);
        if (verb === 'hold' && note === null) throw new EvidenceError('EVIDENCE_BAD_REQUEST', 'note: a legal hold needs a note (case number, why)', { detail: { field: 'note' } });
        const next = await store.setHold(e.id, verb === 'hold' ? note : null, p.tokenId);
        if (!next) throw notFoundExport(req.params.id);
        return { value: view(next), ids: [next.id] };
      });
    });
  }
}
