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
import { mediaPath } from '../common/paths.js';
import type { Frame } from '../common/messages.js';
import { FrameAssembler, MotionGate, decoderArgs } from '../ingest/index.js';
import { InferenceEngine } from '../inference/index.js';

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

export async function runMotionBench(o: { frames: number; fps: number; motion?: Record<string, unknown> }): Promise<MotionBenchResult> {
  const cfg = parseCamera({ id: 'vtest', url: 'vtest.avi', width: WIDTH, height: HEIGHT, fps: o.fps, motion: o.motion ?? {} }).motion;
  const gate = new MotionGate(cfg, WIDTH, HEIGHT);
  const engine = await InferenceEngine.start({ backend: 'wasm', model: 'centernet', workers: 1, minScore: 0.3, iouThreshold: 0.5, classes: ['person'] });
  let frames = 0, analysed = 0, forced = 0, withPerson = 0, withPersonThrough = 0, persons = 0, personsSkipped = 0, gateMs = 0;
  try {
    for await (const f of decodeFile(mediaPath('vtest.avi'), o.fps, o.frames)) {
      frames++;
      const t0 = performance.now();
      const v = gate.check(f);
      gateMs += performance.now() - t0;
      if (v.analyse) analysed++;
      if (v.forced) forced++;
      const out = await engine.run([f]);
      const n = (out.detections[0] ?? []).filter((d) => d.cls === 'person' && d.score >= PERSON_SCORE).length;
      persons += n;
      if (!v.analyse) personsSkipped += n;
      if (n > 0) { withPerson++; if (v.analyse) withPersonThrough++; }
    }
  } finally {
    await engine.stop();
  }
  const pct = (a: number, b: number): number => (b === 0 ? 0 : Math.round((1000 * a) / b) / 10);
  return {
    source: 'vtest.avi (opencv-doc), 640x480', frames, fps: o.fps, analysed, forced,
    detectorCallsSavedPct: pct(frames - analysed, frames),
    framesWithPerson: withPerson,
    personFramesLetThroughPct: pct(withPersonThrough, withPerson),
    personDetections: persons,
    personDetectionsOnSkippedPct: pct(personsSkipped, persons),
    minPersonScore: PERSON_SCORE,
    gateMsPerFrame: Math.round((100 * gateMs) / Math.max(1, frames)) / 100,
    motion: { threshold: cfg.threshold, minArea: cfg.minArea, alpha: cfg.alpha, forceEvery: cfg.forceEvery },
  };
}

export async function benchMotion(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true,
    options: {
      frames: { type: 'string', default: '300' }, fps: { type: 'string', default: '5' },
      threshold: { type: 'string' }, 'force-every': { type: 'string' }, 'min-area': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const frames = Number(values.frames);
  if (!Number.isInteger(frames) || frames < 10) throw new RangeError('--frames must be an integer >= 10');
  const motion: Record<string, unknown> = {};
  if (values.threshold !== undefined) motion['threshold'] = Number(values.threshold);
  if (values['force-every'] !== undefined) motion['forceEvery'] = Number(values['force-every']);
  if (values['min-area'] !== undefined) motion['minArea'] = Number(values['min-area']);
  const r = await runMotionBench({ frames, fps: Number(values.fps), motion });
  if (values.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else {
    process.stdout.write(`motion gate on ${r.source}, ${r.frames} frames at ${r.fps} fps (threshold ${r.motion.threshold}, minArea ${r.motion.minArea}, forceEvery ${r.motion.forceEvery})\n`);
    process.stdout.write(`  detector calls saved        ${r.detectorCallsSavedPct}% (${r.frames - r.analysed} of ${r.frames}; ${r.forced} forced)\n`);
    process.stdout.write(`  person frames let through   ${r.personFramesLetThroughPct}% (${r.framesWithPerson} frames with a person >= ${r.minPersonScore})\n`);
    process.stdout.write(`  person detections skipped   ${r.personDetectionsOnSkippedPct}% of ${r.personDetections}\n`);
    process.stdout.write(`  gate cost                   ${r.gateMsPerFrame} ms/frame\n`);
  }
  return 0;
}

// Runnable on its own: node dist/bench/motion.js [--frames N] [--json]
if (import.meta.url === `file://${process.argv[1]}`) {
  benchMotion(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => { process.stderr.write(`${String((err as Error).stack ?? err)}\n`); process.exitCode = 1; });
}
