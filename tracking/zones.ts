import { TrackingError } from '../common/errors.js';
import type { ObjectClass, TrackUpdate, ZoneCount } from '../common/messages.js';
import { TRACK_STATES } from '../common/messages.js';

export type Point = readonly [number, number];

export interface ZoneSpec {
  readonly id: string;
  /** Image-pixel vertices, in order, not closed (the last point joins the first). */
  readonly polygon: readonly Point[];
  /** Ground area the polygon covers, m2; turns counts into densities. */
  readonly areaM2?: number;
}

/**
 * A counting line from `a` to `b`. `a_to_b` is a crossing from the side on the left of a walker going from a
 * to b, as seen on screen (y down), to the side on the right: for a line drawn left to right, moving down the image.
 */
export interface LineSpec {
  readonly id: string;
  readonly a: Point;
  readonly b: Point;
}

export interface LineCrossing {
  cameraId: string;
  lineId: string;
  trackId: number;
  cls: ObjectClass;
  direction: 'a_to_b' | 'b_to_a';
  at: number;
  totals: { a_to_b: number; b_to_a: number };
}

function badZone(path: string, reason: string): TrackingError {
  return new TrackingError('TRACKING_BAD_ZONE', `${path}: ${reason}`, { detail: { path } });
}

/** Signed area of the parallelogram (b - a) x (p - a): which side of a->b the point p lies on. */
function cross(a: Point, b: Point, p: Point): number {
  return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
}

function onSegment(a: Point, b: Point, p: Point): boolean {
  return Math.min(a[0], b[0]) <= p[0] && p[0] <= Math.max(a[0], b[0]) && Math.min(a[1], b[1]) <= p[1] && p[1] <= Math.max(a[1], b[1]);
}

/** Whether segments p1p2 and q1q2 share any point (touching counts). */
export function segmentsIntersect(p1: Point, p2: Point, q1: Point, q2: Point): boolean {
  const d1 = cross(q1, q2, p1);
  const d2 = cross(q1, q2, p2);
  const d3 = cross(p1, p2, q1);
  const d4 = cross(p1, p2, q2);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  return (
    (d1 === 0 && onSegment(q1, q2, p1)) ||
    (d2 === 0 && onSegment(q1, q2, p2)) ||
    (d3 === 0 && onSegment(p1, p2, q1)) ||
    (d4 === 0 && onSegment(p1, p2, q2))
  );
}

function isPoint(p: unknown): p is Point {
  return Array.isArray(p) && p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]);
}

/** Throws TRACKING_BAD_ZONE naming `path` when the polygon is not a simple polygon with area. */
export function validateZone(zone: ZoneSpec, path: string): void {
  if (typeof zone.id !== 'string' || zone.id === '') throw badZone(`${path}.id`, 'must be a non-empty string');
  const poly = zone.polygon;
  if (!Array.isArray(poly) || poly.length < 3) throw badZone(`${path}.polygon`, 'needs at least three points');
  poly.forEach((p, k) => {
    if (!isPoint(p)) throw badZone(`${path}.polygon[${k}]`, 'must be a pair of finite numbers');
  });
  const n = poly.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      // Neighbouring edges share a vertex by construction; only non-adjacent edges may not meet.
      if (j === i + 1 || (i === 0 && j === n - 1)) continue;
      if (segmentsIntersect(poly[i]!, poly[(i + 1) % n]!, poly[j]!, poly[(j + 1) % n]!)) {
        throw badZone(`${path}.polygon`, `self-intersects (edge ${i} meets edge ${j})`);
      }
    }
  }
  if (Math.abs(polygonArea(poly)) === 0) throw badZone(`${path}.polygon`, 'has no area');
  if (zone.areaM2 !== undefined && !(Number.isFinite(zone.areaM2) && zone.areaM2 > 0)) {
    throw badZone(`${path}.areaM2`, 'must be a positive number of square metres');
  }
}

/** Throws TRACKING_BAD_ZONE naming `path` when the line has no length or bad coordinates. */
export function validateLine(line: LineSpec, path: string): void {
  if (typeof line.id !== 'string' || line.id === '') throw badZone(`${path}.id`, 'must be a non-empty string');
  if (!isPoint(line.a)) throw badZone(`${path}.a`, 'must be a pair of finite numbers');
  if (!isPoint(line.b)) throw badZone(`${path}.b`, 'must be a pair of finite numbers');
  if (line.a[0] === line.b[0] && line.a[1] === line.b[1]) throw badZone(path, 'a and b are the same point');
}

export function polygonArea(poly: readonly Point[]): number {
  let s = 0;
  for (let i = 0; i < poly.length; i++) {
    const p = poly[i]!;
    const q = poly[(i + 1) % poly.length]!;
    s += p[0] * q[1] - q[0] * p[1];
  }
  return s / 2;
}

/** Even-odd ray casting; points exactly on an edge may fall either way, which a foot point tolerates. */
export function pointInPolygon(p: Point, poly: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i]!;
    const b = poly[j]!;
    if (a[1] > p[1] !== b[1] > p[1] && p[0] < ((b[0] - a[0]) * (p[1] - a[1])) / (b[1] - a[1]) + a[0]) inside = !inside;
  }
  return inside;
}

/**
 * How long (ms) a lost person still counts where the tracker predicts them. At 3 to 5 analysed fps the detector
 * misses someone in one frame of several (occlusion, a pose it scores low); dropping them from the count for
 * that frame is what made crowd counts flap. Shorter than the tracker's own lost limit, so a person who really
 * left stops counting about two seconds later.
 */
export const DEFAULT_ZONE_HOLD_MS = 2_000;

export interface ZoneAnalyzerOptions {
  /** Lost tracks still count, at their predicted foot point, for this long after their last detection. */
  readonly holdLostMs?: number;
}

interface LineState {
  readonly spec: LineSpec;
  readonly totals: { a_to_b: number; b_to_a: number };
  /** Per track: last foot point and the last side it was strictly on. */
  readonly tracks: Map<number, { point: Point; side: number }>;
}

/**
 * Per-camera zone counts, dwell times and line crossings from track updates. People are counted where they
 * stand: the foot point (bottom centre of the box) is what lies on the ground plane the zone was drawn on.
 */
export class ZoneAnalyzer {
  readonly cameraId: string;
  readonly #zones: readonly ZoneSpec[];
  readonly #lines: LineState[];
  /** zone id -> track id -> time the current stay began (only tracks inside now, so it stays bounded). */
  readonly #enteredAt = new Map<string, Map<number, number>>();
  #lastAt = 0;
  readonly #holdLostMs: number;

  constructor(cameraId: string, zones: readonly ZoneSpec[], lines: readonly LineSpec[], options: ZoneAnalyzerOptions = {}) {
    const hold = options.holdLostMs ?? DEFAULT_ZONE_HOLD_MS;
    if (typeof hold !== 'number' || !(hold >= 0) || !Number.isFinite(hold)) throw new RangeError('options.holdLostMs must be a non-negative number of milliseconds');
    this.#holdLostMs = hold;
    zones.forEach((z, k) => validateZone(z, `zones[${k}]`));
    lines.forEach((l, k) => validateLine(l, `lines[${k}]`));
    this.cameraId = cameraId;
    this.#zones = zones;
    this.#lines = lines.map((spec) => ({ spec, totals: { a_to_b: 0, b_to_a: 0 }, tracks: new Map() }));
    for (const z of zones) this.#enteredAt.set(z.id, new Map());
  }

  update(updates: readonly TrackUpdate[], at: number): { counts: ZoneCount[]; crossings: LineCrossing[] } {
    this.#lastAt = at;
    const counts: ZoneCount[] = [];
    for (const zone of this.#zones) {
      const entered = this.#enteredAt.get(zone.id)!;
      let count = 0;
      const present = new Set<number>();
      for (const u of updates) {
        if (u.cls !== 'person' || !this.#counts(u, at)) continue;
        if (!pointInPolygon(foot(u), zone.polygon)) continue;
        count++;
        present.add(u.trackId);
        if (!entered.has(u.trackId)) entered.set(u.trackId, u.at);
      }
      for (const id of entered.keys()) if (!present.has(id)) entered.delete(id);
      counts.push({ cameraId: this.cameraId, zoneId: zone.id, count, density: zone.areaM2 ? count / zone.areaM2 : null, at });
    }

    const crossings: LineCrossing[] = [];
    const seen = new Set(updates.map((u) => u.trackId));
    for (const line of this.#lines) {
      for (const u of updates) {
        if (u.state === TRACK_STATES.removed) {
          line.tracks.delete(u.trackId);
          continue;
        }
        if (u.state !== TRACK_STATES.confirmed) continue;
        const p = foot(u);
        const s = Math.sign(cross(line.spec.a, line.spec.b, p));
        const prev = line.tracks.get(u.trackId);
        if (prev && s !== 0 && prev.side !== 0 && s !== prev.side && segmentsIntersect(prev.point, p, line.spec.a, line.spec.b)) {
          // With y pointing down, a negative cross product is the left of a walker going a -> b.
          const direction = prev.side < 0 ? 'a_to_b' : 'b_to_a';
          line.totals[direction]++;
          crossings.push({
            cameraId: this.cameraId,
            lineId: line.spec.id,
            trackId: u.trackId,
            cls: u.cls,
            direction,
            at: u.at,
            totals: { ...line.totals },
          });
        }
        line.tracks.set(u.trackId, { point: p, side: s !== 0 ? s : prev?.side ?? 0 });
      }
      // The tracker reports every live track each step (lost ones included), so one missing from the batch has
      // ended (e.g. the camera stopped): forget it, or the map would grow for as long as the camera runs.
      for (const id of line.tracks.keys()) if (!seen.has(id)) line.tracks.delete(id);
    }
    return { counts, crossings };
  }

  /**
   * Confirmed people count; a lost one counts at its predicted position for `holdLostMs` after its last
   * detection (a brief miss is not a person leaving); tentative tracks do not count yet.
   */
  #counts(u: TrackUpdate, at: number): boolean {
    if (u.state === TRACK_STATES.confirmed) return true;
    return u.state === TRACK_STATES.lost && at - u.lastSeen <= this.#holdLostMs;
  }

  /** Whether the track was inside the zone at the last update (the live alarm rules ask for restricted zones). */
  inside(zoneId: string, trackId: number): boolean {
    return this.#enteredAt.get(zoneId)?.has(trackId) ?? false;
  }

  /** How long the track has been in the zone in its current stay, ms (0 when it is not inside). */
  dwellMs(zoneId: string, trackId: number): number {
    const since = this.#enteredAt.get(zoneId)?.get(trackId);
    return since === undefined ? 0 : this.#lastAt - since;
  }
}

function foot(u: TrackUpdate): Point {
  return [u.box.x + u.box.w / 2, u.box.y + u.box.h];
}
