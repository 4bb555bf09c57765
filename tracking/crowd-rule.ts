import { TrackingError } from '../common/errors.js';
import type { CrowdAlertEvent, Severity, ZoneCount } from '../common/messages.js';
import { ALERT_PHASES, SEVERITIES } from '../common/messages.js';

export interface CrowdRuleOptions {
  /** Raise when the value (count, or density with `useDensity`) stays at or above this... */
  threshold: number;
  /** ...and clear only once it stays below this lower level; the gap stops a count flapping at the threshold from opening incidents. */
  clearThreshold: number;
  /** How long the value must hold at or above `threshold` before raising, ms. */
  sustainMs: number;
  /** How long it must stay below `clearThreshold` before clearing, ms. */
  clearMs: number;
  /** Quiet time after a clear before a new incident may be raised, ms. */
  cooldownMs: number;
  /** Publish an update when the count has grown this much over the last published count. */
  updateStep: number;
  /** Severity by count, ordered by rising `minCount`; the first entry also covers counts below its minimum. */
  severities: readonly { severity: Severity; minCount: number }[];
  /** Compare densities (people per m2, the zone needs `areaM2`) instead of counts. */
  useDensity: boolean;
}

export const DEFAULT_CROWD_THRESHOLD = 10;
export const DEFAULT_CROWD_CLEAR_THRESHOLD = 7;
export const DEFAULT_CROWD_SUSTAIN_MS = 10_000;
export const DEFAULT_CROWD_CLEAR_MS = 15_000;
export const DEFAULT_CROWD_COOLDOWN_MS = 60_000;
export const DEFAULT_CROWD_UPDATE_STEP = 5;

export const DEFAULT_CROWD_RULE: CrowdRuleOptions = Object.freeze({
  threshold: DEFAULT_CROWD_THRESHOLD,
  clearThreshold: DEFAULT_CROWD_CLEAR_THRESHOLD,
  sustainMs: DEFAULT_CROWD_SUSTAIN_MS,
  clearMs: DEFAULT_CROWD_CLEAR_MS,
  cooldownMs: DEFAULT_CROWD_COOLDOWN_MS,
  updateStep: DEFAULT_CROWD_UPDATE_STEP,
  severities: Object.freeze([
    { severity: 'low', minCount: 10 },
    { severity: 'medium', minCount: 20 },
    { severity: 'high', minCount: 35 },
    { severity: 'critical', minCount: 50 },
  ] as const),
  useDensity: false,
});

function badRule(path: string, reason: string): TrackingError {
  return new TrackingError('TRACKING_BAD_RULE', `${path}: ${reason}`, { detail: { path } });
}

/** Throws TRACKING_BAD_RULE naming the offending field under `path`. */
export function validateCrowdRule(o: CrowdRuleOptions, path: string): void {
  if (!(Number.isFinite(o.threshold) && o.threshold > 0)) throw badRule(`${path}.threshold`, 'must be a positive number');
  if (!(Number.isFinite(o.clearThreshold) && o.clearThreshold >= 0)) {
    throw badRule(`${path}.clearThreshold`, 'must be a non-negative number');
  }
  if (!(o.clearThreshold < o.threshold)) throw badRule(`${path}.clearThreshold`, 'must be below threshold (hysteresis)');
  for (const key of ['sustainMs', 'clearMs', 'cooldownMs'] as const) {
    if (!(Number.isFinite(o[key]) && o[key] >= 0)) throw badRule(`${path}.${key}`, 'must be a non-negative number of ms');
  }
  if (!(Number.isInteger(o.updateStep) && o.updateStep >= 1)) throw badRule(`${path}.updateStep`, 'must be a positive integer');
  if (!Array.isArray(o.severities) || o.severities.length === 0) throw badRule(`${path}.severities`, 'needs at least one level');
  o.severities.forEach((s, k) => {
    if (!SEVERITIES.includes(s.severity)) throw badRule(`${path}.severities[${k}].severity`, `must be one of ${SEVERITIES.join(', ')}`);
    if (!(Number.isFinite(s.minCount) && s.minCount >= 0)) throw badRule(`${path}.severities[${k}].minCount`, 'must be a non-negative number');
    if (k > 0 && !(s.minCount > o.severities[k - 1]!.minCount)) {
      throw badRule(`${path}.severities[${k}].minCount`, 'must rise from one level to the next');
    }
  });
  if (typeof o.useDensity !== 'boolean') throw badRule(`${path}.useDensity`, 'must be a boolean');
}

/** A rule's open incident: what a camera's next owner needs to continue it (cluster failover). */
export interface OpenIncident {
  readonly id: string;
  readonly startedAt: number;
  /** The count last published (updates go out on growth by updateStep from here). */
  readonly published: number;
  readonly severity: Severity;
}

interface Sample {
  readonly at: number;
  readonly count: number;
}

/**
 * Crowd gathering for one zone: raise after the value holds at or above `threshold` for `sustainMs`, publish
 * updates on severity changes or growth by `updateStep`, clear after `clearMs` below `clearThreshold`, then stay
 * quiet for `cooldownMs`. Keeps only the samples the longest window needs.
 */
export class CrowdRule {
  readonly cameraId: string;
  readonly zoneId: string;
  readonly options: CrowdRuleOptions;
  #samples: Sample[] = [];
  #runStart: number | null = null;
  #belowSince: number | null = null;
  #incident: { id: string; startedAt: number; published: number; severity: Severity } | null = null;
  #quietUntil = -Infinity;
  /** Set by `resume`: the first sample after a takeover publishes an update that says the incident goes on. */
  #resumed = false;

  constructor(cameraId: string, zoneId: string, options: CrowdRuleOptions) {
    validateCrowdRule(options, 'crowdRule');
    this.cameraId = cameraId;
    this.zoneId = zoneId;
    this.options = options;
  }

  get active(): boolean {
    return this.#incident !== null;
  }

  /** The open incident, or null. */
  openIncident(): OpenIncident | null {
    const i = this.#incident;
    return i ? { id: i.id, startedAt: i.startedAt, published: i.published, severity: i.severity } : null;
  }

  /**
   * Continues an incident another node opened (it held the camera before): the next decisions are its updates
   * and its clear, never a second raise. The first sample publishes an update (or starts the clear countdown).
   */
  resume(incident: OpenIncident): void {
    this.#incident = { ...incident };
    this.#resumed = true;
    this.#belowSince = null;
  }

  /** Ends the open incident now (the camera was removed or disabled): the clear event, or null when none is open. */
  close(at: number, snapshotSeq: number | null): CrowdAlertEvent | null {
    const incident = this.#incident;
    if (!incident) return null;
    this.#incident = null;
    this.#belowSince = null;
    this.#resumed = false;
    const last = this.#samples.at(-1);
    const sample: ZoneCount = { cameraId: this.cameraId, zoneId: this.zoneId, count: last?.count ?? 0, density: null, at };
    return this.#event(ALERT_PHASES.cleared, sample, this.#severity(sample.count), this.options.clearMs, snapshotSeq, incident);
  }

  observe(sample: ZoneCount, snapshotSeq: number | null): CrowdAlertEvent | null {
    const o = this.options;
    const at = sample.at;
    // Without a configured area there is no density; the count is the only evidence there is.
    const value = o.useDensity && sample.density !== null ? sample.density : sample.count;
    this.#samples.push({ at, count: sample.count });
    const keep = Math.max(o.sustainMs, o.clearMs);
    while (this.#samples.length > 1 && this.#samples[0]!.at < at - keep) this.#samples.shift();

    if (value >= o.threshold) this.#runStart ??= at;
    else this.#runStart = null;

    const incident = this.#incident;
    if (incident === null) {
      if (this.#runStart === null || at - this.#runStart < o.sustainMs || at < this.#quietUntil) return null;
      const severity = this.#severity(sample.count);
      this.#incident = { id: `${this.cameraId}.${this.zoneId}.${this.#runStart}`, startedAt: this.#runStart, published: sample.count, severity };
      this.#belowSince = null;
      return this.#event(ALERT_PHASES.raised, sample, severity, o.sustainMs, snapshotSeq);
    }

    if (value < o.clearThreshold) {
      this.#resumed = false;
      this.#belowSince ??= at;
      if (at - this.#belowSince >= o.clearMs) {
        this.#incident = null;
        this.#belowSince = null;
        this.#quietUntil = at + o.cooldownMs;
        return this.#event(ALERT_PHASES.cleared, sample, this.#severity(sample.count), o.clearMs, snapshotSeq, incident);
      }
      return null;
    }
    this.#belowSince = null;
    const severity = this.#severity(sample.count);
    if (this.#resumed || severity !== incident.severity || sample.count >= incident.published + o.updateStep) {
      this.#resumed = false;
      incident.severity = severity;
      incident.published = sample.count;
      return this.#event(ALERT_PHASES.updated, sample, severity, o.sustainMs, snapshotSeq);
    }
    return null;
  }

  #severity(count: number): Severity {
    let level = this.options.severities[0]!.severity;
    for (const s of this.options.severities) if (count >= s.minCount) level = s.severity;
    return level;
  }

  #event(
    phase: CrowdAlertEvent['phase'],
    sample: ZoneCount,
    severity: Severity,
    evidenceMs: number,
    snapshotSeq: number | null,
    incident = this.#incident!,
  ): CrowdAlertEvent {
    return {
      incidentId: incident.id,
      phase,
      cameraId: this.cameraId,
      zoneId: this.zoneId,
      count: sample.count,
      threshold: this.options.threshold,
      density: sample.density,
      severity,
      windowMs: this.options.sustainMs,
      startedAt: incident.startedAt,
      at: sample.at,
      evidence: this.#samples.filter((s) => s.at >= sample.at - evidenceMs).map((s) => s.count),
      snapshotSeq,
    };
  }
}
