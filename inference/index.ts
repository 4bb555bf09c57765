/**
 * Inference: frames in, detections out. A piscina pool of worker threads, each with one tfjs backend (wasm by
 * default) running the centernet detector from models/; a cross-stream batcher feeding it from the cameras'
 * queues. Gives: `DetectionResult`s with boxes in the source frame's pixels.
 */
export { InferenceEngine, type EngineOptions, type BatchOutput } from './engine.js';
export { Batcher, type BatcherOptions, type BatcherStats, type Deliver } from './batcher.js';
export { availableBackends, assertBackendAvailable, getBackend, type BackendName, type InferenceBackend } from './backends.js';
export { decodeCenternet, nms, iou, type DecodeOptions } from './detector.js';
export { DetectorRunner, type FrameInput } from './runner.js';
