/**
 * The recording service: one CameraRecorder per camera that records, the segment index, events-mode pruning,
 * retention (days, per-camera and total quotas, oldest first, held segments kept), legal holds, clips and health.
 * Layout under the recordings folder (<dataDir>/recordings):
 *
 *   index/            the segment index (RocksDB, store.ts)
 *   <camera>/         the camera's segments, <run id>-<n>.ts, and <run id>.csv while a run lives
 *   clips/            cut clips, kept `clipCacheMs` after their last use
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rm, stat, statfs, unlink, utimes, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { checkVerifier, sealedKeyId, type DataKeyring } from '../common/data-key.js';
import { RecordingError } from '../common/errors.js';
import { isSealedFile, openSealedFile, resealFileHeader, sealFile, sealedFilesUsage, unsealFile } from '../common/sealed-file.js';
import type { Logger } from '../common/log.js';
import { requireFfmpeg } from '../common/proc.js';
import { cutClip } from './clip.js';
import { ffprobePath, probeDuration } from './probe.js';
import { CameraRecorder, isSegmentFile, runOf } from './recorder.js';
import { SegmentStore } from './store.js';
import type {
  CameraRecordingConfig, Clip, Gap, Hold, HoldInput, RecordedCamera, RecordingHealth, RecordingMode, RecordingsAnswer, RecordingService, Segment,
} from './types.js';

/** The recorder's own settings (config `recording`, less the per-camera defaults). */
export interface RecordingSettings {
  readonly segmentSeconds: number;
  readonly totalQuotaBytes: number;
  readonly minFreeBytes: number;
  readonly maxClipMs: number;
  readonly clipCacheMs: number;
  readonly retentionIntervalMs: number;
  /** Retention of cameras no longer set up (removed from the config); absent: they are kept until the total quota needs the room. */
  readonly retentionDays?: number;
}

export interface OpenRecordingsOptions {
  /** The recordings folder (<dataDir>/recordings). */
  readonly dir: string;
  readonly settings: RecordingSettings;
  readonly log: Logger;
  /**
   * The data key ring closed segments and cached clips are sealed with (common/sealed-file.ts). The segment
   * ffmpeg is writing is in clear until it closes (at most one per camera); crash leftovers are sealed at start.
   */
  readonly dataKey: DataKeyring;
  /** events mode: how long after a segment's end (plus pre-roll) it is decided; default MARK_LAG_MS (tests shorten it). */
  readonly markLagMs?: number;
}

/**
 * events mode: a segment is decided (kept if a mark reaches it, else deleted) this long after its end plus the
 * pre-roll, so a moment of interest marked a little late (a track confirmed after a few frames, a crowd alarm
 * raised after its sustain window) still keeps what came before it.
 */
export const MARK_LAG_MS = 30_000;
export const MAX_HOLD_CAMERAS = 1_000;
const HOUSEKEEPING_MS = 2_000;
/** Clear copies of sealed segments for ffmpeg/ffprobe while a clip is cut (0700, removed after each cut and at open). */
export const PLAIN_DIR = '.plain';
/** What a segment's sealed file key is bound to: its camera and file name (a file copied elsewhere does not open). */
export const segmentWhere = (cam: string, file: string): string => `rec:${cam}/${file}`;
const clipWhere = (key: string): string => `clip:${key}`;

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function checkRange(from: unknown, to: unknown): void {
  if (!isFiniteNumber(from)) throw new RecordingError('RECORDING_BAD_RANGE', `from: must be a time in ms, got ${JSON.stringify(from)}`, { detail: { field: 'from' } });
  if (!isFiniteNumber(to)) throw new RecordingError('RECORDING_BAD_RANGE', `to: must be a time in ms, got ${JSON.stringify(to)}`, { detail: { field: 'to' } });
  if (from >= to) throw new RecordingError('RECORDING_BAD_RANGE', `from (${from}) must be before to (${to})`, { detail: { field: 'from' } });
}

class RecordingServiceImpl implements RecordingService {
  readonly #o: OpenRecordingsOptions;
  readonly #store: SegmentStore;
  readonly #ffmpeg: string;
  readonly #ffprobe: string;
  readonly #recorders = new Map<string, CameraRecorder>();
  readonly #cameras = new Map<string, RecordedCamera>();
  readonly #recovered = new Set<string>();
  readonly #holds = new Map<string, Hold>();
  /** events mode: merged [from - preRoll, to + postRoll] intervals per camera, and segments not decided yet. */
  readonly #marks = new Map<string, [number, number][]>();
  readonly #pending = new Map<string, Segment[]>();
  readonly #clips = new Map<string, Promise<Clip>>();
  readonly #timers: NodeJS.Timeout[] = [];
  #retention: Promise<{ removed: number; bytes: number }> | null = null;
  #closed = false;
  #segmentsWritten = 0;

  constructor(o: OpenRecordingsOptions, store: SegmentStore, ffmpeg: string, holds: Hold[]) {
    this.#o = o;
    this.#store = store;
    this.#ffmpeg = ffmpeg;
    this.#ffprobe = ffprobePath(ffmpeg);
    for (const h of holds) this.#holds.set(h.id, h);
    const every = (ms: number, fn: () => Promise<unknown>): void => {
      const t = setInterval(() => { void fn().catch((err: unknown) => o.log.warn('recording: housekeeping failed', { err: err as Error })); }, ms);
      t.unref();
      this.#timers.push(t);
    };
    every(o.settings.retentionIntervalMs, () => this.enforceRetention());
    every(HOUSEKEEPING_MS, () => this.#decideEvents(Date.now()));
    every(Math.min(60_000, o.settings.clipCacheMs), () => this.#sweepClips());
  }

  get segmentsWritten(): number { return this.#segmentsWritten; }

  /** Wall-clock mapping check over every recorder (benchmarks, README's tolerance). */
  clockSkew(): { maxMs: number; samples: number } {
    let maxMs = 0;
    let samples = 0;
    for (const r of this.#recorders.values()) { const k = r.skew; maxMs = Math.max(maxMs, k.max); samples += k.samples; }
    return { maxMs, samples };
  }

  /** Pids of the recorders' ffmpeg processes (benchmarks). */
  pids(): number[] { return [...this.#recorders.values()].map((r) => r.pid).filter((p): p is number => p !== undefined); }

  #camDir(id: string): string { return join(this.#o.dir, id); }

  /** Changes to one camera run one after another (a change arriving while the last one still starts up). */
  readonly #cameraChains = new Map<string, Promise<void>>();
  #perCamera(id: string, fn: () => Promise<void>): Promise<void> {
    const p = (this.#cameraChains.get(id) ?? Promise.resolve()).then(fn, fn);
    const tail = p.catch(() => undefined);
    this.#cameraChains.set(id, tail);
    void tail.then(() => { if (this.#cameraChains.get(id) === tail) this.#cameraChains.delete(id); });
    return p;
  }

  setCamera(camera: RecordedCamera): Promise<void> {
    if (!camera || typeof camera.id !== 'string') return Promise.reject(new TypeError('camera.id must be a string'));
    return this.#perCamera(camera.id, () => this.#setCamera(camera));
  }

  async #setCamera(camera: RecordedCamera): Promise<void> {
    if (this.#closed) throw new RecordingError('RECORDING_IO', 'the recording service is closed');
    if (!camera || typeof camera.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(camera.id)) throw new TypeError('camera.id must be 1-64 letters, digits, _ or -');
    const old = this.#cameras.get(camera.id);
    const rec = this.#recorders.get(camera.id);
    if (old && rec && JSON.stringify(old) === JSON.stringify(camera)) return;
    this.#cameras.set(camera.id, camera);
    if (rec) {
      this.#recorders.delete(camera.id);
      await rec.stop();
    }
    if (camera.recording.mode === 'off') return;
    await mkdir(this.#camDir(camera.id), { recursive: true });
    if (!this.#recovered.has(camera.id)) {
      this.#recovered.add(camera.id);
      await this.#recover(camera.id);
      if (camera.recording.mode === 'events') {
        // Segments of the last minutes before a restart were not decided yet: decide them now, with no marks.
        const now = Date.now();
        this.#pending.set(camera.id, await this.#store.segments(camera.id, now - camera.recording.preRollMs - (this.#o.markLagMs ?? MARK_LAG_MS) - 600_000, now + 1));
      }
    }
    const r = new CameraRecorder(camera, {
      dir: this.#camDir(camera.id), ffmpeg: this.#ffmpeg, ffprobe: this.#ffprobe, segmentSeconds: this.#o.settings.segmentSeconds, log: this.#o.log,
      lastEnd: () => this.#store.totals(camera.id).newest,
      onSegment: (seg, gap) => this.#onSegment(seg, gap),
      hasRoom: () => this.#hasRoom(),
    });
    this.#recorders.set(camera.id, r);
    r.start();
  }

  removeCamera(cameraId: string): Promise<void> {
    return this.#perCamera(cameraId, () => this.#removeCamera(cameraId));
  }

  async #removeCamera(cameraId: string): Promise<void> {
    const r = this.#recorders.get(cameraId);
    this.#recorders.delete(cameraId);
    this.#cameras.delete(cameraId);
    if (r) await r.stop();
  }

  /**
   * Files a crash left behind: segments of the newest run(s) that never reached the index. Each is probed:
   * indexed when it holds video (its end is its last write), deleted when it does not.
   */
  async #recover(cam: string): Promise<void> {
    const dir = this.#camDir(cam);
    const t = this.#store.totals(cam);
    const since = t.lastFile ? runOf(t.lastFile) : 0;
    const names = (await readdir(dir)).sort();
    for (const f of names) if (f.endsWith('.csv') || f.endsWith('.sealing')) await unlink(join(dir, f)).catch(() => undefined);
    const candidates = names.filter((f) => isSegmentFile(f) && runOf(f) >= since);
    if (candidates.length === 0) return;
    const known = new Set((await this.#store.segments(cam, since - 1, Number.MAX_SAFE_INTEGER)).map((s) => s.file));
    let first = true;
    for (const f of candidates) {
      if (known.has(f)) continue;
      const path = join(dir, f);
      // Sealed but not indexed (a crash between the two): probed through a clear copy; in clear: probed as it is.
      const d = (await isSealedFile(path).catch(() => false))
        ? await this.#withPlain(cam, [f], (plain) => probeDuration(this.#ffprobe, join(plain, f))).catch(() => null)
        : await probeDuration(this.#ffprobe, path);
      if (d === null) { await unlink(path).catch(() => undefined); continue; }
      const st = await stat(path);
      const last = this.#store.totals(cam).newest;
      const start = Math.max(Math.round(st.mtimeMs - d * 1000), last ?? 0);
      const end = start + Math.max(1, Math.round(d * 1000));
      const gap: Gap | null = first && last !== null && start > last ? { from: last, to: start, reason: 'off' } : null;
      await this.#onSegment({ cameraId: cam, start, end, file: f, bytes: st.size, ptsStart: 0 }, gap);
      this.#o.log.info('recording: recovered a segment left by a crash', { camera: cam, file: f });
      first = false;
    }
  }

  async #onSegment(closed: Segment, gap: Gap | null): Promise<void> {
    // Sealed before it is indexed: an indexed segment is always sealed (its size in the index is the sealed one).
    const path = join(this.#camDir(closed.cameraId), closed.file);
    const seg = (await isSealedFile(path)) ? { ...closed, bytes: (await stat(path)).size } : { ...closed, bytes: (await sealFile(this.#o.dataKey, path, path, segmentWhere(closed.cameraId, closed.file))).bytes };
    await this.#store.add(seg, gap);
    this.#segmentsWritten++;
    if (this.#cameras.get(seg.cameraId)?.recording.mode === 'events') {
      const p = this.#pending.get(seg.cameraId) ?? [];
      p.push(seg);
      this.#pending.set(seg.cameraId, p);
    }
  }

  mark(cameraId: string, from: number, to: number, _why: string): void {
    const cam = this.#cameras.get(cameraId);
    if (!cam || cam.recording.mode !== 'events' || !isFiniteNumber(from) || !isFiniteNumber(to)) return;
    const a = Math.min(from, to) - cam.recording.preRollMs;
    const b = Math.max(from, to) + cam.recording.postRollMs;
    const list = this.#marks.get(cameraId) ?? [];
    // Merged and sorted: a live track marks again and again; overlapping marks stay one interval.
    let lo = a;
    let hi = b;
    const out: [number, number][] = [];
    for (const m of list) {
      // Within a second of each other they merge too: a track marked frame by frame with no roll stays one interval.
      if (m[1] + 1_000 < lo || m[0] - 1_000 > hi) out.push(m);
      else { lo = Math.min(lo, m[0]); hi = Math.max(hi, m[1]); }
    }
    out.push([lo, hi]);
    out.sort((x, y) => x[0] - y[0]);
    this.#marks.set(cameraId, out);
  }

  /** events mode: segments no mark reaches any more are deleted; those a mark covers stay. */
  async #decideEvents(now: number): Promise<void> {
    for (const [cam, pending] of this.#pending) {
      const cfg = this.#cameras.get(cam)?.recording;
      const lag = (cfg?.preRollMs ?? 0) + (this.#o.markLagMs ?? MARK_LAG_MS);
      const marks = this.#marks.get(cam) ?? [];
      const due = pending.filter((s) => s.end + lag < now);
      if (due.length === 0) continue;
      this.#pending.set(cam, pending.filter((s) => s.end + lag >= now));
      const drop = due.filter((s) => !marks.some(([a, b]) => a < s.end && b > s.start) && !this.#held(cam, s));
      await this.#removeSegments(cam, drop);
      // Marks that can no longer reach an undecided segment are forgotten.
      const keepFrom = Math.min(...(this.#pending.get(cam) ?? []).map((s) => s.start), now - lag - 600_000);
      this.#marks.set(cam, marks.filter(([, b]) => b >= keepFrom));
    }
  }

  #held(cam: string, s: { start: number; end: number }): boolean {
    for (const h of this.#holds.values()) {
      if (h.releasedAt === null && h.cameraIds.includes(cam) && h.from < s.end && h.to > s.start) return true;
    }
    return false;
  }

  async #removeSegments(cam: string, segs: readonly Segment[]): Promise<number> {
    if (segs.length === 0) return 0;
    // Files first: a crash between the two leaves an index entry without a file (skipped), never a file that
    // recovery would index again.
    for (const s of segs) await unlink(join(this.#camDir(cam), s.file)).catch(() => undefined);
    await this.#store.remove(cam, segs);
    return segs.reduce((n, s) => n + s.bytes, 0);
  }

  async #hasRoom(): Promise<boolean> {
    const min = this.#o.settings.minFreeBytes;
    if (min <= 0) return true;
    const free = async (): Promise<number> => { const s = await statfs(this.#o.dir); return Number(s.bavail) * Number(s.bsize); };
    if (await free() >= min) return true;
    await this.enforceRetention();
    return (await free()) >= min;
  }

  enforceRetention(now = Date.now()): Promise<{ removed: number; bytes: number }> {
    this.#retention ??= this.#runRetention(now).finally(() => { this.#retention = null; });
    return this.#retention;
  }

  async #runRetention(now: number): Promise<{ removed: number; bytes: number }> {
    let removed = 0;
    let bytes = 0;
    const cams = new Set([...this.#store.cameras(), ...this.#cameras.keys()]);
    const days = this.#o.settings.retentionDays;
    // A camera no longer set up keeps the default retention (no per-camera quota); without one, the total quota decides.
    const quotaOf = (cam: string): Pick<CameraRecordingConfig, 'retentionDays' | 'quotaBytes'> | undefined =>
      this.#cameras.get(cam)?.recording ?? (days !== undefined ? { retentionDays: days, quotaBytes: 0 } : undefined);
    for (const cam of cams) {
      const cfg = quotaOf(cam);
      if (!cfg) continue;
      const cutoff = now - cfg.retentionDays * 86_400_000;
      let after: number | undefined;
      for (;;) {
        const t = this.#store.totals(cam);
        const overQuota = cfg.quotaBytes > 0 && t.bytes > cfg.quotaBytes;
        if (t.segments === 0) break;
        const batch = await this.#store.oldest(cam, 200, after);
        if (batch.length === 0) break;
        let over = t.bytes - (cfg.quotaBytes > 0 ? cfg.quotaBytes : Number.POSITIVE_INFINITY);
        const drop: Segment[] = [];
        let stop = false;
        for (const s of batch) {
          const old = s.end < cutoff;
          if (!old && !(overQuota && over > 0)) { stop = true; break; }
          if (this.#held(cam, s)) continue;
          drop.push(s);
          over -= s.bytes;
        }
        after = batch[batch.length - 1]!.start;
        const b = await this.#removeSegments(cam, drop);
        removed += drop.length;
        bytes += b;
        if (stop || batch.length < 200) break;
      }
    }
    const total = this.#o.settings.totalQuotaBytes;
    while (total > 0 && this.#store.totalBytes() > total) {
      // Oldest first across cameras: each camera's oldest unheld segments, merged by start.
      const candidates: Segment[] = [];
      for (const cam of this.#store.cameras()) candidates.push(...(await this.#store.oldest(cam, 100)).filter((s) => !this.#held(cam, s)));
      if (candidates.length === 0) break;
      candidates.sort((a, b) => a.start - b.start);
      let over = this.#store.totalBytes() - total;
      const byCam = new Map<string, Segment[]>();
      for (const s of candidates) {
        if (over <= 0) break;
        byCam.set(s.cameraId, [...(byCam.get(s.cameraId) ?? []), s]);
        over -= s.bytes;
      }
      for (const [cam, segs] of byCam) { bytes += await this.#removeSegments(cam, segs); removed += segs.length; }
    }
    if (removed > 0) this.#o.log.info('recording retention', { removed, bytes });
    return { removed, bytes };
  }

  async recordings(cameraId: string, from: number, to: number): Promise<RecordingsAnswer> {
    checkRange(from, to);
    const t = this.#store.totals(cameraId);
    if (!this.#cameras.has(cameraId) && t.segments === 0 && t.since === null) {
      throw new RecordingError('RECORDING_UNKNOWN_CAMERA', `no recordings of camera "${cameraId}"`, { detail: { camera: cameraId } });
    }
    const segs = (await this.#store.segments(cameraId, from, to)).map((s) => (this.#held(cameraId, s) ? { ...s, held: true } : s));
    const known = await this.#store.gaps(cameraId, from, to);
    const gaps: Gap[] = [];
    const hole = (a: number, b: number): void => {
      if (b <= a) return;
      // A hole the recorder left a reason for; else: before anything was recorded (off), after the newest
      // segment (the recorder's state), between (removed by retention, or not kept in events mode).
      const k = known.find((g) => g.from < b && g.to > a);
      let reason: Gap['reason'];
      if (k) reason = k.reason;
      else if ((t.newest === null || a >= t.newest) && this.#recorders.has(cameraId)) reason = this.#tailReason(cameraId);
      else if (t.since === null || b <= t.since) reason = 'off';
      else if (t.newest !== null && a >= t.newest) reason = 'off';
      else reason = this.#cameras.get(cameraId)?.recording.mode === 'events' ? 'not-recorded' : 'removed';
      gaps.push({ from: a, to: b, reason });
    };
    let cursor = from;
    for (const s of segs) {
      hole(cursor, Math.min(s.start, to));
      cursor = Math.max(cursor, s.end);
    }
    hole(cursor, to);
    return { cameraId, from, to, segments: segs, gaps };
  }

  #tailReason(cam: string): Gap['reason'] {
    const r = this.#recorders.get(cam);
    if (!r) return 'off';
    const { state } = r.state;
    if (state === 'disk-full') return 'disk-full';
    if (state === 'reconnecting' || state === 'failed') return 'disconnected';
    return 'not-recorded';
  }

  clip(cameraId: string, from: number, to: number): Promise<Clip> {
    const key = `${cameraId}-${from}-${to}`;
    let p = this.#clips.get(key);
    if (!p) {
      p = this.#clip(cameraId, from, to, key).finally(() => this.#clips.delete(key));
      this.#clips.set(key, p);
    }
    return p;
  }

  async #clip(cameraId: string, from: number, to: number, key: string): Promise<Clip> {
    checkRange(from, to);
    if (to - from > this.#o.settings.maxClipMs) {
      throw new RecordingError('RECORDING_RANGE_TOO_LONG', `a clip is at most recording.maxClipMs = ${this.#o.settings.maxClipMs} ms, asked ${to - from} ms`, { detail: { limit: this.#o.settings.maxClipMs } });
    }
    const answer = await this.recordings(cameraId, from, to);
    const present: Segment[] = [];
    for (const s of answer.segments) if (await stat(join(this.#camDir(cameraId), s.file)).then(() => true, () => false)) present.push(s);
    if (present.length === 0) {
      throw new RecordingError('RECORDING_NOT_RECORDED', `nothing of camera "${cameraId}" was recorded between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}`, { detail: { camera: cameraId, gaps: answer.gaps } });
    }
    const clipsDir = join(this.#o.dir, 'clips');
    await mkdir(clipsDir, { recursive: true, mode: 0o700 });
    const out = join(clipsDir, key);
    // A cached clip is good while the segments it was cut from are the same ones.
    const fingerprint = present.map((s) => `${s.file}:${s.bytes}`).join('|');
    try {
      const meta = JSON.parse(await readFile(`${out}.json`, 'utf8')) as Omit<Clip, 'read'> & { fingerprint: string; sealedBytes: number };
      if (meta.fingerprint === fingerprint && (await stat(meta.path)).size === meta.sealedBytes) {
        const now = new Date();
        await utimes(meta.path, now, now).catch(() => undefined);
        const { fingerprint: _f, sealedBytes: _s, ...clip } = meta;
        return this.#readable(clip, key);
      }
    } catch { /* not cached */ }
    // ffmpeg's concat demuxer (inpoint/outpoint) and the keyframe probes seek in each segment: they read clear
    // copies in a 0700 folder that is removed when the cut ends; the clip is sealed into the cache.
    const cut = await this.#withPlain(cameraId, present.map((s) => s.file), async (plain) => {
      const c = await cutClip({ ffmpeg: this.#ffmpeg, ffprobe: this.#ffprobe, dir: plain, out: join(plain, 'clip'), cameraId, from, to, segments: present, gaps: answer.gaps });
      const sealed = await sealFile(this.#o.dataKey, c.path, `${out}.mp4`, clipWhere(key));
      return { ...c, path: `${out}.mp4`, sealedBytes: sealed.bytes };
    });
    const { sealedBytes, ...clip } = cut;
    await writeFile(`${out}.json`, JSON.stringify({ ...clip, fingerprint, sealedBytes }), { mode: 0o600 });
    return this.#readable(clip, key);
  }

  #readable(clip: Omit<Clip, 'read'>, key: string): Clip {
    const ring = this.#o.dataKey;
    const path = clip.path;
    return {
      ...clip,
      read: (range) => {
        // Opened lazily: the stream errors (DATA_KEY_*) instead of the call throwing.
        const out = new PassThrough();
        openSealedFile(ring, path, clipWhere(key)).then((f) => { f.read(range).on('error', (e) => out.destroy(e)).pipe(out); }, (e: unknown) => out.destroy(e as Error));
        return out;
      },
    };
  }

  /** Runs `fn` with clear copies of a camera's sealed segments in a fresh 0700 folder, removed whatever happens. */
  async #withPlain<T>(cam: string, files: readonly string[], fn: (dir: string) => Promise<T>): Promise<T> {
    const root = join(this.#o.dir, PLAIN_DIR);
    await mkdir(root, { recursive: true, mode: 0o700 });
    const dir = join(root, randomUUID());
    await mkdir(dir, { mode: 0o700 });
    try {
      for (const f of files) {
        const src = join(this.#camDir(cam), f);
        // A segment from before sealing that the background pass has not reached yet is copied as it is.
        if (await isSealedFile(src)) await unsealFile(this.#o.dataKey, src, join(dir, f), segmentWhere(cam, f));
        else await copyFile(src, join(dir, f));
      }
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Background work on the indexed segments, one at a time, until `k!sealed` is written (a restart resumes it):
   * a folder from before sealing has its clear segments sealed in place; after a key rotation each sealed
   * segment's header (its file key) is re-sealed under the current key, the video is not rewritten.
   */
  sealOldSegments(): void {
    this.#sealing = (async () => {
      let n = 0;
      for (const cam of this.#store.cameras()) {
        let after: number | undefined;
        for (;;) {
          if (this.#closed) return;
          const batch = await this.#store.oldest(cam, 200, after);
          if (batch.length === 0) break;
          for (const s of batch) {
            if (this.#closed) return;
            const path = join(this.#camDir(cam), s.file);
            const sealed = await isSealedFile(path).catch(() => null);
            if (sealed === null) continue;
            if (sealed) { if (await resealFileHeader(this.#o.dataKey, path, segmentWhere(cam, s.file))) n++; continue; }
            await sealFile(this.#o.dataKey, path, path, segmentWhere(cam, s.file));
            n++;
          }
          after = batch[batch.length - 1]!.start;
        }
      }
      // Cached clips: their headers too (a clip is cut again when it expires, but until then it holds the old key).
      for (const f of await readdir(join(this.#o.dir, 'clips')).catch(() => [] as string[])) {
        if (this.#closed) return;
        if (!f.endsWith('.mp4') || f.endsWith('.part.mp4')) continue;
        const path = join(this.#o.dir, 'clips', f);
        if (await isSealedFile(path).catch(() => false)) {
          if (await resealFileHeader(this.#o.dataKey, path, clipWhere(f.slice(0, -'.mp4'.length))).catch(() => false)) n++;
        }
      }
      await this.#store.markSealed();
      if (n > 0) this.#o.log.info('recording: sealed (or re-sealed after a key rotation) segments and cached clips under the current data key', { files: n });
    })().catch((err: unknown) => this.#o.log.warn('recording: sealing old segments failed; the next start resumes', { err: err as Error }));
  }

  #sealing: Promise<void> | null = null;

  async resealToCurrent(): Promise<boolean> {
    // A pass started at open (or by the last rotation) finishes first.
    await this.#sealing;
    const meta = await this.#store.verifier();
    const next = checkVerifier(this.#o.dataKey, meta.verifier, 'recordings');
    if (!next) return false;
    // The verifier first (it clears the "all sealed" mark): an interrupted pass runs again at the next open.
    await this.#store.putVerifier(next);
    this.sealOldSegments();
    await this.#sealing;
    return true;
  }

  async #sweepClips(): Promise<void> {
    const dir = join(this.#o.dir, 'clips');
    const names = await readdir(dir).catch(() => [] as string[]);
    const cutoff = Date.now() - this.#o.settings.clipCacheMs;
    for (const f of names) {
      if (!f.endsWith('.mp4') || f.endsWith('.part.mp4')) continue;
      const p = join(dir, f);
      const st = await stat(p).catch(() => null);
      if (st && st.mtimeMs < cutoff) {
        await unlink(p).catch(() => undefined);
        await unlink(p.replace(/\.mp4$/, '.json')).catch(() => undefined);
      }
    }
  }

  async addHold(input: HoldInput): Promise<Hold> {
    const bad = (field: string, why: string): never => { throw new RecordingError('RECORDING_BAD_HOLD', `${field}: ${why}`, { detail: { field } }); };
    if (!Array.isArray(input?.cameraIds) || input.cameraIds.length === 0) bad('cameraIds', 'at least one camera');
    if (input.cameraIds.length > MAX_HOLD_CAMERAS) bad('cameraIds', `at most ${MAX_HOLD_CAMERAS} cameras`);
    if (input.cameraIds.some((c) => typeof c !== 'string' || c.length === 0 || c.length > 64)) bad('cameraIds', 'camera ids are 1-64 characters');
    if (typeof input.reason !== 'string' || input.reason.trim().length === 0 || input.reason.length > 1000) bad('reason', 'a reason of 1-1000 characters');
    const trackIds = input.trackIds ?? [];
    if (!Array.isArray(trackIds) || trackIds.length > 1000 || trackIds.some((t) => typeof t !== 'string')) bad('trackIds', 'at most 1000 track ids');
    checkRange(input.from, input.to);
    const hold: Hold = {
      id: randomUUID(), cameraIds: [...new Set(input.cameraIds)], from: input.from, to: input.to, trackIds: [...trackIds], reason: input.reason.trim(),
      createdBy: input.by, createdAt: Date.now(), releasedBy: null, releasedAt: null,
    };
    await this.#store.putHold(hold);
    this.#holds.set(hold.id, hold);
    return hold;
  }

  async releaseHold(id: string, by: string): Promise<Hold> {
    const h = this.#holds.get(id);
    if (!h) throw new RecordingError('RECORDING_HOLD_NOT_FOUND', `no legal hold "${id}"`, { detail: { id } });
    if (h.releasedAt !== null) return h;
    const released: Hold = { ...h, releasedBy: by, releasedAt: Date.now() };
    await this.#store.putHold(released);
    this.#holds.set(id, released);
    return released;
  }

  async holds(opts: { readonly active?: boolean } = {}): Promise<Hold[]> {
    const all = [...this.#holds.values()].sort((a, b) => a.createdAt - b.createdAt);
    return opts.active === undefined ? all : all.filter((h) => (h.releasedAt === null) === opts.active);
  }

  health(cameraId: string): RecordingHealth | null {
    const cam = this.#cameras.get(cameraId);
    const t = this.#store.totals(cameraId);
    if (!cam && t.since === null) return null;
    const mode: RecordingMode = cam?.recording.mode ?? 'off';
    const s = this.#recorders.get(cameraId)?.state ?? { state: 'off' as const, code: null, reason: null };
    return { cameraId, mode, state: s.state, code: s.code, reason: s.reason, segments: t.segments, bytes: t.bytes, oldest: t.oldest, newest: t.newest };
  }

  healthAll(): RecordingHealth[] {
    const ids = new Set([...this.#cameras.keys(), ...this.#store.cameras()]);
    return [...ids].sort().map((id) => this.health(id)).filter((h): h is RecordingHealth => h !== null);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    await Promise.allSettled([...this.#cameraChains.values()]);
    await Promise.all([...this.#recorders.values()].map((r) => r.stop()));
    this.#recorders.clear();
    await Promise.allSettled([...this.#clips.values()]);
    await this.#retention?.catch(() => undefined);
    await this.#sealing;
    await this.#store.close();
  }
}

export type { RecordingServiceImpl };

/** The service with what benchmarks read besides the contract. */
export interface RecordingServiceExt extends RecordingService {
  pids(): number[];
  clockSkew(): { maxMs: number; samples: number };
  readonly segmentsWritten: number;
}

/** Opens the recordings folder and its index; cameras start recording with `setCamera`. */
export async function openRecordings(o: OpenRecordingsOptions): Promise<RecordingServiceExt> {
  const s = o.settings;
  if (!Number.isInteger(s.segmentSeconds) || s.segmentSeconds < 1) throw new RangeError('settings.segmentSeconds must be a positive integer');
  if (!(s.maxClipMs > 0)) throw new RangeError('settings.maxClipMs must be positive');
  if (!(s.retentionIntervalMs > 0) || !(s.clipCacheMs > 0)) throw new RangeError('settings.retentionIntervalMs and settings.clipCacheMs must be positive');
  if (!o.dataKey || typeof o.dataKey.seal !== 'function') throw new TypeError('openRecordings: dataKey (a DataKeyring) is required: segments are sealed at rest');
  const ffmpeg = await requireFfmpeg();
  await mkdir(o.dir, { recursive: true });
  // Clear copies a crash left mid-cut go first, and clips cached in clear before sealing (they are cut again).
  await rm(join(o.dir, PLAIN_DIR), { recursive: true, force: true });
  for (const f of await readdir(join(o.dir, 'clips')).catch(() => [] as string[])) {
    const p = join(o.dir, 'clips', f);
    if (f.endsWith('.mp4') && !(await isSealedFile(p).catch(() => true))) {
      await unlink(p).catch(() => undefined);
      await unlink(p.replace(/\.mp4$/, '.json')).catch(() => undefined);
    }
  }
  const store = await SegmentStore.open(join(o.dir, 'index'));
  try {
    // A ring that cannot open the index's verifier refuses here (DATA_KEY_WRONG / DATA_KEY_UNKNOWN_ID), before a
    // recorder starts or a segment is read or sealed with the wrong key.
    const meta = await store.verifier();
    const next = checkVerifier(o.dataKey, meta.verifier, 'recordings');
    if (next) await store.putVerifier(next);
    const service = new RecordingServiceImpl(o, store, ffmpeg, await store.holds());
    // Segments from before sealing are sealed, and after a rotation re-sealed, in the background (clips read them meanwhile).
    if (!meta.sealed || next) service.sealOldSegments();
    return service;
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * Sealed files per data key id in a recordings folder (segments, cached clips), and its verifier's key id when
 * the folder's index is not held by a running core (null then): for `cvcore keys status` and `retire`. Reads
 * headers, decrypts nothing.
 */
export async function recordingDataKeyUsage(dir: string): Promise<{ files: Record<string, number>; verifier: string | null | 'held' }> {
  const files = await sealedFilesUsage(dir, ['index', PLAIN_DIR]);
  let verifier: string | null | 'held' = null;
  if (!existsSync(join(dir, 'index', 'CURRENT'))) return { files, verifier: null };
  try {
    const v = await SegmentStore.readVerifier(join(dir, 'index'));
    verifier = v ? sealedKeyId(v) : null;
  } catch {
    verifier = 'held';
  }
  return { files, verifier };
}
