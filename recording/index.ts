/**
 * Recording: each camera's own stream recorded with stream copy into MPEG-TS segments (an ffmpeg per camera,
 * a second RTSP connection beside the decoder), a segment index in RocksDB, retention by days and quotas, legal
 * holds, keyframe-cut MP4 clips and per-camera health. Takes: cameras (RecordedCamera) and moments of interest
 * (mark). Gives: segments, gaps, clips. See recording/README.md.
 */
export { openRecordings, recordingDataKeyUsage, checkRange, segmentWhere, MARK_LAG_MS, MAX_HOLD_CAMERAS, type OpenRecordingsOptions, type RecordingServiceExt, type RecordingSettings } from './service.js';
export { STALL_MS } from './recorder.js';
export { sha256File } from './clip.js';
export type {
  CameraRecordingConfig, Clip, Gap, Hold, HoldInput, RecordedCamera, RecordingHealth, RecordingMode, RecordingsAnswer, RecordingService, RecordingState, Segment,
} from './types.js';
