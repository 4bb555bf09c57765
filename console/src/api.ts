/**
 * The console's only door to the core: fetch with the signed-in token (Authorization: Bearer), URLs for
 * images and WebSockets (?token=, since a browser cannot set headers there), and one error class with the
 * API's stable `code` so views can say precisely what went wrong.
 */
import type { AuditPage, Box, Camera, ClusterStatus, CrowdAlert, FaceSearchResult, Role, SearchPage, TrackSummary, ZoneCount } from './types';

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
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
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
      let code = `HTTP_${res.status}`;
      let message = res.statusText;
      try {
        const body = await res.json() as { code?: string; message?: string };
        if (body.code) code = body.code;
        if (body.message) message = body.message;
      } catch { /* not JSON */ }
      throw new ApiError(res.status, code, message);
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
