/**
 * The path of a frame, wired: camera pool -> batcher -> inference engine -> a tracker per camera -> zones and
 * crowd rules -> (track ends) search index, (crowd events) alert sink. Each stage is used through its public
 * index.ts; this file owns only the per-camera state that joins them.
 */
import sharp from 'sharp';
import type { CameraConfig, CvcoreConfig } from '../config/index.js';
import type { Logger } from '../common/log.js';
import type { Box, CrowdAlertEvent, DetectionResult, Frame, PipelineEvent, PlatesHealth, TrackEnd, TrackRecord, ZoneCount } from '../common/messages.js';
import { CameraPool, motionCrop, shouldAnalyse, type CameraRunner, type GatedFrame } from '../ingest/index.js';
import { Batcher, InferenceEngine, type BatcherStats, type StructureQueueStats } from '../inference/index.js';
import { CrowdRule, ZoneAnalyzer, createTracker, type OpenIncident, type Tracker, type TrackerOptions } from '../tracking/index.js';
import { encodeThumbnail, type SearchIndex } from '../search-index/index.js';
import type { AlertSink, CrowdAlertV1 } from '../alerts/index.js';
import { PlateCrops } from './plate-crops.js';

/** A track must have been matched in this many frames to become a search record (drops one-frame ghosts). */
export const MIN_RECORD_HITS = 3;
/** Zone counts go to NATS at most this often per zone. */
export const ZONE_EVENT_INTERVAL_MS = 1_000;
/** Alert snapshots kept in memory for the API. */
export const SNAPSHOT_CACHE = 64;
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
}

/** Where finished tracks go: the local index on one node, the records stream in cluster mode. */
export type RecordSink = Pick<SearchIndex, 'put' | 'flush'>;

/**
 * Cluster mode: a crowd decision is checked against the camera's lease before it goes to the sink. `decide`
 * stores the zone's open incident (so the camera's next owner continues it) and resolves the lease epoch the
 * alert is fenced with, or null when this node no longer holds the camera (nothing is sent).
 */
export interface IncidentHooks {
  decide(event: CrowdAlertEvent, open: OpenIncident | null): Promise<number | null>;
}

export interface PipelineOptions {
  readonly config: CvcoreConfig;
  readonly index: RecordSink;
  readonly alerts: AlertSink | null;
  readonly log: Logger;
  readonly incidents?: IncidentHooks | null;
  /** Called with each alert frame (cluster mode keeps them cluster-wide). */
  readonly onSnapshot?: ((id: string, jpeg: Uint8Array) => void) | null;
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
  #pending = new Set<Promise<unknown>>();

  private constructor(o: PipelineOptions, engine: InferenceEngine) {
    this.#o = o;
    this.engine = engine;
    const inf = o.config.inference;
    this.batcher = new Batcher(engine, { maxBatch: inf.maxBatch, maxDelayMs: inf.maxDelayMs, maxInFlight: inf.workers, analyse: (f) => this.#detects(f), crop: (f) => this.#crop(f) },
      (frame, result) => this.#onResult(frame, result),
      (err) => o.log.error('inference batch failed', { err: err as Error }));
    this.cameras = new CameraPool(o.config.ingest);
    this.cameras.onCamera((r) => this.#attach(r), (id) => this.#detach(id));
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
    });
    this.batcher.add(cfg.id, r.queue);
  }

  #detach(id: string): void {
    this.batcher.remove(id);
    const st = this.#state.get(id);
    if (!st) return;
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
    for (const u of step.updates) {
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
      if (ev) this.#track(this.#raise(st, ev, frame));
    }
  }

  get #readsPlates(): boolean { return this.engine.platesHealth.state === 'ready'; }

  async #raise(st: CameraState, ev: CrowdAlertEvent, frame: Frame | null): Promise<void> {
    const snapshotId = frame ? `${ev.cameraId}-${frame.seq}` : null;
    // In cluster mode the decision is stored (and fenced) first: a node that lost the camera says nothing more.
    let epoch: number | null = null;
    if (this.#o.incidents) {
      epoch = await this.#o.incidents.decide(ev, st.rules.get(ev.zoneId)?.openIncident() ?? null).catch((err: unknown) => {
        this.#o.log.error('incident state could not be stored; the alert is not sent', { err: err as Error, camera: ev.cameraId, zone: ev.zoneId });
        return null;
      });
      if (epoch === null) {
        this.#o.log.warn('crowd decision fenced: this node no longer holds the camera', { camera: ev.cameraId, zone: ev.zoneId, phase: ev.phase, id: ev.incidentId });
        return;
      }
    }
    if (ev.phase !== 'cleared' && frame && snapshotId) {
      const jpeg = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).jpeg({ quality: 70 }).toBuffer();
      this.#snapshots.set(snapshotId, jpeg);
      while (this.#snapshots.size > SNAPSHOT_CACHE) this.#snapshots.delete(this.#snapshots.keys().next().value as string);
      this.#o.onSnapshot?.(snapshotId, jpeg);
    }
    const ctx = {
      district: st.cfg.district, location: st.cfg.location, snapshotRef: ev.phase !== 'cleared' && snapshotId ? `/api/v1/snapshots/${snapshotId}` : null,
      ...(epoch !== null ? { fence: { cameraId: ev.cameraId, epoch } } : {}),
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

  async #record(st: CameraState, end: TrackEnd): Promise<void> {
    const frame = st.bestFrames.get(end.trackId);
    st.bestFrames.delete(end.trackId);
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
    };
    await this.#o.index.put(record);
    this.#records++;
    this.#emit({ type: 'record', record });
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
   * other than dispersal). Resolves once the clears are in the sink.
   */
  async closeIncidents(cameraId: string): Promise<number> {
    const st = this.#state.get(cameraId);
    if (!st) return 0;
    const now = Date.now();
    const events = [...st.rules.values()].map((r) => r.close(now, null)).filter((e): e is CrowdAlertEvent => e !== null);
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
