/**
 * The console's only door to the core: fetch with the signed-in token (Authorization: Bearer), URLs for
 * images and WebSockets (?token=, since a browser cannot set headers there), and one error class with the
 * API's stable `code` so views can say precisely what went wrong.
 */
import type {
  Alarm, AlarmKind, AlarmState, AlarmView, AlarmsPage, AuditPage, Box, Camera, ClipInfo, ClipSpan, ClusterStatus, CrowdAlert, EntriesPage, FaceEntry,
  FaceSearchResult, ListKind, PlateEntry, RecordingsAnswer, Role, SearchPage, TrackSummary, WatchEntry, WatchList, ZoneCount,
} from './types';

/** The API's query parameters for a set of filters (also the console's #/search URL). */
export function filterParams(f: SearchFilters): URLSearchParams {
  const q = new URLSearchParams();
  if (f.cameras?.length) q.set('camera', f.cameras.join(','));
  if (f.classes?.length) q.set('class', f.classes.join(','));
  if (f.from !== undefined) q.set('from', String(f.from));
  if (f.to !== undefined) q.set('to', String(f.to));
  for (const k of ['colour', 'vehicleType', 'gender', 'ageBand', 'plate', 'plateColour', 'upperColour', 'lowerColour'] as const) if (f[k]) q.set(k, f[k]!);
  return q;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The body's `detail` where the API sent one (RECORDING_NOT_RECORDED: the gaps). */
  readonly detail: Record<string, unknown>;
  constructor(status: number, code: string, message: string, detail: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** The API path of a camera's clip over wall-clock [from, to) ms (what clipRef holds). */
export function clipPath(cameraId: string, from: number, to: number): string {
  return `/api/v1/cameras/${encodeURIComponent(cameraId)}/clip?from=${Math.round(from)}&to=${Math.round(to)}`;
}

/** The camera and range a clipRef names, or null when it is not a clip path. */
export function parseClipRef(ref: string): { cameraId: string; from: number; to: number } | null {
  const m = /^\/api\/v1\/cameras\/([^/?]+)\/clip\?(.*)$/.exec(ref);
  if (!m) return null;
  const q = new URLSearchParams(m[2]);
  const from = Number(q.get('from'));
  const to = Number(q.get('to'));
  if (!q.has('from') || !q.has('to') || !Number.isFinite(from) || !Number.isFinite(to)) return null;
  return { cameraId: decodeURIComponent(m[1]!), from, to };
}

/** Reads HEAD <clipRef>'s x-clip-* headers; without x-clip-spans the clip is one span from its start. */
export function clipInfoOf(headers: Headers): ClipInfo | null {
  const start = Number(headers.get('x-clip-start'));
  const end = Number(headers.get('x-clip-end'));
  if (!headers.has('x-clip-start') || !Number.isFinite(start) || !Number.isFinite(end)) return null;
  let spans: ClipSpan[] = [];
  try {
    const raw = JSON.parse(headers.get('x-clip-spans') ?? '[]') as unknown;
    if (Array.isArray(raw)) {
      spans = raw.filter((x): x is ClipSpan => !!x && typeof x === 'object'
        && ['offsetMs', 'start', 'end'].every((k) => Number.isFinite((x as Record<string, unknown>)[k])))
        .sort((a, b) => a.offsetMs - b.offsetMs);
    }
  } catch { /* malformed: one span below */ }
  if (spans.length === 0) spans = [{ offsetMs: 0, start, end }];
  return { start, end, spans };
}

const TOKEN_KEY = 'cvcore.console.token';

export function savedToken(): string | null {
  try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
}
export function saveToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token); else localStorage.removeItem(TOKEN_KEY);
  } catch { /* private mode: the token lives for this page only */ }
}

export interface SearchFilters {
  cameras?: string[];
  classes?: string[];
  from?: number;
  to?: number;
  colour?: string;
  vehicleType?: string;
  gender?: string;
  ageBand?: string;
  /** A plate or a pattern with * and ?; the API canonicalises it. */
  plate?: string;
  plateColour?: string;
  upperColour?: string;
  lowerColour?: string;
  limit?: number;
  cursor?: string;
}

/** The fields of an entry that can be changed (PATCH .../entries/:entry); expiresAt in epoch ms, null: never. */
export interface EntryPatch { label?: string; note?: string; threshold?: number; expiresAt?: number | null }

export class Client {
  readonly token: string;
  constructor(token: string) { this.token = token; }

  /** Adds ?token= to a same-origin path, for <img> and WebSocket URLs. */
  withToken(path: string): string {
    return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(this.token)}`;
  }
  wsUrl(path: string): string {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}${this.withToken(path)}`;
  }

  async #send<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    headers.set('Authorization', `Bearer ${this.token}`);
    headers.set('Accept', 'application/json');
    let res: Response;
    try {
      res = await fetch(path, { ...init, headers });
    } catch (err) {
      throw new ApiError(0, 'NETWORK', (err as Error).message);
    }
    if (!res.ok) {
      throw await apiErrorOf(res);
    }
    if (res.status === 204) return undefined as T;
    return await res.json() as T;
  }

  cameras(): Promise<{ cameras: Camera[] }> { return this.#send('/api/v1/cameras'); }

  search(f: SearchFilters): Promise<SearchPage> {
    const q = filterParams(f);
    if (f.limit !== undefined) q.set('limit', String(f.limit));
    if (f.cursor) q.set('cursor', f.cursor);
    return this.#send(`/api/v1/search?${q}`);
  }

  track(id: string): Promise<TrackSummary> { return this.#send(`/api/v1/tracks/${encodeURIComponent(id)}`); }
  thumbnailUrl(id: string): string { return this.withToken(`/api/v1/tracks/${encodeURIComponent(id)}/thumbnail`); }
  plateUrl(id: string): string { return this.withToken(`/api/v1/tracks/${encodeURIComponent(id)}/plate`); }
  /** An alert's snapshotRef is the snapshot's API path (`/api/v1/snapshots/<id>`) or, in older alerts, its id. */
  snapshotUrl(ref: string): string {
    return this.withToken(ref.startsWith('/api/') ? ref : `/api/v1/snapshots/${encodeURIComponent(ref)}`);
  }

  // ---- Recordings and clips (investigators and admins; operators get 403) ----

  recordings(cameraId: string, from: number, to: number): Promise<RecordingsAnswer> {
    return this.#send(`/api/v1/cameras/${encodeURIComponent(cameraId)}/recordings?from=${Math.round(from)}&to=${Math.round(to)}`);
  }
  /** For <video src>: the clip with ?token= (a media element cannot send headers; range requests follow). */
  clipUrl(ref: string): string { return this.withToken(ref); }
  /**
   * What a clip covers and how its video time maps to wall clock, from HEAD <clipRef> with the Authorization
   * header. A HEAD answer has no body, so a refusal is asked again with GET to read the API's code and detail
   * (RECORDING_NOT_RECORDED carries the gaps there).
   */
  async clipInfo(ref: string, signal?: AbortSignal): Promise<ClipInfo> {
    const headers = { Authorization: `Bearer ${this.token}` };
    let res: Response;
    try {
      res = await fetch(ref, { method: 'HEAD', headers, ...(signal ? { signal } : {}) });
    } catch (err) {
      throw new ApiError(0, 'NETWORK', (err as Error).message);
    }
    if (!res.ok) {
      const ctl = new AbortController();
      signal?.addEventListener('abort', () => ctl.abort(), { once: true });
      try {
        const again = await fetch(ref, { headers: { ...headers, Accept: 'application/json' }, signal: ctl.signal });
        if (!again.ok) throw await apiErrorOf(again);
      } catch (err) {
        if (err instanceof ApiError) throw err;
      } finally {
        ctl.abort();
      }
      throw new ApiError(res.status, `HTTP_${res.status}`, res.statusText);
    }
    const info = clipInfoOf(res.headers);
    if (!info) {
      const q = parseClipRef(ref);
      if (!q) throw new ApiError(0, 'CLIP_NO_RANGE', 'the clip answered without x-clip-start / x-clip-end');
      return { start: q.from, end: q.to, spans: [{ offsetMs: 0, start: q.from, end: q.to }] };
    }
    return info;
  }

  alerts(limit = 100): Promise<{ alerts: CrowdAlert[] }> { return this.#send(`/api/v1/alerts?limit=${limit}`); }
  zones(): Promise<{ zones: ZoneCount[] }> { return this.#send('/api/v1/zones'); }
  /** Cluster mode only: 404 on a single node, 403 for investigators. */
  cluster(): Promise<ClusterStatus> { return this.#send('/api/v1/cluster'); }

  async faceSearch(image: Blob, filters: { from?: number; to?: number; cameras?: string[]; k?: number }): Promise<FaceSearchResult> {
    const form = new FormData();
    form.set('image', image, image instanceof File ? image.name : 'photo');
    const q = new URLSearchParams();
    if (filters.from !== undefined) q.set('from', String(filters.from));
    if (filters.to !== undefined) q.set('to', String(filters.to));
    if (filters.cameras?.length) q.set('camera', filters.cameras.join(','));
    if (filters.k !== undefined) q.set('k', String(filters.k));
    const qs = q.toString();
    const raw = await this.#send<Record<string, unknown>>(`/api/v1/faces/search${qs ? `?${qs}` : ''}`, { method: 'POST', body: form });
    return normaliseFaceResult(raw);
  }

  audit(o: { from?: number; to?: number; limit?: number; cursor?: string }): Promise<AuditPage> {
    const q = new URLSearchParams();
    if (o.from !== undefined) q.set('from', String(o.from));
    if (o.to !== undefined) q.set('to', String(o.to));
    q.set('limit', String(o.limit ?? 50));
    if (o.cursor) q.set('cursor', o.cursor);
    return this.#send(`/api/v1/audit?${q}`);
  }

  // ---- Watch-lists: the API scopes them to the token's departments (another department's list is a 404) ----

  watchlists(): Promise<{ lists: WatchList[] }> { return this.#send('/api/v1/watchlists'); }
  createWatchlist(input: { name: string; department: string; kind: ListKind; note?: string }): Promise<WatchList> {
    return this.#send('/api/v1/watchlists', json('POST', input));
  }
  updateWatchlist(id: string, patch: { name?: string; note?: string }): Promise<WatchList> {
    return this.#send(`/api/v1/watchlists/${encodeURIComponent(id)}`, json('PATCH', patch));
  }
  deleteWatchlist(id: string): Promise<void> { return this.#send(`/api/v1/watchlists/${encodeURIComponent(id)}`, { method: 'DELETE' }); }

  entries(list: string, o: { limit?: number; cursor?: string } = {}): Promise<EntriesPage> {
    const q = new URLSearchParams({ limit: String(o.limit ?? 50) });
    if (o.cursor) q.set('cursor', o.cursor);
    return this.#send(`/api/v1/watchlists/${encodeURIComponent(list)}/entries?${q}`);
  }
  /** Face lists take multipart: the text fields first (a streaming parser sees them before the photos), then 1..5 `photo` files. */
  addFaceEntry(list: string, input: { label: string; note: string; threshold: number; expiresAt: number | null; photos: readonly File[] }): Promise<FaceEntry> {
    const form = new FormData();
    form.set('label', input.label);
    form.set('note', input.note);
    form.set('threshold', String(input.threshold));
    if (input.expiresAt !== null) form.set('expiresAt', new Date(input.expiresAt).toISOString());
    for (const p of input.photos) form.append('photo', p, p.name);
    return this.#send(`/api/v1/watchlists/${encodeURIComponent(list)}/entries`, { method: 'POST', body: form });
  }
  addPlateEntry(list: string, input: { label: string; plate: string; match: 'exact' | 'fuzzy'; note?: string; expiresAt: number | null }): Promise<PlateEntry> {
    const { expiresAt, ...rest } = input;
    return this.#send(`/api/v1/watchlists/${encodeURIComponent(list)}/entries`, json('POST', { ...rest, ...(expiresAt !== null ? { expiresAt: new Date(expiresAt).toISOString() } : {}) }));
  }
  /**
   * Changes an entry: any of its label, note, threshold (face entries) and expiry (epoch ms, sent as ISO; null:
   * never). Only the fields given are sent; the API answers the updated entry, or WATCHLIST_BAD_ENTRY naming the field.
   */
  updateEntry(list: string, entry: string, patch: EntryPatch): Promise<WatchEntry> {
    const { expiresAt, ...rest } = patch;
    const body = { ...rest, ...(expiresAt !== undefined ? { expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() } : {}) };
    return this.#send(`/api/v1/watchlists/${encodeURIComponent(list)}/entries/${encodeURIComponent(entry)}`, json('PATCH', body));
  }
  removeEntry(list: string, entry: string): Promise<void> {
    return this.#send(`/api/v1/watchlists/${encodeURIComponent(list)}/entries/${encodeURIComponent(entry)}`, { method: 'DELETE' });
  }
  /** An entry's matches, from the `matchesUrl` the API gave with the entry. */
  async entryMatches(matchesUrl: string, cursor?: string): Promise<AlarmsPage> {
    const page = await this.#send<AlarmsPage>(cursor ? `${matchesUrl}${matchesUrl.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}` : matchesUrl);
    return { alarms: page.alarms.map(normaliseAlarm), nextCursor: page.nextCursor };
  }

  // ---- Alarms (watch-list, frequency, stranger): the log the API keeps, and their handling ----

  async alarms(o: { kind?: AlarmKind; state?: AlarmState; camera?: string; from?: number; to?: number; limit?: number; cursor?: string } = {}): Promise<AlarmsPage> {
    const q = new URLSearchParams({ limit: String(o.limit ?? 50) });
    for (const k of ['kind', 'state', 'camera', 'cursor'] as const) if (o[k]) q.set(k, o[k]!);
    if (o.from !== undefined) q.set('from', String(o.from));
    if (o.to !== undefined) q.set('to', String(o.to));
    const page = await this.#send<AlarmsPage>(`/api/v1/alarms?${q}`);
    return { alarms: page.alarms.map(normaliseAlarm), nextCursor: page.nextCursor };
  }
  async handleAlarm(id: string, action: 'ack' | 'dismiss', note: string): Promise<AlarmView> {
    const body = note.trim() ? { note: note.trim() } : {};
    return normaliseAlarm(await this.#send(`/api/v1/alarms/${encodeURIComponent(id)}/${action}`, json('POST', body)));
  }

  /**
   * Which of the watch-list, alarm and clip views the API answers for this token: a 403 (operators, who run
   * cameras and do not search people), a 404 (a core without the routes) or a 503 (no watch-list store, no
   * recorder) hides the view. Clips are asked of the first camera's recordings over the last minute.
   */
  async capabilities(cameras: readonly Camera[] = []): Promise<{ watchlists: boolean; alarms: boolean; clips: boolean }> {
    const now = Date.now();
    const first = cameras[0];
    const [w, a, r] = await Promise.allSettled([
      this.watchlists(), this.alarms({ limit: 1 }),
      first ? this.recordings(first.id, now - 60_000, now) : Promise.reject(new ApiError(404, 'API_NOT_FOUND', 'no camera to ask')),
    ]);
    const answered = (x: PromiseSettledResult<unknown>): boolean => {
      if (x.status === 'fulfilled') return true;
      if (x.reason instanceof ApiError && [403, 404, 501, 503].includes(x.reason.status)) return false;
      throw x.reason;
    };
    // Recordings: a camera that does not record (RECORDING_UNKNOWN_CAMERA) still proves the route answers this
    // token; an operator's 403, a core without the route (API_NOT_FOUND) or without a recorder (503) hides clips,
    // and anything else is no reason to refuse the sign-in.
    const clips = r.status === 'fulfilled' || (r.reason instanceof ApiError && r.reason.status !== 0
      && ![403, 501, 503].includes(r.reason.status) && (r.reason.status !== 404 || r.reason.code.startsWith('RECORDING_')));
    return { watchlists: answered(w), alarms: answered(a), clips };
  }

  /**
   * What the token may do. The API is the judge: the cameras list proves the token is accepted (401 otherwise),
   * and the audit log answers only admins (403 for others; 404 while the route does not exist yet).
   */
  async whoAmI(): Promise<{ role: Role; departments: string[] }> {
    const { cameras } = await this.cameras();
    const departments = [...new Set(cameras.map((c) => c.department))].sort();
    try {
      await this.audit({ limit: 1 });
      return { role: 'admin', departments };
    } catch (err) {
      if (err instanceof ApiError && (err.status === 403 || err.status === 404 || err.status === 401)) return { role: 'investigator', departments };
      throw err;
    }
  }
}

/** Reads the face-search answer leniently: `{face:{box}, matches:[{record, similarity}]}` or flat variants. */
export function normaliseFaceResult(raw: Record<string, unknown>): FaceSearchResult {
  const face = (raw['face'] ?? raw['query'] ?? null) as { box?: Box; score?: number } | Box | null;
  const box = face && 'box' in face ? face.box : face && 'w' in face ? face as Box : (raw['box'] as Box | undefined);
  const list = (raw['matches'] ?? raw['results'] ?? []) as Record<string, unknown>[];
  const matches = list.map((m) => {
    const record = (m['record'] ?? m) as TrackSummary;
    const similarity = Number(m['similarity'] ?? m['score'] ?? 0);
    return { record, similarity };
  });
  return { face: box ? { box } : null, matches };
}

/** The API's error body `{ code, message, detail? }` as an ApiError (a body that is not JSON keeps the status). */
async function apiErrorOf(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText;
  let detail: Record<string, unknown> = {};
  try {
    const body = await res.json() as { code?: string; message?: string; detail?: unknown };
    if (body.code) code = body.code;
    if (body.message) message = body.message;
    if (body.detail && typeof body.detail === 'object') detail = body.detail as Record<string, unknown>;
  } catch { /* not JSON */ }
  return new ApiError(res.status, code, message, detail);
}

function json(method: string, body: unknown): RequestInit {
  return { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

/**
 * An alarm as the API's AlarmView, whether it came as one (the alarm log) or bare (the live feed pushes the wire
 * alarm as the pipeline raised it): the bare one is new, so open, and its images are not known until the log
 * (which may be written just after the push) is read again.
 */
export function normaliseAlarm(raw: AlarmView | Alarm): AlarmView {
  if ('alarm' in raw && raw.alarm && typeof raw.alarm === 'object') return raw;
  const alarm = raw as Alarm;
  return { alarm, state: 'open', handledBy: null, handledAt: null, handledNote: null, hasSnapshot: Boolean(alarm.snapshotRef), hasFace: false };
}
