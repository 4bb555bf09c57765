/**
 * Ingest: cameras in, frames out. Each camera of the pool runs its own ffmpeg decoder (fluent-ffmpeg over
 * Debian's ffmpeg) at the analysis rate and size, restarts with backoff and stall detection, and pushes frames
 * (RGB24 in SharedArrayBuffers), marked by a per-camera motion gate, into a bounded drop-oldest queue; a camera
 * can also be watched live (MPEG-1 over WebSocket). Gives: `Frame`s / `GatedFrame`s, `CameraHealth`,
 * `IngestEvent`s. See README.md for fields, states and codes.
 */
export { CameraPool, type CameraView, type RemovalReason } from './pool.js';
export { CameraRunner, decoderOptionsFor, type IngestSettings } from './camera.js';
export { MotionGate, shouldAnalyse, motionCrop, MOTION_WIDTH, MIN_CROP_SIDE, type MotionVerdict, type GatedFrame } from './motion.js';
export { FrameQueue } from './frame-queue.js';
export { FfmpegDecoder, FrameAssembler, decoderArgs, type DecoderOptions } from './decoder.js';
export { CAMERA_STATES, classifyFfmpegError, type CameraState, type CameraHealth, type IngestEvent } from './health.js';
export { LiveViewHub, LIVE_CLOSE, liveArgs, type LiveViewer, type LiveViewOptions, type LiveSource } from './live-view.js';
export { SimulatedCameraPool, type SimCamera, type SimSource } from './sim-pool.js';
