/**
 * Ingest: cameras in, frames out. Each camera of the pool runs its own ffmpeg decoder (fluent-ffmpeg over
 * Debian's ffmpeg) at the analysis rate and size, restarts with backoff and stall detection, and pushes frames
 * (RGB24 in SharedArrayBuffers) into a bounded drop-oldest queue. Gives: `Frame`s, `CameraHealth`, `IngestEvent`s.
 */
export { CameraPool, type CameraView } from './pool.js';
export { CameraRunner, decoderOptionsFor, type IngestSettings } from './camera.js';
export { MotionGate, shouldAnalyse, MOTION_WIDTH, type MotionVerdict, type GatedFrame } from './motion.js';
export { FrameQueue } from './frame-queue.js';
export { FfmpegDecoder, FrameAssembler, decoderArgs, type DecoderOptions } from './decoder.js';
export { CAMERA_STATES, classifyFfmpegError, type CameraState, type CameraHealth, type IngestEvent } from './health.js';
export { LiveViewHub, LIVE_CLOSE, liveArgs, type LiveViewer, type LiveViewOptions, type LiveSource } from './live-view.js';
export { SimulatedCameraPool, type SimCamera, type SimSource } from './sim-pool.js';
