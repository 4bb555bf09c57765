/** Every tracker parameter with its default. One place, so tuning and documentation cannot drift apart. */
export interface TrackerOptions {
  /** Detections at or above this score take part in the first association stage. */
  readonly highScore: number;
  /** Detections between this and `highScore` are only used to keep existing tracks alive (the second stage). */
  readonly lowScore: number;
  /** A detection left unmatched needs at least this score to start a track (fewer tracks born from clutter). */
  readonly newTrackScore: number;
  /** Least IoU for a pair in the first stage (high-score detections against confirmed and lost tracks). */
  readonly highIou: number;
  /** Least IoU for a pair in the second stage (low-score detections against still unmatched confirmed tracks). */
  readonly lowIou: number;
  /** Least IoU for a tentative track to take a left-over high-score detection. */
  readonly tentativeIou: number;
  /** Weight the first-stage IoU by the detection score, so a confident box wins over a doubtful overlapping one. */
  readonly fuseScore: boolean;
  /** Associated detections a tentative track needs before it is confirmed (and reported). */
  readonly minHits: number;
  /**
   * Time (ms) a track may go without a detection before it is removed; lost tracks can be re-found meanwhile.
   * In time, not frames, so the same setting holds at 25 fps and at 3 fps.
   */
  readonly maxLostMs: number;
  /**
   * Buffered IoU: how far both boxes are widened before their overlap is measured, as a fraction of each box's
   * size on every side per second since the track was last seen. Between two frames 0.3 s apart a walking
   * person's boxes overlap little; widening by the time that passed (C-BIoU's idea, scaled by the gap) lets
   * them meet without loosening association at full frame rate, where the gap is 40 ms.
   */
  readonly bufferPerSecond: number;
  /** The widest buffer, whatever the gap (a fraction of the box size per side). */
  readonly maxBuffer: number;
  /**
   * Where low-rate association starts (ms between frames). Above it a gap widens the boxes (by `bufferPerSecond`
   * for the time past it) and a new track's velocity is seeded from its first two detections. Below it, at
   * full frame rate, plain IoU already associates well, widening only adds wrong candidates in a crowd, and a
   * one-frame displacement is mostly detector jitter.
   */
  readonly lowRateMs: number;
  /** Tracks born in the first frame start confirmed: a camera's first frame has no history to wait for. */
  readonly confirmFirstFrame: boolean;
  /** Kalman position noise, as a fraction of box height per frame. */
  readonly positionNoise: number;
  /** Kalman velocity noise, as a fraction of box height per frame. */
  readonly velocityNoise: number;
}

export const DEFAULT_HIGH_SCORE = 0.7;
export const DEFAULT_LOW_SCORE = 0.1;
export const DEFAULT_NEW_TRACK_SCORE = 0.8;
export const DEFAULT_HIGH_IOU = 0.2;
export const DEFAULT_LOW_IOU = 0.5;
export const DEFAULT_TENTATIVE_IOU = 0.5;
export const DEFAULT_FUSE_SCORE = true;
export const DEFAULT_MIN_HITS = 2;
export const DEFAULT_MAX_LOST_MS = 2_400;
export const DEFAULT_BUFFER_PER_SECOND = 3;
export const DEFAULT_MAX_BUFFER = 0.5;
export const DEFAULT_LOW_RATE_MS = 100;
export const DEFAULT_CONFIRM_FIRST_FRAME = true;
export const DEFAULT_POSITION_NOISE = 1 / 20;
export const DEFAULT_VELOCITY_NOISE = 1 / 160;

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = Object.freeze({
  highScore: DEFAULT_HIGH_SCORE,
  lowScore: DEFAULT_LOW_SCORE,
  newTrackScore: DEFAULT_NEW_TRACK_SCORE,
  highIou: DEFAULT_HIGH_IOU,
  lowIou: DEFAULT_LOW_IOU,
  tentativeIou: DEFAULT_TENTATIVE_IOU,
  fuseScore: DEFAULT_FUSE_SCORE,
  minHits: DEFAULT_MIN_HITS,
  maxLostMs: DEFAULT_MAX_LOST_MS,
  bufferPerSecond: DEFAULT_BUFFER_PER_SECOND,
  maxBuffer: DEFAULT_MAX_BUFFER,
  lowRateMs: DEFAULT_LOW_RATE_MS,
  confirmFirstFrame: DEFAULT_CONFIRM_FIRST_FRAME,
  positionNoise: DEFAULT_POSITION_NOISE,
  velocityNoise: DEFAULT_VELOCITY_NOISE,
});

const UNIT_KEYS = ['highScore', 'lowScore', 'newTrackScore', 'highIou', 'lowIou', 'tentativeIou'] as const;

/** Merge and check options; a wrong option is a programmer mistake, so RangeError/TypeError naming it. */
export function resolveTrackerOptions(partial: Partial<TrackerOptions> = {}): TrackerOptions {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_TRACKER_OPTIONS)) throw new TypeError(`options.${key} is not a tracker option`);
  }
  const o: TrackerOptions = { ...DEFAULT_TRACKER_OPTIONS, ...partial };
  for (const key of UNIT_KEYS) {
    const v = o[key];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`options.${key} must be a number in [0, 1]`);
  }
  if (o.lowScore > o.highScore) throw new RangeError('options.lowScore must not exceed options.highScore');
  if (!Number.isInteger(o.minHits) || o.minHits < 1) throw new RangeError('options.minHits must be a positive integer');
  if (typeof o.maxLostMs !== 'number' || !(o.maxLostMs >= 0) || !Number.isFinite(o.maxLostMs)) {
    throw new RangeError('options.maxLostMs must be a non-negative number of milliseconds');
  }
  for (const key of ['bufferPerSecond', 'maxBuffer', 'lowRateMs'] as const) {
    if (typeof o[key] !== 'number' || !(o[key] >= 0) || !Number.isFinite(o[key])) throw new RangeError(`options.${key} must be a non-negative number`);
  }
  for (const key of ['positionNoise', 'velocityNoise'] as const) {
    if (typeof o[key] !== 'number' || !(o[key] > 0)) throw new RangeError(`options.${key} must be a positive number`);
  }
  if (typeof o.fuseScore !== 'boolean') throw new TypeError('options.fuseScore must be a boolean');
  if (typeof o.confirmFirstFrame !== 'boolean') throw new TypeError('options.confirmFirstFrame must be a boolean');
  return Object.freeze(o);
}
