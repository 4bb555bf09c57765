/**
 * The live alarm rules: what the pipeline asks once a live person's face is embedded (watch-list matches, the
 * frequency rule, the stranger rule of restricted zones), once a person stays in a restricted zone without a
 * readable face, and once a vehicle track ends with a confident plate. Pure decisions on the rules' own state
 * (once per track, cooldowns); the only I/O is the face index query of the frequency rule. The pipeline takes the
 * frames, submits the alarms to the sink and records them in the watch-list service.
 */
import { createHash } from 'node:crypto';
import type { AlarmsConfig, RestrictedZoneConfig } from '../config/index.js';
import { parseDuration } from '../config/index.js';
import type { AlarmEvent } from '../common/messages.js';
import { MAX_FREQUENCY_APPEARANCES, type FrequencyAppearanceV1 } from '../common/alarm-schemas.js';
import type { Logger } from '../common/log.js';
import type { SearchIndex } from '../search-index/index.js';
import type { WatchlistService } from './types.js';

/** Earlier appearances the frequency rule asks the face index for. */
export const FREQUENCY_SEARCH_K = 200;
/** A plate reading must be at least this confident to be matched against the plate lists. */
export const PLATE_MIN_CONFIDENCE = 0.8;

/** The camera as the rules see it. */
export interface RulesCamera {
  readonly id: string;
  readonly department: string;
  /** Restricted zones of the camera, by zone id. */
  readonly restricted: ReadonlyMap<string, RestrictedZoneConfig>;
}

/** A live (or just ended) track as the rules see it. */
export interface RulesTrack {
  readonly trackId: number;
  /** The record id the track gets at its end: `<camera>:<trackId>:<firstSeen>`. */
  readonly record: string;
  /** Capture time of the track's first frame. */
  readonly firstSeenAt: number;
}

/** A restricted zone the person is in now, with how long. */
export interface ZonePresence { readonly zone: string; readonly dwellMs: number }

interface FrequencyRule {
  readonly id: string;
  readonly cameras: readonly string[] | null;
  readonly minCount: number;
  readonly windowMs: number;
  readonly minGapMs: number;
  readonly threshold: number;
  readonly cooldownMs: number;
  /** Faces alarmed: a similar face stays quiet until `until`. */
  readonly alarmed: { embedding: Float32Array; until: number }[];
}

export interface AlarmRulesOptions {
  readonly config: AlarmsConfig;
  readonly watchlists: WatchlistService | null;
  /** The face index the frequency rule looks back in; null (cluster mode): frequency rules are off. */
  readonly faces: Pick<SearchIndex, 'faceSearch'> | null;
  readonly log: Logger;
}

/** A deterministic alarm id: the same decision (camera, track, entry/rule/zone) always gets the same id. */
export function alarmId(kind: AlarmEvent['kind'], ...parts: readonly string[]): string {
  return `${kind}-${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32)}`;
}

const dot = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

export class AlarmRules {
  readonly #o: AlarmRulesOptions;
  readonly #frequency: FrequencyRule[];
  /** Decisions already taken: `<record>|<entry>` (watch-list), `<record>|<zone>` (stranger); freed at track end. */
  readonly #done = new Map<string, Set<string>>();
  /** Tracks whose face was read (no no_face alarm for them). */
  readonly #faceRead = new Set<string>();
  /** `<camera>|<entry>` -> when the entry last alarmed on the camera (the per-entry cooldown). */
  readonly #lastByEntry = new Map<string, number>();

  #warnedNoLists = false;

  constructor(o: AlarmRulesOptions) {
    this.#o = o;
    this.#frequency = o.config.frequency.map((r, i) => {
      const windowMs = parseDuration(r.window, `alarms.frequency[${i}].window`);
      return {
        id: r.id, cameras: r.cameras.includes('*') ? null : r.cameras, minCount: r.minCount, windowMs,
        minGapMs: parseDuration(r.minGap, `alarms.frequency[${i}].minGap`), threshold: r.threshold,
        cooldownMs: r.cooldown !== null ? parseDuration(r.cooldown, `alarms.frequency[${i}].cooldown`) : windowMs, alarmed: [],
      };
    });
  }

  /**
   * Whether the camera's live faces are worth embedding now: its department has live face entries (this changes
   * at run time, so it is asked per frame), a frequency rule covers it, or it has a restricted zone. When none
   * holds, no face task runs and the pipeline costs what it did before alarms existed.
   */
  wantsFaces(cam: RulesCamera): boolean {
    if (cam.restricted.size > 0) return true;
    if (this.#o.faces && this.#frequency.some((r) => r.cameras === null || r.cameras.includes(cam.id))) return true;
    return this.#o.watchlists?.hasFaceEntries(cam.department) ?? false;
  }

  /** Whether the camera has any rule that acts on plates (its department's plate lists are asked at track end). */
  get plates(): boolean { return this.#o.watchlists !== null; }

  /**
   * A live face of a person track, embedded from the frame captured at `at`. `zones`: the restricted zones the
   * person is in now. Resolves with the alarms to raise (possibly none); never rejects (a failed index query costs
   * that frequency check, logged).
   */
  async onFace(cam: RulesCamera, track: RulesTrack, embedding: Float32Array, at: number, zones: readonly ZonePresence[]): Promise<AlarmEvent[]> {
    this.#faceRead.add(track.record);
    const out: AlarmEvent[] = [];
    out.push(...this.#watchlist(cam, track, embedding, at));
    out.push(...this.#strangers(cam, track, embedding, at, zones));
    for (const rule of this.#frequency) {
      if (rule.cameras !== null && !rule.cameras.includes(cam.id)) continue;
      const a = await this.#frequencyCheck(rule, cam, track, embedding, at).catch((err: unknown) => {
        this.#o.log.warn('frequency rule: the face index query failed; this face is not counted', { err: err as Error, rule: rule.id, camera: cam.id });
        return null;
      });
      if (a) out.push(a);
    }
    return out;
  }

  /**
   * A person in restricted zones with no face read so far: a no_face stranger alarm per zone once the stay
   * reaches the zone's noFace.afterMs. Called on analysed frames for people in restricted zones.
   */
  onPresence(cam: RulesCamera, track: RulesTrack, at: number, zones: readonly ZonePresence[]): AlarmEvent[] {
    if (this.#faceRead.has(track.record)) return [];
    const out: AlarmEvent[] = [];
    for (const z of zones) {
      const r = cam.restricted.get(z.zone);
      if (!r?.noFace || z.dwellMs < r.noFace.afterMs) continue;
      if (!this.#once(track.record, `zone|${z.zone}`)) continue;
      out.push({
        id: alarmId('stranger', cam.id, track.record, z.zone), kind: 'stranger', department: cam.department, camera: cam.id, track: track.record, at,
        zone: z.zone, reason: 'no_face', similarity: null, threshold: null, allowLists: [...r.allowLists], dwellMs: Math.round(z.dwellMs),
      });
    }
    return out;
  }

  /** A vehicle track ended with a plate read at `confidence`: watch-list plate alarms (once per track and entry, cooldown per camera). */
  onPlate(cam: RulesCamera, track: RulesTrack, plate: string, confidence: number, at: number, matchedFrameAt: number): AlarmEvent[] {
    if (!this.#o.watchlists || confidence < PLATE_MIN_CONFIDENCE) return [];
    const out: AlarmEvent[] = [];
    for (const hit of this.#o.watchlists.matchPlate(cam.department, plate, at)) {
      if (!this.#admit(cam, track, hit.entry, at)) continue;
      out.push({
        id: alarmId('watchlist', cam.id, track.record, hit.entry), kind: 'watchlist', department: hit.department, camera: cam.id, track: track.record, at,
        list: hit.list, entry: hit.entry, entryKind: 'plate', similarity: null, threshold: null, plate: hit.plate, plateEdits: hit.edits,
        firstSeenAt: track.firstSeenAt, matchedFrameAt: Math.max(matchedFrameAt, track.firstSeenAt),
      });
    }
    return out;
  }

  /** The track ended: its once-only state goes (the per-entry cooldowns and frequency memories stay). */
  trackEnded(record: string): void {
    this.#done.delete(record);
    this.#faceRead.delete(record);
  }

  #watchlist(cam: RulesCamera, track: RulesTrack, embedding: Float32Array, at: number): AlarmEvent[] {
    if (!this.#o.watchlists) return [];
    // The lists that may be searched against this camera: those of the departments that may search it, which
    // (as in search scopes today) is exactly the camera's own department.
    const out: AlarmEvent[] = [];
    for (const hit of this.#o.watchlists.matchFace(cam.department, embedding, at)) {
      if (!this.#admit(cam, track, hit.entry, at)) continue;
      out.push({
        id: alarmId('watchlist', cam.id, track.record, hit.entry), kind: 'watchlist', department: hit.department, camera: cam.id, track: track.record, at,
        list: hit.list, entry: hit.entry, entryKind: 'face', similarity: clampSim(hit.similarity), threshold: hit.threshold, plate: null, plateEdits: null,
        firstSeenAt: track.firstSeenAt, matchedFrameAt: Math.max(at, track.firstSeenAt),
      });
    }
    return out;
  }

  /** Once per track and entry, and not within the entry's cooldown on this camera (a tracker id switch). */
  #admit(cam: RulesCamera, track: RulesTrack, entry: string, at: number): boolean {
    if (this.#done.get(track.record)?.has(`entry|${entry}`)) return false;
    const key = `${cam.id}|${entry}`;
    const last = this.#lastByEntry.get(key);
    if (last !== undefined && at - last < this.#o.config.cooldownMs) {
      // Counted as decided for this track, so a later, better face of it does not alarm after the cooldown.
      this.#once(track.record, `entry|${entry}`);
      return false;
    }
    this.#once(track.record, `entry|${entry}`);
    this.#lastByEntry.set(key, at);
    return true;
  }

  #strangers(cam: RulesCamera, track: RulesTrack, embedding: Float32Array, at: number, zones: readonly ZonePresence[]): AlarmEvent[] {
    const out: AlarmEvent[] = [];
    for (const z of zones) {
      const r = cam.restricted.get(z.zone);
      if (!r || this.#done.get(track.record)?.has(`zone|${z.zone}`)) continue;
      if (r.allowLists.length > 0 && !this.#o.watchlists) {
        // Without the lists (a cluster node: watch-lists are per node today) every face would look unknown: an
        // alarm for each would be wrong, so the zone's faces are not judged. no_face still works.
        if (!this.#warnedNoLists) this.#o.log.warn('restricted zone with allow-lists but no watch-lists on this node: unknown faces are not alarmed', { camera: cam.id, zone: z.zone });
        this.#warnedNoLists = true;
        continue;
      }
      const best = r.allowLists.length > 0 ? this.#o.watchlists?.bestOf(r.allowLists, embedding, at) ?? null : null;
      const threshold = r.threshold ?? best?.threshold ?? null;
      if (best && threshold !== null && best.similarity >= threshold) {
        // Allowed: decided for this zone (no no_face either, the face was read).
        this.#once(track.record, `zone|${z.zone}`);
        continue;
      }
      this.#once(track.record, `zone|${z.zone}`);
      out.push({
        id: alarmId('stranger', cam.id, track.record, z.zone), kind: 'stranger', department: cam.department, camera: cam.id, track: track.record, at,
        zone: z.zone, reason: 'unknown_face', similarity: best ? clampSim(best.similarity) : null, threshold, allowLists: [...r.allowLists], dwellMs: Math.round(z.dwellMs),
      });
    }
    return out;
  }

  async #frequencyCheck(rule: FrequencyRule, cam: RulesCamera, track: RulesTrack, embedding: Float32Array, at: number): Promise<AlarmEvent | null> {
    if (!this.#o.faces) return null;
    if (rule.alarmed.some((a) => a.until > at && dot(a.embedding, embedding) >= rule.threshold)) return null;
    const matches = await this.#o.faces.faceSearch(embedding, { k: FREQUENCY_SEARCH_K, from: at - rule.windowMs, ...(rule.cameras ? { cameraIds: [...rule.cameras] } : {}) }, 'all');
    const seen: FrequencyAppearanceV1[] = [{ camera: cam.id, track: track.record, at: track.firstSeenAt, similarity: 1 }];
    for (const m of matches) {
      if (m.similarity < rule.threshold || m.record.id === track.record) continue;
      seen.push({ camera: m.record.cameraId, track: m.record.id, at: m.record.start, similarity: clampSim(m.similarity) });
    }
    const counted = collapse(seen, rule.minGapMs);
    if (counted.length < rule.minCount) return null;
    // Checked again after the query: another face of this person may have raised it meanwhile.
    if (rule.alarmed.some((a) => a.until > at && dot(a.embedding, embedding) >= rule.threshold)) return null;
    rule.alarmed.push({ embedding, until: at + rule.cooldownMs });
    while (rule.alarmed.length > 0 && rule.alarmed[0]!.until <= at) rule.alarmed.shift();
    return {
      id: alarmId('frequency', cam.id, track.record, rule.id), kind: 'frequency', department: cam.department, camera: cam.id, track: track.record, at,
      rule: rule.id, count: counted.length, minCount: rule.minCount, windowMs: rule.windowMs, minGapMs: rule.minGapMs, threshold: rule.threshold,
      appearances: counted.slice(-MAX_FREQUENCY_APPEARANCES),
    };
  }

  #once(record: string, key: string): boolean {
    let s = this.#done.get(record);
    if (!s) this.#done.set(record, (s = new Set()));
    if (s.has(key)) return false;
    s.add(key);
    return true;
  }
}

/**
 * Distinct appearances: sorted by time, one closer than minGapMs to the last counted one does not count (a track
 * broken in two by an occlusion, two cameras seeing one pass).
 */
export function collapse(appearances: readonly FrequencyAppearanceV1[], minGapMs: number): FrequencyAppearanceV1[] {
  const sorted = [...appearances].sort((a, b) => a.at - b.at || a.track.localeCompare(b.track));
  const out: FrequencyAppearanceV1[] = [];
  for (const a of sorted) {
    const last = out[out.length - 1];
    if (last && a.at - last.at < minGapMs) continue;
    out.push(a);
  }
  return out;
}

/** Float error can put a unit vector's self-similarity a hair over 1; the schema bounds it to -1..1. */
function clampSim(s: number): number { return Math.max(-1, Math.min(1, s)); }
