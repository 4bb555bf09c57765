/**
 * The watch-list stage: lists of face and plate entries per department, kept in their own RocksDB with in-memory
 * matching for the live path, and the alarm log behind the API. See README.md.
 */
export type * from './types.js';
export { ALARM_STATES } from './types.js';
export { Matcher, oneEditApart, SIMD_MIN_ROWS } from './matcher.js';
export { openWatchlists, watchlistDataKeyUsage, WatchlistStore, whyNotPlate, DEFAULT_FACE_THRESHOLD, DEFAULT_ALARM_RETENTION_MS, MAX_PHOTOS, PHOTO_MAX_SIDE, type WatchlistStoreOptions } from './store.js';
export { AlarmRules, alarmId, collapse, FREQUENCY_SEARCH_K, PLATE_MIN_CONFIDENCE, type RulesCamera, type RulesTrack, type ZonePresence, type AlarmRulesOptions } from './live.js';
