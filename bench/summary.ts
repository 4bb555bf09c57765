/**
 * `cvcore bench summary --in DIR`: the Performance section for the README, built from the JSON the other
 * benchmarks wrote into DIR (e2e.json, capacity.json, and input-size.json / micro.json when present), so the
 * published tables are exactly the measured ones. Writes DIR/PERFORMANCE.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { capacityTable, type CapacityReport } from './capacity.js';
import { e2eRows, type E2eReport } from './e2e.js';
import type { InputSizeRow } from './input-size.js';
import type { MicroResult } from './micro.js';
import { fmt, hostLine, table } from './report.js';

async function readJson<T>(file: string): Promise<T | null> {
  try { return JSON.parse(await readFile(file, 'utf8')) as T; } catch { return null; }
}

const GPU = `### On a GPU machine

The GPU route in this build is the WebGPU backend (\`inference.backend: "webgpu"\`, \`--backend webgpu\` on every
benchmark here), with its own stage benchmark in bench/webgpu.ts. \`@tensorflow/tfjs-node-gpu\` (the design card's
package) cannot be installed from the registries reachable here: its install step fetches a CUDA build of
libtensorflow from outside the npm registry. So no tfjs-node-gpu figure is published. On a machine where it installs, with CUDA and cuDNN matching its release:

\`\`\`sh
npm i @tensorflow/tfjs-node-gpu        # once; the backend is picked up when the package resolves
npm run build
node bin/cvcore.js bench e2e --streams 8 --seconds 60 --backend tfjs-node-gpu --workers 1 --batch 8 --out docs/bench/gpu
node bin/cvcore.js bench capacity --fps 5 --max-streams 64 --seconds 30 --backend tfjs-node-gpu --workers 1 --batch 16 --out docs/bench/gpu
\`\`\`

and set \`inference.backend: "tfjs-node-gpu"\` in the config for the core itself. A missing package is a typed error
(\`INFERENCE_BACKEND_UNAVAILABLE\`), never a silent fall back to wasm. On a GPU, one worker thread with larger batches
is the starting point (the GPU, not the threads, runs the frames in parallel); ffmpeg decode then becomes the next
limit, which ffmpeg's \`-hwaccel cuda\` (the \`hwaccel\` option of ingest's \`decoderArgs\`) addresses.
`;

/** CPU per analysed frame split by where it went, from the e2e run and its bare references. */
function whereTimeGoes(e: E2eReport): string[] {
  const r = e.run;
  if (!r.analysed) return [];
  const per = (cpuS: number | null): number | null => (cpuS === null ? null : (cpuS * 1000) / r.analysed);
  const decodeMs = r.cpu.decoders_s !== null && r.decoded ? (r.cpu.decoders_s * 1000) / r.decoded : null;
  return [
    '#### Where the time goes (CPU ms per analysed frame, same run)', '',
    table(['part', 'ms', 'note'], [
      ['detector alone (bare model, one thread)', fmt(e.bare.model.cpu_ms_per_frame, 0), `centernet 512x512 on ${e.bare.model.backend}, CPU time (wall ${fmt(e.bare.model.ms_per_frame, 0)} ms)`],
      ['main process incl. inference threads', fmt(per(r.cpu.main_s), 0), 'detector + batcher, tracker, index, alerts, event loop'],
      ['ffmpeg decoders', fmt(per(r.cpu.decoders_s), 0), `${fmt(decodeMs, 1)} ms per decoded frame; ${fmt(r.drop_pct, 0)} % of decoded frames were then dropped`],
      ['nats-server', fmt(per(r.cpu.nats_s), 1), ''],
    ], true), '',
  ];
}

/** The goal of issue 8 (4 cameras at 5 fps on the 2-core machine), set against the measured per-frame cost. */
const GOAL_STREAMS = 4;

function reaching(cap: CapacityReport, e: E2eReport, sizes: readonly InputSizeRow[]): string[] {
  const cores = cap.host.cpus;
  const need = GOAL_STREAMS * cap.fps;
  const budget = (cores * 1000) / need;
  const perFrame = e.run.cpu.cpu_ms_per_analysed_frame;
  const bare = e.bare.model.cpu_ms_per_frame;
  const lines = [
    `### Reaching ${GOAL_STREAMS} cameras at ${cap.fps} fps`, '',
    `${GOAL_STREAMS} x ${cap.fps} = ${need} analysed frames/s on ${cores} cores leaves at most ${fmt(budget, 0)} ms of CPU per frame for everything ` +
      `(decode, detector, tracking, index, alerts). The e2e run spent ${fmt(perFrame, 0)} ms of pipeline CPU per analysed frame, and the detector ` +
      `alone costs ${fmt(bare, 0)} ms CPU per frame: brute force reaches about ${fmt(perFrame ? (cores * 1000) / perFrame / cap.fps : null, 1)} cameras at ${cap.fps} fps ` +
      `(measured capacity: ${cap.capacity_streams}). The levers:`, '',
  ];
  const ok = sizes.filter((r) => r.ok && r.size !== 512 && r.cpu_ms_per_frame !== null);
  const ref = sizes.find((r) => r.size === 512);
  if (ok.length && ref?.cpu_ms_per_frame) {
    lines.push('- a smaller detector input: ' + ok.map((r) => `${r.size}x${r.size} costs ${fmt(((r.cpu_ms_per_frame ?? 0) / ref.cpu_ms_per_frame!) * 100, 0)} % of 512's CPU and keeps ${fmt((r.recall_vs_512 ?? 0) * 100, 0)} % of its persons`).join('; ') +
      ' (the graph runs at these sizes once its fixed head constants are scaled; the product needs an `inference.inputSize` setting for it);');
  }
  lines.push('- the motion gate (ingest): frames without motion skip the detector; vtest.avi has people walking in most frames, so the saving on this footage is smaller than on a quiet street;',
    '- running the detector every k-th frame and letting the tracker predict in between (the tracker\'s `skip`, which the motion gate already uses), which divides the detector cost by k at a cost in track accuracy;',
    '- a GPU backend (below), where the detector stops being the limit.');
  return lines;
}

export async function benchSummary(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, strict: true, allowPositionals: false, options: { in: { type: 'string' } } });
  const dir = resolve(values.in ?? 'docs/bench');
  const e2e = await readJson<E2eReport>(join(dir, 'e2e.json'));
  const cap = await readJson<CapacityReport>(join(dir, 'capacity.json'));
  const size = await readJson<{ backend: string; frames: number; rows: InputSizeRow[] }>(join(dir, 'input-size.json'));
  const micro = await readJson<{ results: MicroResult[]; missing: string[] }>(join(dir, 'micro.json'));
  const out: string[] = ['<!-- Generated by `cvcore bench summary --in docs/bench`; paths are relative to the repository root, for README.md. -->', '', '## Performance', ''];
  out.push('Every figure below comes from `cvcore bench` on the machine named with it; the JSON, Markdown and SVG of each run are in',
    '[docs/bench/](docs/bench/). The pipeline is always measured against the bare tools in the same run (ffmpeg alone, the detector',
    'alone), so the ratios carry over to other machines better than the absolute numbers do. See bench/README.md for what each figure means.', '');
  if (e2e) {
    out.push('### End to end', '', hostLine(e2e.at, e2e.host), '', '```sh', `node bin/${e2e.command.replace(/^cvcore/, 'cvcore.js')}`, '```', '');
    out.push(table(['measure', 'value', 'reference / detail'], e2eRows(e2e), true), '', '![e2e](docs/bench/e2e.svg)', '');
    out.push(...whereTimeGoes(e2e));
  }
  if (cap) {
    out.push('### Capacity', '', hostLine(cap.at, cap.host), '', '```sh', `node bin/${cap.command.replace(/^cvcore/, 'cvcore.js')}`, '```', '');
    const t = capacityTable(cap);
    out.push(table(t.headers, t.rows, true), '', `**${cap.capacity_streams} stream(s) sustained at ${cap.fps} fps per camera.**`, '', '![capacity](docs/bench/capacity.svg)', '');
  }
  if (size) {
    out.push('### Detector input size (experiment)', '', '```sh', 'node bin/cvcore.js bench input-size --frames ' + size.frames + ' --json', '```', '');
    out.push(table(['input', 'ms/frame', 'CPU ms/frame', 'persons', 'recall vs 512', 'precision vs 512'],
      size.rows.map((r) => [`${r.size}x${r.size}`, fmt(r.ms_per_frame, 0), fmt(r.cpu_ms_per_frame, 0), String(r.persons), fmt(r.recall_vs_512, 3), fmt(r.precision_vs_512, 3)]), true), '');
  }
  if (cap && e2e) out.push(...reaching(cap, e2e, size?.rows ?? []), '');
  if (micro) {
    out.push('### Hot functions (micro-benchmarks)', '', '```sh', 'npm run bench:micro', '```', '');
    out.push(table(['function', 'ops/s', '± rme %', 'runner'], micro.results.map((r) => [r.name, fmt(r.hz, 0), fmt(r.rme_pct, 2), r.runner]), true), '');
  }
  out.push(GPU);
  const file = join(dir, 'PERFORMANCE.md');
  await writeFile(file, out.join('\n'));
  process.stderr.write(`wrote ${file}\n`);
  return 0;
}
