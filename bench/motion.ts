/**
 * What the motion gate saves and what it costs, on real footage: vtest.avi decoded at 5 fps (640x480), every
 * frame through the gate AND through the real detector (centernet on tfjs), so the same run says
 *   - detector calls saved: frames the gate skipped / all frames;
 *   - frame recall: of the frames where the detector finds at least one person, the share the gate let through;
 *   - detections on skipped frames: the share of all person detections that fell on frames the gate skipped
 *     (what gating would lose if the tracker did not carry tracks across skipped frames).
 * `cvcore bench motion [--frames N] [--fps F] [--threshold T] [--force-every K] [--min-area A] [--json]`
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { parseCamera } from '../config/index.js';

/** The bench reads the sample file itself: a local file, as a config file may allow. */
const LOCAL_FILES = { schemes: ['rtsp'], allowFiles: true } as const;
import { mediaPath } from '../common/paths.js';
import type { Frame } from '../common/messages.js';
import { FrameAssembler, MotionGate, decoderArgs, motionCrop } from '../ingest/index.js';
import { InferenceEngine, createDetector } from '../inference/index.js';
import { matched } from './input-size.js';

export interface MotionBenchResult {
  readonly source: string;
  readonly frames: number;
  readonly fps: number;
  readonly analysed: number;
  readonly forced: number;
  readonly detectorCallsSavedPct: number;
  readonly framesWithPerson: number;
  readonly personFramesLetThroughPct: number;
  readonly personDetections: number;
  readonly personDetectionsOnSkippedPct: number;
  readonly minPersonScore: number;
  readonly gateMsPerFrame: number;
  readonly motion: { readonly threshold: number; readonly minArea: number; readonly alpha: number; readonly forceEvery: number };
  /**
   * Detection on motion regions (`--regions`, onnx backend): of the analysed frames, the share that got a crop;
   * the people found on the whole frame that the crop also found (IoU >= 0.5); the detector time saved.
   */
  readonly regions: { readonly croppedPct: number; readonly personsKeptPct: number; readonly detectorMsSavedPct: number; readonly wholeMsPerFrame: number; readonly cropMsPerFrame: number } | null;
}

const WIDTH = 640;
const HEIGHT = 480;
/** Person detections counted from this score: the tracker's threshold for starting a track. */
const PERSON_SCORE = 0.45;

/** Decodes a file to frames with backpressure (ffmpeg waits while the detector catches up). */
async function* decodeFile(file: string, fps: number, max: number): AsyncGenerator<Frame> {
  const { input, output } = decoderArgs({ url: file, fps, width: WIDTH, height: HEIGHT, transport: 'tcp', realtime: false });
  const proc = spawn('ffmpeg', [...input, '-i', file, ...output, '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const asm = new FrameAssembler(WIDTH * HEIGHT * 3);
  const ready: Uint8Array[] = [];
  let done = false;
  let wake: (() => void) | null = null;
  proc.stdout.on('data', (chunk: Buffer) => {
    asm.push(chunk, (d) => ready.push(d));
    if (ready.length > 4) proc.stdout.pause();
    wake?.();
  });
  proc.stdout.on('end', () => { done = true; wake?.(); });
  let seq = 0;
  try {
    while (seq < max) {
      const d = ready.shift();
      if (d) {
        if (ready.length <= 2) proc.stdout.resume();
        yield { cameraId: 'vtest', seq: seq++, pts: seq / fps, capturedAt: Date.now(), width: WIDTH, height: HEIGHT, data: d };
        continue;
      }
      if (done) return;
      await new Promise<void>((r) => { wake = r; });
      wake = null;
    }
  } finally {
    proc.kill('SIGKILL');
  }
}

interface GateTally {
  gate: MotionGate; analysed: number; forced: number; withPersonThrough: number; personsSkipped: number; ms: number;
  cropped: number; personsWhole: number; personsKept: number; wholeMs: number; detectMs: number;
}

/**
 * One decode and one detector pass; each motion setting in `variants` gets its own gate over the same frames
 * (the detector dominates the cost, so a sweep costs little more than one setting).
 */
export async function runMotionBench(o: { frames: number; fps: number; variants: readonly Record<string, unknown>[]; regions?: boolean }): Promise<MotionBenchResult[]> {
  const tallies: GateTally[] = o.variants.map((m) => ({
    gate: new MotionGate(parseCamera({ id: 'vtest', url: 'vtest.avi', width: WIDTH, height: HEIGHT, fps: o.fps, motion: m }, 'camera', LOCAL_FILES).motion, WIDTH, HEIGHT),
    analysed: 0, forced: 0, withPersonThrough: 0, personsSkipped: 0, ms: 0, cropped: 0, personsWhole: 0, personsKept: 0, wholeMs: 0, detectMs: 0,
  }));
  const engine = await InferenceEngine.start({ backend: 'wasm', model: 'centernet', workers: 1, minScore: 0.3, iouThreshold: 0.5, classes: ['person'] });
  // In-process, so the whole frame and its crop are timed on the same thread one after the other.
  const onnx = o.regions ? await createDetector('onnx', 'centernet', { minScore: 0.3, iouThreshold: 0.5, classes: ['person'] }) : null;
  let frames = 0, withPerson = 0, persons = 0;
  try {
    for await (const f of decodeFile(mediaPath('vtest.avi'), o.fps, o.frames)) {
      frames++;
      const verdicts = tallies.map((g) => {
        const t0 = performance.now();
        const v = g.gate.check(f);
        g.ms += performance.now() - t0;
        if (v.analyse) g.analysed++;
        if (v.forced) g.forced++;
        return v;
      });
      const out = await engine.run([f]);
      const n = (out.detections[0] ?? []).filter((d) => d.cls === 'person' && d.score >= PERSON_SCORE).length;
      persons += n;
      if (n > 0) withPerson++;
      verdicts.forEach((v, i) => {
        const g = tallies[i]!;
        if (!v.analyse) g.personsSkipped += n;
        if (n > 0 && v.analyse) g.withPersonThrough++;
      });
      if (onnx) {
        for (let i = 0; i < tallies.length; i++) {
          const g = tallies[i]!;
          const v = verdicts[i]!;
          if (!v.analyse) continue;
          let t0 = performance.now();
          const whole = (await onnx.detect(f)).filter((d) => d.score >= PERSON_SCORE);
          const wholeMs = performance.now() - t0;
          g.wholeMs += wholeMs;
          g.personsWhole += whole.length;
          const m = parseCamera({ id: 'vtest', url: 'vtest.avi', motion: o.variants[i] }, 'camera', LOCAL_FILES).motion;
          // As the pipeline does it: every forceEvery-th frame is detected whole.
          const crop = m.forceEvery > 0 && f.seq % m.forceEvery === 0 ? null : motionCrop(v, WIDTH, HEIGHT, m.regionMargin, m.regionMaxArea);
          if (!crop) { g.detectMs += wholeMs; g.personsKept += whole.length; continue; }
          g.cropped++;
          t0 = performance.now();
          const got = (await onnx.detect({ data: f.data, width: WIDTH, height: HEIGHT, crop })).filter((d) => d.score >= PERSON_SCORE);
          g.detectMs += performance.now() - t0;
          g.personsKept += matched(whole, got);
        }
      }
    }
  } finally {
    await engine.stop();
    onnx?.dispose();
  }
  const pct = (a: number, b: number): number => (b === 0 ? 0 : Math.round((1000 * a) / b) / 10);
  return tallies.map((g) => {
    const cfg = parseCamera({ id: 'vtest', url: 'vtest.avi', motion: o.variants[tallies.indexOf(g)] }, 'camera', LOCAL_FILES).motion;
    return {
      source: 'vtest.avi (opencv-doc), 640x480', frames, fps: o.fps, analysed: g.analysed, forced: g.forced,
      detectorCallsSavedPct: pct(frames - g.analysed, frames),
      framesWithPerson: withPerson,
      personFramesLetThroughPct: pct(g.withPersonThrough, withPerson),
      personDetections: persons,
      personDetectionsOnSkippedPct: pct(g.personsSkipped, persons),
      minPersonScore: PERSON_SCORE,
      gateMsPerFrame: Math.round((100 * g.ms) / Math.max(1, frames)) / 100,
      motion: { threshold: cfg.threshold, minArea: cfg.minArea, alpha: cfg.alpha, forceEvery: cfg.forceEvery },
      regions: onnx ? {
        croppedPct: pct(g.cropped, g.analysed), personsKeptPct: pct(g.personsKept, g.personsWhole), detectorMsSavedPct: pct(g.wholeMs - g.detectMs, g.wholeMs),
        wholeMsPerFrame: Math.round((10 * g.wholeMs) / Math.max(1, g.analysed)) / 10, cropMsPerFrame: Math.round((10 * g.detectMs) / Math.max(1, g.analysed)) / 10,
      } : null,
    };
  });
}

export async function benchMotion(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true,
    options: {
      frames: { type: 'string', default: '300' }, fps: { type: 'string', default: '5' },
      threshold: { type: 'string' }, 'force-every': { type: 'string' }, 'min-area': { type: 'string' },
      // Comma-separated minArea values run side by side on the same frames (e.g. 0.001,0.01,0.03).
      sweep: { type: 'string' },
      // Also measure detection on motion regions (onnx): persons kept and detector time saved.
      regions: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const frames = Number(values.frames);
  if (!Number.isInteger(frames) || frames < 10) throw new RangeError('--frames must be an integer >= 10');
  const motion: Record<string, number> = {};
  if (values.threshold !== undefined) motion['threshold'] = Number(values.threshold);
  if (values['force-every'] !== undefined) motion['forceEvery'] = Number(values['force-every']);
  if (values['min-area'] !== undefined) motion['minArea'] = Number(values['min-area']);
  const variants = values.sweep ? values.sweep.split(',').map((a) => ({ ...motion, minArea: Number(a) })) : [motion];
  const results = await runMotionBench({ frames, fps: Number(values.fps), variants, regions: values.regions === true });
  if (values.json) { process.stdout.write(JSON.stringify(values.sweep ? results : results[0], null, 2) + '\n'); return 0; }
  for (const r of results) {
    process.stdout.write(`motion gate on ${r.source}, ${r.frames} frames at ${r.fps} fps (threshold ${r.motion.threshold}, minArea ${r.motion.minArea}, forceEvery ${r.motion.forceEvery})\n`);
    process.stdout.write(`  detector calls saved        ${r.detectorCallsSavedPct}% (${r.frames - r.analysed} of ${r.frames}; ${r.forced} forced)\n`);
    process.stdout.write(`  person frames let through   ${r.personFramesLetThroughPct}% (${r.framesWithPerson} frames with a person >= ${r.minPersonScore})\n`);
    process.stdout.write(`  person detections skipped   ${r.personDetectionsOnSkippedPct}% of ${r.personDetections}\n`);
    process.stdout.write(`  gate cost                   ${r.gateMsPerFrame} ms/frame\n`);
    if (r.regions) {
      process.stdout.write(`  regions: frames cropped     ${r.regions.croppedPct}% of analysed frames\n`);
      process.stdout.write(`  regions: persons kept       ${r.regions.personsKeptPct}% of the whole frame's\n`);
      process.stdout.write(`  regions: detector time      ${r.regions.cropMsPerFrame} ms/frame vs ${r.regions.wholeMsPerFrame} whole (${r.regions.detectorMsSavedPct}% saved)\n`);
    }
  }
  return 0;
}

// Runnable on its own: node dist/bench/motion.js [--frames N] [--json]
if (import.meta.url === `file://${process.argv[1]}`) {
  benchMotion(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => { process.stderr.write(`${String((err as Error).stack ?? err)}\n`); process.exitCode = 1; });
}
