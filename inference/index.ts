/**
 * Inference: frames in, detections out; best shots in, attributes out. A piscina pool of worker threads, each
 * with one tfjs backend (wasm by default, `inference.backend` in the config) running the centernet detector
 * from models/ on real batches, and the face models (blazeface, faceres) for structuring; a cross-stream
 * batcher feeds it from the cameras' queues. Gives: `DetectionResult`s with boxes in the source frame's
 * pixels, and per-track attributes (colour, vehicle type, gender, age, age band, face quality) and a face
 * embedding. See README.md.
 */
export { InferenceEngine, type EngineOptions, type BatchOutput, type Structurer, type GpuStatus } from './engine.js';
export { StructureQueue, DEFAULT_STRUCTURE_QUEUE, type StructureQueueStats } from './structure-queue.js';
export { GpuScheduler, DEFAULT_GPU_STRUCTURE_BATCH, type GpuSchedulerStats } from './gpu-scheduler.js';
export { Batcher, type BatcherOptions, type BatcherStats, type Deliver } from './batcher.js';
export { availableBackends, assertBackendAvailable, getBackend, type BackendName, type InferenceBackend } from './backends.js';
export { decodeCenternet, nms, iou, type DecodeOptions } from './detector.js';
export { DetectorRunner, createDetector, type Detector, type FrameInput } from './runner.js';
export { OnnxDetectorRunner, centernetHead, resizeBilinearRgb } from './onnx-runner.js';
export { dominantColour, VEHICLE_COLOURS, type VehicleColour } from './colour.js';
export { PlateReader, type PlateResult } from './plate.js';
export { cutVehicleCrop } from './plate-image.js';
export { PLATE_CLASSES, type VehicleCrop } from './structure.js';
export { clothingColours, clothingVotes, KEYPOINT_MIN_HEIGHT, type BodyKeypoint, type ClothingColours, type PartColour, type RgbFrame } from './clothing.js';
export { PoseModel, type Keypoint } from './pose.js';
export { ageBand, AGE_BANDS, mayHoldFace, type AgeBand, type StructureInput, type StructureAttributes, type StructureResult, type FaceEmbedding, type FaceTaskInput, type LiveFace } from './structure.js';
export { embedFaceFromImage, embedFacesFromImage, closeFaceEmbedder, setFaceEmbedderBackend } from './embed.js';
