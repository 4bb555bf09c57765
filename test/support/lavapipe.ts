/**
 * Helpers for the webgpu tests: the environment that points Dawn at the private lavapipe from
 * scripts/setup-vulkan.sh, and sample frames. Dawn reads these variables when it creates its Vulkan
 * instance, and the dynamic loader reads LD_LIBRARY_PATH only at process start, so GPU work runs in a child
 * process started with this environment rather than in the test process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_DIR, mediaPath } from '../../common/paths.js';
import type { Detection } from '../../common/messages.js';

export const VULKAN_DIR = join(CACHE_DIR, 'vulkan');

/** The env for a child process that must use lavapipe; null (with the reason) when the set-up has not run. */
export function lavapipeEnv(): { env: NodeJS.ProcessEnv } | { missing: string } {
  const icd = join(VULKAN_DIR, 'lvp_icd.json');
  const lib = join(VULKAN_DIR, 'root/usr/lib/x86_64-linux-gnu');
  if (!existsSync(icd) || !existsSync(join(lib, 'libvulkan_lvp.so'))) return { missing: `${icd} is absent: run scripts/setup-vulkan.sh (npm test runs it as part of the set-up)` };
  const xdg = join(VULKAN_DIR, 'xdg');
  const shaders = join(VULKAN_DIR, 'shader-cache');
  mkdirSync(xdg, { recursive: true });
  chmodSync(xdg, 0o700);
  mkdirSync(shaders, { recursive: true });
  return {
    env: {
      ...process.env,
      VK_DRIVER_FILES: icd,
      LD_LIBRARY_PATH: [lib, process.env['LD_LIBRARY_PATH']].filter(Boolean).join(':'),
      XDG_RUNTIME_DIR: xdg,
      // Compiled shaders survive between runs: a warm cache cuts lavapipe's first batch from ~60-90 s to ~10-20 s.
      MESA_SHADER_CACHE_DIR: shaders,
    },
  };
}

/** `count` RGB frames of vtest.avi (768x576), a second apart, decoded by ffmpeg into one buffer. */
export function vtestFrames(count: number): { data: Uint8Array; width: number; height: number; count: number } {
  const width = 768;
  const height = 576;
  const r = spawnSync('ffmpeg', ['-loglevel', 'error', '-i', mediaPath('vtest.avi'), '-vf', 'fps=1', '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  const data = new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
  if (data.length !== width * height * 3 * count) throw new Error(`ffmpeg gave ${data.length} bytes for ${count} frames`);
  return { data, width, height, count };
}

/** The conformance tolerance: webgpu against wasm, per box edge and in score. */
export const BOX_TOL_PX = 1;
export const SCORE_TOL = 1e-3;

/**
 * Pairs each reference (wasm) detection with a webgpu one (same class, nearest box) and returns what breaks the
 * tolerance, and the largest differences seen (updated in `worst`). A detection within SCORE_TOL of the score
 * threshold may fall on either side of it; that is not a mismatch.
 */
export function compareDetections(ref: readonly Detection[], gpu: readonly Detection[], minScore: number, worst: { box: number; score: number }): string[] {
  const problems: string[] = [];
  const left = [...gpu];
  for (const w of ref) {
    let best = -1;
    let bestErr = Infinity;
    left.forEach((g, i) => {
      if (g.cls !== w.cls) return;
      const err = Math.max(Math.abs(g.box.x - w.box.x), Math.abs(g.box.y - w.box.y), Math.abs(g.box.w - w.box.w), Math.abs(g.box.h - w.box.h));
      if (err < bestErr) { bestErr = err; best = i; }
    });
    const g = best >= 0 ? left[best] : undefined;
    if (!g) { if (w.score - minScore > SCORE_TOL) problems.push(`wasm ${w.cls} ${w.score.toFixed(4)} has no webgpu match`); continue; }
    left.splice(best, 1);
    worst.box = Math.max(worst.box, bestErr);
    worst.score = Math.max(worst.score, Math.abs(g.score - w.score));
    if (bestErr > BOX_TOL_PX) problems.push(`${w.cls} box differs by ${bestErr.toFixed(3)} px`);
    if (Math.abs(g.score - w.score) > SCORE_TOL) problems.push(`${w.cls} score ${w.score} vs ${g.score}`);
  }
  for (const g of left) if (g.score - minScore > SCORE_TOL) problems.push(`webgpu ${g.cls} ${g.score.toFixed(4)} has no wasm match`);
  return problems;
}

/** A structure result as it crosses a process boundary (the embedding as a plain array). */
export interface JsonStructure { readonly attributes: Readonly<Record<string, string | number>>; readonly embedding: readonly number[] | null }
/** A live face as it crosses a process boundary. */
export interface JsonFace { readonly face: { readonly embedding: readonly number[]; readonly box: Detection['box']; readonly quality: number } | null }

/**
 * The structuring tolerance, webgpu against wasm on the same best shot: names (gender, age band, colours) equal,
 * age within AGE_TOL_YEARS (it is rounded, so 0.01 of a year can flip it), quality and colour confidences within
 * ATTR_TOL, face descriptors at cosine similarity EMBED_MIN_COS or more, face boxes within BOX_TOL_PX.
 */
export const AGE_TOL_YEARS = 1;
export const ATTR_TOL = 0.01;
export const EMBED_MIN_COS = 0.99;

const cosine = (a: readonly number[], b: readonly number[]): number => {
  let dot = 0; let na = 0; let nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! * a[i]!; nb += b[i]! * b[i]!; }
  return dot / Math.sqrt(na * nb || 1);
};

/**
 * What breaks the structuring tolerance between a wasm result and a webgpu one; the worst differences seen go
 * into `worst` (for the log and the README).
 */
export function compareStructure(ref: JsonStructure, gpu: JsonStructure, worst: { age: number; attr: number; cos: number }): string[] {
  const problems: string[] = [];
  const keys = new Set([...Object.keys(ref.attributes), ...Object.keys(gpu.attributes)]);
  for (const k of keys) {
    const w = ref.attributes[k];
    const g = gpu.attributes[k];
    if (w === undefined || g === undefined) { problems.push(`${k}: wasm ${String(w)}, webgpu ${String(g)}`); continue; }
    if (typeof w === 'string' || typeof g === 'string') { if (w !== g) problems.push(`${k}: wasm ${w}, webgpu ${g}`); continue; }
    const d = Math.abs(w - g);
    if (k === 'age') { worst.age = Math.max(worst.age, d); if (d > AGE_TOL_YEARS) problems.push(`age: wasm ${w}, webgpu ${g}`); continue; }
    worst.attr = Math.max(worst.attr, d);
    if (d > ATTR_TOL) problems.push(`${k}: wasm ${w}, webgpu ${g}`);
  }
  if ((ref.embedding === null) !== (gpu.embedding === null)) problems.push(`embedding: wasm ${ref.embedding ? 'found' : 'none'}, webgpu ${gpu.embedding ? 'found' : 'none'}`);
  else if (ref.embedding && gpu.embedding) {
    const c = cosine(ref.embedding, gpu.embedding);
    worst.cos = Math.min(worst.cos, c);
    if (!(c >= EMBED_MIN_COS)) problems.push(`embedding cosine ${c.toFixed(5)} < ${EMBED_MIN_COS}`);
  }
  return problems;
}

/** The same for a live face (embedding, box, quality). */
export function compareFace(ref: JsonFace, gpu: JsonFace, worst: { age: number; attr: number; cos: number }): string[] {
  if (!ref.face || !gpu.face) return ref.face === gpu.face ? [] : [`face: wasm ${ref.face ? 'found' : 'none'}, webgpu ${gpu.face ? 'found' : 'none'}`];
  const problems: string[] = [];
  const c = cosine(ref.face.embedding, gpu.face.embedding);
  worst.cos = Math.min(worst.cos, c);
  if (!(c >= EMBED_MIN_COS)) problems.push(`face embedding cosine ${c.toFixed(5)} < ${EMBED_MIN_COS}`);
  const b = ref.face.box; const h = gpu.face.box;
  const boxErr = Math.max(Math.abs(b.x - h.x), Math.abs(b.y - h.y), Math.abs(b.w - h.w), Math.abs(b.h - h.h));
  if (boxErr > BOX_TOL_PX) problems.push(`face box differs by ${boxErr.toFixed(3)} px`);
  const dq = Math.abs(ref.face.quality - gpu.face.quality);
  worst.attr = Math.max(worst.attr, dq);
  if (dq > ATTR_TOL) problems.push(`face quality: wasm ${ref.face.quality}, webgpu ${gpu.face.quality}`);
  return problems;
}

/**
 * Runs a lavapipe child script (`test/support/<name>.js <request.json> <result.json>`) and resolves its result and
 * how long it took to exit after writing it: the child must exit by itself once its GPU objects are released,
 * and it is killed after `boundMs` (then the test fails, saying so).
 */
export function runLavapipeChild<Req, Res>(script: string, env: NodeJS.ProcessEnv, req: Req, dir: string, boundMs: number): Promise<{ result: Res; exitMs: number }> {
  const reqFile = join(dir, 'req.json');
  const outFile = join(dir, 'out.json');
  writeFileSync(reqFile, JSON.stringify(req));
  const path = fileURLToPath(new URL(`./${script}.js`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path, reqFile, outFile], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let wroteAt = 0;
    child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000); });
    // The result file appears before the process ends; how long the process then takes to exit is the check.
    const poll = setInterval(() => { try { if (!wroteAt && readFileSync(outFile).length > 0) wroteAt = Date.now(); } catch { /* not yet */ } }, 200);
    const kill = setTimeout(() => { child.kill('SIGKILL'); }, boundMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(kill);
      if (code !== 0) { reject(new Error(`${script} exited ${code ?? signal} (killed after ${boundMs} ms if SIGKILL: it did not exit by itself): ${stderr}`)); return; }
      try { resolve({ result: JSON.parse(readFileSync(outFile, 'utf8')) as Res, exitMs: wroteAt ? Date.now() - wroteAt : 0 }); } catch (err) { reject(err); }
    });
  });
}
