/**
 * Tracking stage: takes each camera's per-frame detections, gives track updates (id, box, velocity, age, state),
 * track ends carrying the best shot, zone counts, line crossings and crowd alert events. Also the MOTChallenge
 * tools (parse, track, score) the CLI and the tests use. See README.md for parameters and scores.
 */
export type { Tracker, TrackerStep, ReportedBox } from './bytetrack.js';
export { createTracker } from './bytetrack.js';
export { TrajectorySampler, TRAJECTORY_INTERVAL_MS, TRAJECTORY_MAX_POINTS } from './trajectory.js';
export type { TrackerOptions } from './options.js';
export { DEFAULT_TRACKER_OPTIONS } from './options.js';
export type { MotRow } from './mot-io.js';
export { parseMot, formatMot } from './mot-io.js';
export type { MotMetrics } from './mot-metrics.js';
export { evaluateMot, combineMot, formatMotTable, MOT_COLUMNS } from './mot-metrics.js';
export type { MotTrackOptions } from './mot-track.js';
export { trackMot, subsampleMot, DEFAULT_MOT_FPS } from './mot-track.js';
export type { ZoneSpec, LineSpec, LineCrossing, ZoneAnalyzerOptions } from './zones.js';
export { validateZone, validateLine, ZoneAnalyzer, DEFAULT_ZONE_HOLD_MS } from './zones.js';
export type { CrowdRuleOptions, OpenIncident } from './crowd-rule.js';
export { DEFAULT_CROWD_RULE, validateCrowdRule, CrowdRule } from './crowd-rule.js';
// The tracker's building blocks, public so the micro-benchmarks time them on their own.
export { KalmanBoxFilter, DEFAULT_KALMAN_NOISE, type KalmanNoise } from './kalman.js';
export { solveDense, type Pair } from './assignment.js';
