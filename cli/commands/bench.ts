import type { Command } from '../command.js';
import { reportError } from '../run.js';

/** Each benchmark lives in bench/<kind>.ts and is loaded only when asked for. */
const KINDS: Readonly<Record<string, { summary: string; load(): Promise<(args: string[]) => Promise<number>> }>> = {
  'tracker-rates': { summary: 'tracker MOTA/IDF1/recall on each MOT sequence at full rate and at 10, 5 and 3 fps', load: async () => (await import('../../bench/tracker-rates.js')).benchTrackerRates },
  tracker: { summary: 'tracker updates per second at 50, 200 and 1000 objects per frame', load: async () => (await import('../../bench/tracker.js')).benchTracker },
  e2e: { summary: 'N simulated cameras through the whole core: per-stage rates, latencies, CPU, RSS, ratios to bare ffmpeg and bare model', load: async () => (await import('../../bench/e2e.js')).benchE2e },
  micro: { summary: 'benchmark.js micro-benchmarks of the per-frame hot functions (ops/s, relative margin of error)', load: async () => (await import('../../bench/micro.js')).benchMicro },
  detectors: { summary: 'every detector and input size in the manifest: CPU/frame, pool frames/s, recall vs centernet-512, and the frontier of cameras against recall (--capacity: measured)', load: async () => (await import('../../bench/detectors.js')).benchDetectors },
  'input-size': { summary: 'experiment: centernet at smaller inputs (speed, person recall vs 512 on vtest.avi)', load: async () => (await import('../../bench/input-size.js')).benchInputSize },
  summary: { summary: 'the README Performance section (DIR/PERFORMANCE.md) from the JSON the other kinds wrote to --in DIR', load: async () => (await import('../../bench/summary.js')).benchSummary },
  decode: { summary: 'N simulated streams through ingest vs bare ffmpeg with the same filters (ratio_vs_ffmpeg, CPU per stream)', load: async () => (await import('../../bench/decode.js')).benchDecode },
  inference: { summary: 'the detector through the batcher and pool vs a bare tfjs loop (ratio_vs_bare, scaling_2_workers, batch sweep; --backend)', load: async () => (await import('../../bench/inference.js')).benchInference },
  alerts: { summary: 'alerts through the durable outbox vs bare JetStream publishes; latency threshold-crossing to subscriber', load: async () => (await import('../../bench/alerts.js')).benchAlerts },
  index: { summary: 'search index: ingest rate vs raw RocksDB puts, attribute-query and face kNN latency, recall@10 (--records N)', load: async () => (await import('../../bench/index.js')).benchIndex },
  motion: { summary: 'the motion gate on vtest.avi: detector calls saved and person recall kept; --regions: detection on motion regions', load: async () => (await import('../../bench/motion.js')).benchMotion },
  cluster: { summary: 'cluster mode: lease control plane at city scale, scatter-gather search vs one index, SIGKILL failover of real nodes (--part control|search|failover)', load: async () => (await import('../../bench/cluster.js')).benchCluster },
  plates: { summary: 'licence plates on the synth set: per-track reading (views voted) exact accuracy by plate width, char accuracy, unread and wrong-but-confident rates, CPU per track', load: async () => (await import('../../bench/plates.js')).benchPlates },
  clothing: { summary: 'upper/lower clothing colour on the hand-labelled person crops: accuracy, abstentions, confusions, CPU per person', load: async () => (await import('../../bench/clothing.js')).benchClothing },
  watchlist: { summary: 'watch-list matching p50/p99 ms at 1,000 / 10,000 / 100,000 face entries, and the alarm latency from a face camera to a JetStream subscriber (--calibrate: the similarities behind the default threshold)', load: async () => (await import('../../bench/watchlist.js')).benchWatchlist },
  recording: { summary: 'recording N simulated cameras: CPU vs bare ffmpeg -c copy, second connection vs two outputs, bytes per camera-hour, clip first byte p50/p99 through the API', load: async () => (await import('../../bench/recording.js')).benchRecording },
  audit: { summary: 'audit trail: synced appends/s one at a time and concurrently, and the time verify takes to walk the chain (--entries N --concurrency C)', load: async () => (await import('../../bench/audit.js')).benchAudit },
  'gpu-driver': { summary: 'is there a Vulkan driver Dawn can use, which adapter (and, on an NVIDIA host, which piece is missing); exit 1 when none (--allow-software: accept lavapipe)', load: async () => (await import('../../bench/gpu-driver.js')).benchGpuDriver },
  'gpu-upload': { summary: 'the CPU side of sending a batch of frames to the GPU: bytes packed four to a word (the runner) against widening every byte to int32 (the former path), CPU ms and MB per batch (--frames, --size, --runs)', load: async () => (await import('../../bench/gpu-upload.js')).benchGpuUpload },
  webgpu: { summary: 'the webgpu backend alone: the adapter, the batches its limits allow, frames/s at batch 1, 8, 32, 64 and the ratio to wasm on this CPU (--batches, --runs, --wasm-frames, --input-size)', load: async () => (await import('../../bench/webgpu.js')).benchWebgpuCli },
  capacity: { summary: 'largest number of cameras sustained at --fps analysed frames per second each (sweep over stream counts)', load: async () => (await import('../../bench/capacity.js')).benchCapacity },
};

export const benchCommand: Command = {
  name: 'bench',
  summary: 'benchmarks, as ratios against the bare tools measured in the same run',
  get usage(): string {
    return `cvcore bench <kind> [options] [--json]\n${Object.entries(KINDS).map(([k, v]) => `  ${k.padEnd(11)} ${v.summary}`).join('\n')}\n` +
      'e2e:      --streams N --seconds S (600: soak) [--fps F] [common]\n' +
      'capacity: --fps F --max-streams M [--min-streams N] --seconds S [--all: go on past the first failure] [common]\n' +
      'common:   --backend wasm|onnx|tfjs-node|tfjs-node-gpu|webgpu --workers W --batch B --max-delay-ms MS --size WxH\n' +
      '          --input-size N --detect-every K --queue-size Q --motion on|off --threshold T --json --out DIR\n' +
      'detectors: [--backend B] [--frames N] [--seconds S] [--capacity [--max-streams M]]\n' +
      'webgpu:   [--batches 1,8,32,64] [--runs R] [--wasm-frames N] [--input-size S] [--json]    gpu-driver: [--allow-software] [--json]\n' +
      '          (the one-shot GPU check: bash bench/gpu-check.sh [--quick] [--out DIR])\n' +
      'tracker-rates: [--data DIR] [--markdown]    motion: [--frames N] [--sweep A,B] [--regions]\n' +
      'watchlist: [--sizes 1000,10000,100000] [--queries 1000] [--appearances 12] [--calibrate] [--no-latency] [--json]\n' +
      'recording: [--cameras 4] [--seconds 60] [--clips 30] [--segment-seconds 10] [--json]\n' +
      'plates:   [--count 300] [--seed 17] [--views 4] [--verbose] [--json]\n' +
      'cluster:  [--part control|search|failover] [--cameras 2000] [--keepers 5] [--capacity 600] [--renew-ms 2000] [--ttl-ms 10000]\n' +
      '          [--steady-s 10] [--records 20000] [--queries 200] [--kills 3] [--threshold 2] [--keep] [--json]';
  },
  async run(args) {
    const [kind, ...rest] = args;
    const entry = kind ? KINDS[kind] : undefined;
    if (!entry) {
      process.stderr.write(`usage: ${this.usage}\n`);
      return 2;
    }
    try {
      return await (await entry.load())(rest);
    } catch (err) {
      return reportError(err);
    }
  },
};
