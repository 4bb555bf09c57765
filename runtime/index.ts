/**
 * Runtime: wires the stages into the running core (pipeline, stack) and the embedded demo. Used by the CLI,
 * the integration tests and the benchmarks.
 */
export { Pipeline, MIN_RECORD_HITS, type PipelineEvent, type PipelineOptions } from './pipeline.js';
export { PlateCrops, PLATE_CROPS_PER_TRACK, PLATE_CROP_MARGIN, PLATE_CROP_MAX_PIXELS, PLATE_CROP_SKIP_TOP, PLATE_CROP_BYTES_PER_CAMERA } from './plate-crops.js';
export { startStack, type Stack, type StackOptions } from './stack.js';
export { demoConfig, startDemoCameras, DEMO_CAMERA_PREFIX, DEMO_FACE_CAMERA, DEMO_PLATE_CAMERA, DEMO_SIZE, DEMO_FPS, DEMO_THRESHOLD, DEMO_TOKENS, type DemoOptions } from './demo.js';
export { analyzeVideo, ANALYZE_BATCH, type AnalyzeOptions, type AnalyzeResult } from './analyze.js';
export { startClusterNode, type ClusterNode, type ClusterNodeOptions } from './cluster-node.js';
export { startLocalCluster, type LocalCluster, type LocalClusterOptions, type LocalNode, type LocalNodeSpec } from './cluster-local.js';
