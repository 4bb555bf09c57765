/**
 * The path of a frame, wired: camera pool -> batcher -> inference engine -> a tracker per camera -> zones and
 * crowd rules -> (track ends) search index, (crowd events) alert sink; and the live alarm path: live person
 * tracks' faces (engine.face, behind detection) -> the alarm rules (watchlist/live.ts) -> alert sink and the
 * watch-list service's alarm log. Each stage is used through its public index.ts; this file owns only the
 * per-camera state that joins them.
 */
import sharp from 'sharp';
import type { CameraConfig, CvcoreConfig } from '../config/index.js';
import type { Logger } from '../common/log.js';
import type { AlarmEvent, Box, ClearReason, CrowdAlertEvent, Detection, DetectionResult, Frame, PipelineEvent, PlatesHealth, TrackEnd, TrackRecord, TrackUpdate, ZoneCount } from '../common/messages.js';
import { CameraPool, motionCrop, shouldAnalyse, type CameraRunner, type GatedFrame, type RemovalReason } from '../ingest/index.js';
import { Batcher, InferenceEngine, mayHoldFace, type BatcherStats, type GpuStatus, type LiveFace, type StructureQueueStats } from '../inference/index.js';
import { CrowdRule, ZoneAnalyzer, createTracker, type OpenIncident, type Tracker, type TrackerOptions } from '../tracking/index.js';
import { encodeThumbnail, type SearchIndex } from '../search-index/index.js';
import type { AlertSink, CrowdAlertV1 } from '../alerts/index.js';
import type { AlarmKind } from '../common/alarm-schemas.js';
import { AlarmRules, type RulesCamera, type RulesTrack, type ZonePresence, type WatchlistService } from '../watchlist/index.js';
import { PlateCrops } from './plate-crops.js';
import type { RecordingService } from '../recording/index.js';
import { cameraRecording } from '../config/index.js';
import { withPeople } from '../common/frame-people.js';

/** A track must have been matched in this many frames to become a search record (drops one-frame ghosts). */
export const MIN_RECORD_HITS = 3;
/** Zone counts go to NATS at most this often per zone. */
export const ZONE_EVENT_INTERVAL_MS = 1_000;
/**
 * Alert snapshots kept in memory for the API, where the record sink cannot keep them (cluster mode: the frames go
 * to a KV bucket through onSnapshot); with a local index they are stored in it (putAlarmFrame) instead.
 */
export const SNAPSHOT_CACHE = 64;
/** A live face is embedded again only for a view this much larger (box area) than the last good one... */
export const BETTER_FACE_AREA = 1.5;
/** ...and at least this long after it ("a clearly better face"). */
export const BETTER_FACE_MS = 2_000;
/**
 * Reads that found no usable face back off: the delay doubles after each, up to faceRetryMs x this. A person who
 * keeps their face turned away costs a read every few seconds rather than every second for as long as they stay.
 */
export const FACE_RETRY_MAX_FACTOR = 8;
/** Margin around a face box (share of its size per side) in the alarm's face crop. */
const FACE_CROP_MARGIN = 0.25;

/**
 * The people of a frame, for its alarm frame: every person detection (whatever the tracker made of it) and every
 * live person track (a tentative one, or one the detector missed in this frame, at its predicted box).
 */
function peopleIn(detections: readonly Detection[], updates: readonly TrackUpdate[]): Box[] {
  const out: Box[] = [];
  for (const d of detections) if (d.cls === 'person') out.push(d.box);
  for (const u of updates) if (u.cls === 'person') out.push(u.box);
  return out;
}
/** The window over which a camera's handled rate is measured against its target. */
export const LOAD_WINDOW_MS = 10_000;
/** A camera is overloaded while it handles less than this share of its target rate (the capacity criterion). */
export const LOAD_MIN_FRACTION = 0.95;

/**
 * What a camera gets when the node is over capacity: the batcher serves cameras round-robin, so every camera
 * gets the same share of the detector and each one's drop-oldest queue sheds what it cannot handle. Nothing
 * degrades silently: a camera handling under 95 % of its target rate is `overloaded` (stats, metrics, event).
 */
export interface CameraLoad {
  readonly targetFps: number;
  /** Frames handled (detected, or predicted on by cadence or motion gate) per second over the last 10 s. */
  readonly handledFps: number;
  readonly overloaded: boolean;
}

interface CameraState {
  readonly cfg: CameraConfig;
  readonly tracker: Tracker;
  readonly zones: ZoneAnalyzer;
  readonly rules: Map<string, CrowdRule>;
  /** The frame holding each live track's best shot, cropped only when the track ends. */
  readonly bestFrames: Map<number, Frame>;
  /** Vehicle tracks' crops for the plate reader (plate-crops.ts: bounded per track and camera), freed at track end or death. */
  readonly crops: PlateCrops;
  readonly lastZoneEvent: Map<string, number>;
  lastCounts: ZoneCount[];
  analysed: number;
  /** Capture times of the frames handled in the last LOAD_WINDOW_MS (bounded by fps x window). */
  readonly handled: number[];
  firstAt: number | null;
  overloaded: boolean;
  /** The camera as the alarm rules see it (restricted zones). */
  readonly alarmCam: RulesCamera;
  /** Live person tracks: when each was first seen, and its face reads (the alarm path). */
  readonly people: Map<number, LivePerson>;
}

/** One live person track's face reads: at most one in flight, retried until a good one, then only better views. */
interface LivePerson {
  readonly firstSeenAt: number;
  inFlight: boolean;
  lastTryAt: number;
  /** Reads in a row that found no usable face (the retry delay doubles with each, see FACE_RETRY_MAX_FACTOR). */
  misses: number;
  /** Good faces embedded (quality >= alarms.faceMinQuality). */
  embedded: number;
  /** Box area and time of the last good face, or null before the first. */
  goodArea: number | null;
  goodAt: number;
}

/** What the pipeline emits: defined in common/messages.ts (the API names it without importing runtime). */
export type { PipelineEvent };

export interface PipelineStats {
  readonly records: number;
  readonly analysed: Record<string, number>;
  readonly batcher: BatcherStats;
  readonly structure: StructureQueueStats;
  readonly load: Record<string, CameraLoad>;
  /** Whether licence plates are read (health `plates`). */
  readonly plates: PlatesHealth;
  /** Live face reads since start: a usable face, a face below alarms.faceMinQuality or none, a failed read (shed or model error). */
  readonly faceReads: { readonly usable: number; readonly unusable: number; readonly failed: number };
  /** Watch-list, frequency and stranger alarms in the outbox since start. */
  readonly alarms: Readonly<Record<AlarmKind, number>>;
  /** inference.backend webgpu: the adapter, devices lost and recreated, and the GPU's turns (detection, structuring); null otherwise. */
  readonly gpu: GpuStatus | null;
}

/**
 * Where finished tracks go: the local index on one node, the records stream in cluster mode. Alarm frames go to
 * the sink too where it keeps them (`putAlarmFrame`: the local index), so a snapshotRef outlives a restart.
 */
export type RecordSink = Pick<SearchIndex, 'put' | 'flush' | 'putAlarmFrame'>;

/**
 * Cluster mode: a crowd decision is checked against the camera's lease before it goes to the sink. `decide`
 * stores the zone's open incident (so the camera's next owner continues it) and resolves the lease epoch the
 * alert is fenced with, or null when this node no longer holds the camera (nothing is sent).
 */
export interface IncidentHooks {
  /**
   * Stores the zone's state after a decision; resolves the lease epoch the alert is fenced with (cluster), 0 for
   * no fence (one node), or null when this node no longer holds the camera (nothing is sent).
   */
  decide(event: CrowdAlertEvent, open: OpenIncident | null, ctx: { readonly district: string; readonly location: { readonly lat: number; readonly lon: number } | null }): Promise<number | null>;
  /** One node: the camera's incidents left open by the last run, to continue (cluster mode does this on takeover). */
  load?(cameraId: string): readonly KeptIncident[];
  /** One node: incidents left open by the last run on cameras not in the pool any more (cleared at start). */
  orphans?(present: ReadonlySet<string>): readonly KeptIncident[];
}

/** An open incident as a run left it, with what its clear needs when its camera or zone is gone. */
export interface KeptIncident {
  readonly cameraId: string;
  readonly zoneId: string;
  readonly incident: OpenIncident;
  readonly threshold: number;
  readonly windowMs: number;
  readonly district: string;
  readonly location: { readonly lat: number; readonly lon: number } | null;
}

export interface PipelineOptions {
  readonly config: CvcoreConfig;
  readonly index: RecordSink;
  readonly alerts: AlertSink | null;
  readonly log: Logger;
  readonly incidents?: IncidentHooks | null;
  /** Called with each alert frame (cluster mode keeps them cluster-wide). */
  readonly onSnapshot?: ((id: string, jpeg: Uint8Array) => void) | null;
  /** Watch-lists for the live alarm rules (face and plate matches, allow-lists); null: no watch-list alarms. */
  readonly watchlists?: WatchlistService | null;
  /** The face index the frequency rule looks back in (the stack passes the index; cluster mode null: rules off). */
  readonly faces?: Pick<SearchIndex, 'faceSearch'> | null;
  /** Recording: each camera is handed to it as it is added, changed or removed, and moments of interest are marked. */
  readonly recordings?: Pick<RecordingService, 'setCamera' | 'removeCamera' | 'mark'> | null;
}

/** The face with a margin, as a JPEG for the alarm log. */
async function faceCrop(frame: Frame, b: Box): Promise<Uint8Array> {
  const mx = b.w * FACE_CROP_MARGIN;
  const my = b.h * FACE_CROP_MARGIN;
  const left = Math.max(0, Math.floor(b.x - mx));
  const top = Math.max(0, Math.floor(b.y - my));
  const width = Math.max(1, Math.min(frame.width - left, Math.ceil(b.w + 2 * mx)));
  const height = Math.max(1, Math.min(frame.height - top, Math.ceil(b.h + 2 * my)));
  const jpeg = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).extract({ left, top, width, height }).jpeg({ quality: 85 }).toBuffer();
  return new Uint8Array(jpeg);
}

/** The tracker's options from the config: the live score calibration over the one association set. */
export function trackerOptions(cfg: CvcoreConfig): Partial<TrackerOptions> {
  const { highScore, lowScore, newTrackScore, minHits, maxLostMs } = cfg.tracking;
  return { highScore, lowScore, newTrackScore, minHits, maxLostMs };
}

export class Pipeline {
  readonly cameras: CameraPool;
  readonly engine: InferenceEngine;
  readonly batcher: Batcher;
  #o: PipelineOptions;
  #state = new Map<string, CameraState>();
  #listeners = new Set<(e: PipelineEvent) => void>();
  #alertHistory: CrowdAlertV1[] = [];
  #snapshots = new Map<string, Uint8Array>();
  #records = 0;
  readonly #faceReads = { usable: 0, unusable: 0, failed: 0 };
  readonly #alarms: Record<AlarmKind, number> = { watchlist: 0, frequency: 0, stranger: 0 };
  #pending = new Set<Promise<unknown>>();
  readonly #rules: AlarmRules;

  private constructor(o: PipelineOptions, engine: InferenceEngine) {
    this.#o = o;
    this.engine = engine;
    this.#rules = new AlarmRules({ config: o.config.alarms, watchlists: o.watchlists ?? null, faces: o.faces ?? null, log: o.log });
    const inf = o.config.inference;
    this.batcher = new Batcher(engine, { maxBatch: inf.maxBatch, maxDelayMs: inf.maxDelayMs, maxInFlight: inf.backend === 'webgpu' ? 1 : inf.workers, analyse: (f) => this.#detects(f), crop: (f) => this.#crop(f) },
      (frame, result) => this.#onResult(frame, result),
      (err) => o.log.error('inference batch failed', { err: err as Error }));
    this.cameras = new CameraPool(o.config.ingest);
    this.cameras.onCamera((r) => this.#attach(r), (id, why) => this.#detach(id, why));
    this.cameras.on((e) => {
      this.#emit(e);
      if (e.type === 'health') {
        const st = this.#state.get(e.cameraId);
        o.log.info('camera health', { camera: e.cameraId, state: e.state, code: e.code, reason: e.reason });
        o.alerts?.publishEvent('stream_health', [st?.cfg.district ?? 'unknown', e.cameraId], e);
      }
    });
  }

  static async start(o: PipelineOptions): Promise<Pipeline> {
    const inf = o.config.inference;
    const engine = await InferenceEngine.start({
      backend: inf.backend, model: inf.model, ...(inf.inputSize !== null ? { inputSize: inf.inputSize } : {}), workers: inf.workers, minScore: Math.min(inf.minScore, o.config.tracking.lowScore),
      iouThreshold: inf.iouThreshold, classes: inf.classes, classMinScore: inf.classMinScore,
      // People's best shots go through the face models: load them before the first track ends.
      warmFaces: inf.classes.includes('person'),
      plates: inf.plates,
      // webgpu: the GPU thread takes the batcher's batches whole, up to maxBatch frames (inference/README-webgpu.md).
      ...(inf.backend === 'webgpu' ? { maxBatch: inf.maxBatch, webgpu: inf.webgpu } : {}),
    });
    const p = new Pipeline(o, engine);
    // Logged once: at start, or the first time a thread's reader fails later.
    const logPlates = (h: PlatesHealth): void => {
      if (h.state === 'unavailable') o.log.error('plate reader unavailable: vehicle records are written without plates', { code: h.code, reason: h.reason });
    };
    if (engine.platesHealth.state === 'unavailable') logPlates(engine.platesHealth);
    else engine.onPlatesHealth(logPlates);
    for (const cam of o.config.cameras) p.cameras.add(cam);
    return p;
  }

  on(fn: (e: PipelineEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #emit(e: PipelineEvent): void {
    for (const l of this.#listeners) {
      try { l(e); } catch (err) { this.#o.log.warn('pipeline listener threw', { err: err as Error }); }
    }
  }

  #attach(r: CameraRunner): void {
    const cfg = r.config;
    const rules = new Map<string, CrowdRule>();
    for (const z of cfg.zones) if (z.crowd) rules.set(z.id, new CrowdRule(cfg.id, z.id, z.crowd));
    this.#state.set(cfg.id, {
      cfg,
      tracker: createTracker(cfg.id, trackerOptions(this.#o.config)),
      zones: new ZoneAnalyzer(cfg.id, cfg.zones.map((z) => ({ id: z.id, polygon: z.polygon, ...(z.areaM2 !== null ? { areaM2: z.areaM2 } : {}) })), cfg.lines,
        { holdLostMs: this.#o.config.tracking.zoneHoldMs }),
      rules,
      bestFrames: new Map(),
      crops: new PlateCrops(),
      lastZoneEvent: new Map(),
      lastCounts: [],
      analysed: 0,
      handled: [],
      firstAt: null,
      overloaded: false,
      alarmCam: { id: cfg.id, department: cfg.department, restricted: new Map(cfg.zones.flatMap((z) => (z.restricted ? [[z.id, z.restricted] as const] : []))) },
      people: new Map(),
    });
    this.batcher.add(cfg.id, r.queue);
    const rec = this.#o.recordings;
    if (rec) {
      // The camera's own stream, recorded beside the decoder (an unchanged config leaves the recorder running).
      void rec.setCamera({ id: cfg.id, url: cfg.url, transport: cfg.transport, department: cfg.department, recording: cameraRecording(this.#o.config.recording, cfg) })
        .catch((err: unknown) => this.#o.log.error('recording could not start', { camera: cfg.id, err: err as Error }));
    }
    this.#continueIncidents(cfg.id);
  }

  /**
   * One node: incidents the last run left open on this camera go on (its next decisions are their updates and
   * clears, never a second raise). A disabled camera, or a zone without its crowd rule any more, ends them now.
   */
  #continueIncidents(cameraId: string): void {
    const kept = this.#o.incidents?.load?.(cameraId) ?? [];
    const st = this.#state.get(cameraId);
    if (kept.length === 0 || !st) return;
    this.resumeIncidents(cameraId, new Map(kept.filter((k) => st.rules.has(k.zoneId)).map((k) => [k.zoneId, k.incident])));
    // A zone still in the config without its crowd rule: the rule changed; a zone gone from it: removed.
    const zones = new Set(st.cfg.zones.map((z) => z.id));
    for (const k of kept) if (!st.rules.has(k.zoneId)) this.#track(this.#clearOrphan(k, zones.has(k.zoneId) ? 'rule-changed' : 'zone-removed'));
    if (!st.cfg.enabled) this.#track(this.closeIncidents(cameraId, 'camera-disabled'));
  }

  /** Clears incidents the last run left open on cameras the pool no longer has (removed while the core was down). */
  async clearOrphanIncidents(): Promise<number> {
    const present = new Set(this.cameras.runners().map((r) => r.config.id));
    const orphans = this.#o.incidents?.orphans?.(present) ?? [];
    await Promise.all(orphans.map((o) => this.#clearOrphan(o, 'camera-removed')));
    return orphans.length;
  }

  /** The clear of an incident with no rule behind it (its camera or zone is gone): count 0, no frame. */
  async #clearOrphan(o: KeptIncident, clearReason: ClearReason): Promise<void> {
    const now = Date.now();
    const ev: CrowdAlertEvent = {
      incidentId: o.incident.id, phase: 'cleared', cameraId: o.cameraId, zoneId: o.zoneId, count: 0, threshold: o.threshold, density: null,
      severity: o.incident.severity, windowMs: o.windowMs, startedAt: o.incident.startedAt, at: now, evidence: [], snapshotSeq: null, clearReason,
    };
    const ctx = { district: o.district, location: o.location };
    if ((await this.#o.incidents?.decide(ev, null, ctx).catch(() => null)) === null) return;
    try {
      const alert = await this.#o.alerts?.submit(ev, { ...ctx, snapshotRef: null });
      if (alert) { this.#alertHistory.push(alert); this.#emit({ type: 'alert', alert }); }
      this.#o.log.info('crowd incident cleared: its camera or zone is gone', { camera: o.cameraId, zone: o.zoneId, id: o.incident.id, reason: clearReason });
    } catch (err) {
      this.#o.log.error('alert rejected', { err: err as Error, camera: o.cameraId, zone: o.zoneId });
    }
  }

  /**
   * A camera leaves the pipeline. Removed (or its config replaced): its tracks end. Removed for good: its open
   * incidents end too (the one way an incident ends without dispersing). A stop or a config change is not an
   * end: the incidents stay open for the next run, or the new config, to continue.
   */
  #detach(id: string, why: RemovalReason | 'stopped' = 'stopped'): void {
    this.batcher.remove(id);
    // A removed camera (or one handed to another node) stops recording; a replaced one goes on (its new config
    // reaches the recorder on attach), and a stop leaves the recorders to the stack's own close.
    if (why === 'removed' || why === 'released') void this.#o.recordings?.removeCamera(id).catch(() => undefined);
    const st = this.#state.get(id);
    if (!st) return;
    if (why === 'removed') this.#track(this.#closeIncidentsOf(st, 'camera-removed'));
    this.#state.delete(id);
    for (const end of st.tracker.finish(Date.now())) this.#track(this.#record(st, end));
  }

  /**
   * Whether a frame goes to the detector: the motion gate's verdict and the camera's cadence (`detectEvery`).
   * A pure function of the frame (the batcher asks twice); a camera removed meanwhile analyses every frame.
   */
  #detects(frame: Frame): boolean {
    if (!shouldAnalyse(frame)) return false;
    const every = this.#state.get(frame.cameraId)?.cfg.detectEvery ?? 1;
    return every <= 1 || frame.seq % every === 0;
  }

  /** Counts a handled frame and flags the camera when its handled rate falls below its target. */
  #measureLoad(st: CameraState, at: number): void {
    st.firstAt ??= at;
    st.handled.push(at);
    while (st.handled.length > 0 && st.handled[0]! <= at - LOAD_WINDOW_MS) st.handled.shift();
    if (at - st.firstAt < LOAD_WINDOW_MS) return;
    const load = this.#load(st, at);
    if (load.overloaded === st.overloaded) return;
    st.overloaded = load.overloaded;
    const log = load.overloaded ? this.#o.log.warn.bind(this.#o.log) : this.#o.log.info.bind(this.#o.log);
    log(load.overloaded ? 'camera over capacity: frames are dropped' : 'camera back within capacity', { camera: st.cfg.id, handledFps: load.handledFps, targetFps: load.targetFps });
    this.#emit({ type: 'load', cameraId: st.cfg.id, overloaded: load.overloaded, handledFps: load.handledFps, targetFps: load.targetFps, at });
  }

  #load(st: CameraState, now: number): CameraLoad {
    const full = st.firstAt !== null && now - st.firstAt >= LOAD_WINDOW_MS;
    let n = 0;
    for (const t of st.handled) if (t > now - LOAD_WINDOW_MS) n++;
    const handledFps = Math.round((n / (LOAD_WINDOW_MS / 1000)) * 100) / 100;
    return { targetFps: st.cfg.fps, handledFps, overloaded: full && handledFps < LOAD_MIN_FRACTION * st.cfg.fps };
  }

  /** Where to detect: the moving part of the frame for cameras that ask for it (motion.detectRegions). */
  #crop(frame: Frame): Box | null {
    const m = this.#state.get(frame.cameraId)?.cfg.motion;
    const verdict = (frame as Partial<GatedFrame>).motion;
    if (!m?.detectRegions || !verdict) return null;
    // People standing still are outside the motion: every forceEvery-th frame is detected whole regardless.
    if (m.forceEvery > 0 && frame.seq % m.forceEvery === 0) return null;
    return motionCrop(verdict, frame.width, frame.height, m.regionMargin, m.regionMaxArea);
  }

  #track<T>(p: Promise<T>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  async #onResult(frame: Frame, result: DetectionResult): Promise<void> {
    const st = this.#state.get(frame.cameraId);
    if (!st) return;
    // Frames the motion gate held back, and those between two detections at the camera's cadence, come through
    // the batcher in order, unanalysed: the tracker predicts and ages its tracks on them.
    const gated = !this.#detects(frame);
    if (!gated) {
      st.analysed++;
      this.#emit({
        type: 'analysed', cameraId: frame.cameraId, seq: frame.seq, capturedAt: frame.capturedAt, doneAt: Date.now(),
        batchSize: result.batchSize, inferenceMs: result.inferenceMs, detections: result.detections.length,
      });
    }
    this.#measureLoad(st, frame.capturedAt);
    const step = gated ? st.tracker.skip(frame.seq, frame.capturedAt) : st.tracker.update(frame.seq, frame.capturedAt, result.detections);
    const recCfg = this.#o.recordings ? cameraRecording(this.#o.config.recording, st.cfg) : null;
    const marks = recCfg?.mode === 'events' ? recCfg.classes : null;
    for (const u of step.updates) {
      // events mode: a live track of a chosen class keeps its recording (the marks merge, so a long track is whole).
      if (marks && u.state === 'confirmed' && marks.includes(u.cls)) this.#o.recordings!.mark(frame.cameraId, u.at, u.at, `track:${u.cls}`);
      if (u.bestShot) st.bestFrames.set(u.trackId, frame);
      if (this.#readsPlates && !gated) st.crops.offer(u, frame);
    }
    for (const end of step.ended) this.#track(this.#record(st, end));
    // Every live track is in the step's updates. A tentative track removed before it confirmed gets no update
    // and no end event, so its best-shot frame would stay here forever (a frame per false start): drop it.
    if (st.bestFrames.size > 0 || st.crops.tracks > 0) {
      const live = new Set(step.updates.map((u) => u.trackId));
      for (const id of st.bestFrames.keys()) if (!live.has(id)) st.bestFrames.delete(id);
      st.crops.retain(live);
    }
    for (const u of step.updates) if (u.cls === 'person' && !st.people.has(u.trackId)) st.people.set(u.trackId, { firstSeenAt: u.at, inFlight: false, lastTryAt: -Infinity, misses: 0, embedded: 0, goodArea: null, goodAt: 0 });
    if (st.people.size > step.updates.length) {
      const live = new Set(step.updates.map((u) => u.trackId));
      for (const id of st.people.keys()) if (!live.has(id)) st.people.delete(id);
    }

    const { counts } = st.zones.update(step.updates, frame.capturedAt);
    st.lastCounts = counts;
    for (const c of counts) {
      const last = st.lastZoneEvent.get(c.zoneId) ?? 0;
      if (frame.capturedAt - last >= ZONE_EVENT_INTERVAL_MS) {
        st.lastZoneEvent.set(c.zoneId, frame.capturedAt);
        this.#emit({ type: 'zone_count', count: c });
        this.#o.alerts?.publishEvent('zone_count', [st.cfg.district, st.cfg.id, c.zoneId], c);
      }
      const rule = st.rules.get(c.zoneId);
      const ev = rule?.observe(c, frame.seq);
      if (ev) this.#track(this.#raise(st, ev, frame, peopleIn(result.detections, step.updates)));
    }
    // Live faces only where a rule needs them (a face list of the camera's department, a frequency rule, a
    // restricted zone): without one nothing runs and the capacity is what it was before alarms.
    if (!gated && this.#rules.wantsFaces(st.alarmCam)) this.#liveFaces(st, frame, step.updates, result.detections);
  }

  /** The restricted zones the track is in now, with how long. */
  #presence(st: CameraState, trackId: number): ZonePresence[] {
    const out: ZonePresence[] = [];
    for (const zone of st.alarmCam.restricted.keys()) if (st.zones.inside(zone, trackId)) out.push({ zone, dwellMs: st.zones.dwellMs(zone, trackId) });
    return out;
  }

  #rulesTrack(st: CameraState, trackId: number, firstSeenAt: number): RulesTrack {
    return { trackId, record: `${st.cfg.id}:${trackId}:${firstSeenAt}`, firstSeenAt };
  }

  /**
   * Schedules face reads of the camera's live person tracks (confirmed, wide enough for a MIN_FACE_SIDE face):
   * one in flight per track, every alarms.faceRetryMs until a good one (doubling after each miss, up to
   * FACE_RETRY_MAX_FACTOR times), then only for a clearly better view
   * (BETTER_FACE_AREA x the box area, BETTER_FACE_MS later), at most alarms.faceMaxPerTrack good ones. People
   * in restricted zones are also checked for the no_face stranger alarm, however small.
   */
  #liveFaces(st: CameraState, frame: Frame, updates: readonly TrackUpdate[], detections: readonly Detection[]): void {
    const a = this.#o.config.alarms;
    // The frame's people go into the alarm frame's JPEG: the API blurs their heads for callers without the face grant.
    const people = peopleIn(detections, updates);
    const at = frame.capturedAt;
    for (const u of updates) {
      if (u.cls !== 'person' || u.state !== 'confirmed') continue;
      const p = st.people.get(u.trackId);
      if (!p) continue;
      const zones = st.alarmCam.restricted.size > 0 ? this.#presence(st, u.trackId) : [];
      if (zones.length > 0) {
        for (const ev of this.#rules.onPresence(st.alarmCam, this.#rulesTrack(st, u.trackId, p.firstSeenAt), at, zones)) this.#track(this.#raiseAlarm(st, ev, frame, null, people));
      }
      if (p.inFlight || p.embedded >= a.faceMaxPerTrack || !mayHoldFace(u.box)) continue;
      const area = u.box.w * u.box.h;
      const retryMs = a.faceRetryMs * Math.min(FACE_RETRY_MAX_FACTOR, 2 ** p.misses);
      const due = p.goodArea === null ? at - p.lastTryAt >= retryMs : area >= BETTER_FACE_AREA * p.goodArea && at - p.goodAt >= BETTER_FACE_MS;
      if (!due) continue;
      p.inFlight = true;
      p.lastTryAt = at;
      this.#track(this.#readFace(st, frame, u, p, zones, people));
    }
  }

  async #readFace(st: CameraState, frame: Frame, u: TrackUpdate, p: LivePerson, zones: readonly ZonePresence[], people: readonly Box[]): Promise<void> {
    let face: LiveFace | null;
    try {
      face = await this.engine.face({ data: frame.data, width: frame.width, height: frame.height, box: u.box });
    } catch (err) {
      // INFERENCE_BUSY (the structuring queue shed it) or a model failure: the next try comes after the retry delay.
      this.#o.log.warn('live face read failed', { err: err as Error, camera: st.cfg.id, track: u.trackId });
      this.#faceReads.failed++;
      face = null;
    } finally {
      p.inFlight = false;
    }
    // A face below the quality bar is not trusted for a decision (a turned or blurred face would alarm wrongly
    // as a stranger, or match the wrong entry): retry, less often after each miss.
    if (!face || face.quality < this.#o.config.alarms.faceMinQuality) {
      if (face) this.#faceReads.unusable++;
      p.misses++;
      return;
    }
    this.#faceReads.usable++;
    p.misses = 0;
    p.embedded++;
    p.goodArea = u.box.w * u.box.h;
    p.goodAt = frame.capturedAt;
    const events = await this.#rules.onFace(st.alarmCam, this.#rulesTrack(st, u.trackId, p.firstSeenAt), face.embedding, frame.capturedAt, zones);
    await Promise.all(events.map((ev) => this.#raiseAlarm(st, ev, frame, face.box, people)));
  }

  /**
   * A watch-list, frequency or stranger alarm: the frame and the face crop as JPEG, into the outbox
   * (submitAlarm), then the watch-list service's alarm log with the images, then the `alarm` event. Failures are
   * logged, never thrown into the frame path; a retry of the same decision has the same id (the outbox de-duplicates).
   */
  async #raiseAlarm(st: CameraState, ev: AlarmEvent, frame: Frame | null, faceBox: Box | null, people: readonly Box[] | null = null): Promise<void> {
    this.#o.recordings?.mark(ev.camera, ev.at, ev.at, `alarm:${ev.kind}`);
    const sink = this.#o.alerts;
    try {
      const raw = frame ? { raw: { width: frame.width, height: frame.height, channels: 3 as const } } : null;
      const encoded = frame && raw ? await sharp(frame.data, raw).jpeg({ quality: 70 }).toBuffer() : null;
      // A frame whose people are not known (a plate alarm's best shot) carries none: the API then blurs all of it.
      const snapshot = encoded ? new Uint8Array(people ? withPeople(encoded, people) : encoded) : null;
      const face = frame && raw && faceBox ? await faceCrop(frame, faceBox) : null;
      if (!sink) return;
      const alarm = await sink.submitAlarm(ev, { district: st.cfg.district, location: st.cfg.location, snapshotRef: snapshot ? `/api/v1/alarms/${ev.id}/snapshot` : null });
      this.#o.log.info('alarm', { kind: ev.kind, camera: ev.camera, track: ev.track, id: ev.id });
      if (this.#o.watchlists) {
        await this.#o.watchlists.recordAlarm(alarm, { snapshot, face }).catch((err: unknown) => {
          this.#o.log.error('alarm sent but not recorded in the alarm log', { err: err as Error, id: ev.id });
        });
      }
      this.#alarms[alarm.kind]++;
      this.#emit({ type: 'alarm', alarm });
    } catch (err) {
      this.#o.log.error('alarm rejected', { err: err as Error, kind: ev.kind, camera: ev.camera, id: ev.id });
    }
  }

  get #readsPlates(): boolean { return this.engine.platesHealth.state === 'ready'; }

  async #raise(st: CameraState, ev: CrowdAlertEvent, frame: Frame | null, people: readonly Box[] | null = null): Promise<void> {
    this.#o.recordings?.mark(ev.cameraId, Math.min(ev.startedAt, ev.at - ev.windowMs), ev.at, 'alarm:crowd');
    const snapshotId = frame ? `${ev.cameraId}-${frame.seq}` : null;
    // In cluster mode the decision is stored (and fenced) first: a node that lost the camera says nothing more.
    let epoch: number | null = null;
    if (this.#o.incidents) {
      epoch = await this.#o.incidents.decide(ev, st.rules.get(ev.zoneId)?.openIncident() ?? null, { district: st.cfg.district, location: st.cfg.location }).catch((err: unknown) => {
        this.#o.log.error('incident state could not be stored; the alert is not sent', { err: err as Error, camera: ev.cameraId, zone: ev.zoneId });
        return null;
      });
      if (epoch === null) {
        this.#o.log.warn('crowd decision fenced: this node no longer holds the camera', { camera: ev.cameraId, zone: ev.zoneId, phase: ev.phase, id: ev.incidentId });
        return;
      }
    }
    if (ev.phase !== 'cleared' && frame && snapshotId) {
      const encoded = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).jpeg({ quality: 70 }).toBuffer();
      // The frame's people ride in the JPEG (a comment segment): the API blurs their heads for callers without the face grant.
      const jpeg = people ? withPeople(encoded, people) : encoded;
      await this.#keepFrame(st, snapshotId, frame.capturedAt, jpeg);
      this.#o.onSnapshot?.(snapshotId, jpeg);
    }
    const ctx = {
      district: st.cfg.district, location: st.cfg.location, snapshotRef: ev.phase !== 'cleared' && snapshotId ? `/api/v1/snapshots/${snapshotId}` : null,
      ...(epoch !== null && epoch > 0 ? { fence: { cameraId: ev.cameraId, epoch } } : {}),
    };
    const sink = this.#o.alerts;
    if (!sink) return;
    try {
      const alert = await sink.submit(ev, ctx);
      this.#alertHistory.push(alert);
      if (this.#alertHistory.length > 1000) this.#alertHistory.splice(0, 500);
      this.#o.log.info('crowd alert', { camera: ev.cameraId, zone: ev.zoneId, phase: ev.phase, count: ev.count, severity: ev.severity, id: ev.incidentId });
      this.#emit({ type: 'alert', alert });
    } catch (err) {
      this.#o.log.error('alert rejected', { err: err as Error, camera: ev.cameraId, zone: ev.zoneId });
    }
  }

  /**
   * An alert's frame, before the alert that points at it goes out: into the index with the camera's department
   * (durable, same retention as the records), else (no local index, or its write failed) into the memory cache.
   */
  async #keepFrame(st: CameraState, id: string, at: number, jpeg: Uint8Array): Promise<void> {
    const put = this.#o.index.putAlarmFrame?.bind(this.#o.index);
    if (put) {
      const stored = await put({ id, cameraId: st.cfg.id, department: st.cfg.department, at, jpeg }).then(() => true, (err: unknown) => {
        this.#o.log.error('alarm frame not stored in the index: kept in memory only', { err: err as Error, camera: st.cfg.id, id });
        return false;
      });
      if (stored) return;
    }
    this.#snapshots.set(id, jpeg);
    while (this.#snapshots.size > SNAPSHOT_CACHE) this.#snapshots.delete(this.#snapshots.keys().next().value as string);
  }

  async #record(st: CameraState, end: TrackEnd): Promise<void> {
    const frame = st.bestFrames.get(end.trackId);
    st.bestFrames.delete(end.trackId);
    st.people.delete(end.trackId);
    this.#rules.trackEnded(`${end.cameraId}:${end.trackId}:${end.firstSeen}`);
    const crops = st.crops.take(end.trackId);
    if (end.hits < MIN_RECORD_HITS) return;
    const b = end.bestShot.box;
    const thumbnail = frame ? await encodeThumbnail(frame.data, frame.width, frame.height, b) : null;
    // Secondary models run once per track, on its best shot; a failure costs the attributes, not the record.
    const structured = frame
      ? await this.engine.structure({ data: frame.data, width: frame.width, height: frame.height, box: b, cls: end.cls, ...(crops.length > 0 ? { crops } : {}) })
        .catch((err: unknown) => { this.#o.log.warn('structuring failed', { err: err as Error, camera: end.cameraId, track: end.trackId }); return null; })
      : null;
    const record: TrackRecord = {
      id: `${end.cameraId}:${end.trackId}:${end.firstSeen}`,
      cameraId: end.cameraId,
      department: st.cfg.department,
      district: st.cfg.district,
      cls: end.cls,
      start: end.firstSeen,
      end: end.lastSeen,
      hits: end.hits,
      score: end.bestShot.score,
      box: b,
      attributes: structured?.attributes ?? {},
      thumbnail,
      embedding: structured?.embedding ?? null,
      plateCrop: structured?.plateCrop ?? null,
      trajectory: end.trajectory,
      // The space of box and trajectory: the analysed frame's (the camera's configured analysis size without one).
      frame: frame ? { width: frame.width, height: frame.height } : { width: st.cfg.width, height: st.cfg.height },
    };
    await this.#o.index.put(record);
    this.#records++;
    this.#emit({ type: 'record', record });
    // Plate lists: once the track's plate is read (at its end), confidently.
    const plate = record.attributes['plate'];
    const confidence = record.attributes['plateConfidence'];
    if (typeof plate === 'string' && typeof confidence === 'number' && this.#rules.plates) {
      const track = this.#rulesTrack(st, end.trackId, end.firstSeen);
      for (const ev of this.#rules.onPlate(st.alarmCam, track, plate, confidence, Date.now(), end.bestShot.at)) await this.#raiseAlarm(st, ev, frame ?? null, null);
    }
  }

  /** Resolves once the records and alerts under way (tracks ended, decisions being sent) have reached their sinks. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Continues incidents another node opened on this camera (cluster failover): by zone id. */
  resumeIncidents(cameraId: string, open: ReadonlyMap<string, OpenIncident>): void {
    const st = this.#state.get(cameraId);
    if (!st) return;
    for (const [zoneId, incident] of open) st.rules.get(zoneId)?.resume(incident);
  }

  /**
   * Clears every open incident of the camera now (it was removed or disabled: the one way an incident ends
   * other than dispersal). Resolves once the clears are in the sink. `reason` goes out with them (schema v2).
   */
  async closeIncidents(cameraId: string, reason: Extract<ClearReason, 'camera-removed' | 'camera-disabled'> = 'camera-removed'): Promise<number> {
    const st = this.#state.get(cameraId);
    return st ? this.#closeIncidentsOf(st, reason) : 0;
  }

  async #closeIncidentsOf(st: CameraState, clearReason: ClearReason): Promise<number> {
    const now = Date.now();
    const events = [...st.rules.values()].map((r) => r.close(now, null)).filter((e): e is CrowdAlertEvent => e !== null).map((e) => ({ ...e, clearReason }));
    await Promise.all(events.map((ev) => this.#raise(st, ev, null)));
    return events.length;
  }

  alertHistory(limit = 100): CrowdAlertV1[] { return this.#alertHistory.slice(-limit).reverse(); }
  snapshot(id: string): Uint8Array | null { return this.#snapshots.get(id) ?? null; }
  zoneCounts(): ZoneCount[] { return [...this.#state.values()].flatMap((s) => s.lastCounts); }

  stats(): PipelineStats {
    return {
      records: this.#records,
      analysed: Object.fromEntries([...this.#state].map(([id, s]) => [id, s.analysed])),
      batcher: this.batcher.stats(),
      structure: this.engine.structureStats(),
      load: Object.fromEntries([...this.#state].map(([id, s]) => [id, this.#load(s, Date.now())])),
      plates: this.engine.platesHealth,
      faceReads: { ...this.#faceReads },
      alarms: { ...this.#alarms },
      gpu: this.engine.gpu,
    };
  }

  /** Stops cameras, lets the batches in flight finish, ends every track into the index, stops the workers. */
  async stop(): Promise<void> {
    for (const r of this.cameras.runners()) r.stop();
    await this.cameras.live.stop(); // live-view relays would otherwise outlive the core by their idle delay
    await this.batcher.stop();
    for (const [id] of this.#state) this.#detach(id);
    await Promise.allSettled([...this.#pending]);
    await this.#o.index.flush();
    await this.engine.stop();
  }
}
