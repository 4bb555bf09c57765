/**
 * `cvcore analyze` over real footage: ffmpeg decodes vtest.avi at its own size, centernet (wasm) detects, the
 * tracker links; the output is MOTChallenge with the video's 1-based frame numbers and its pixel coordinates.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mediaPath, REPO_ROOT } from '../common/paths.js';
import { parseMot } from '../tracking/index.js';

const cli = join(REPO_ROOT, 'bin', 'cvcore.js');
const run = (args: string[]): Promise<{ code: number; stderr: string }> => new Promise((resolve) => {
  execFile(process.execPath, [cli, ...args], { timeout: 240_000 }, (err, _out, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }));
});

test('tracking - analyze writes person tracks of vtest.avi in MOTChallenge format, in the video\'s frames and pixels', async (t) => {
  t.timeout(250_000);
  const out = join(await mkdtemp(join(tmpdir(), 'cvcore-analyze-')), 'vtest.txt');
  const frames = 40;
  const r = await run(['analyze', '--input', mediaPath('vtest.avi'), '--classes', 'person', '--out-mot', out, '--max-frames', String(frames)]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, new RegExp(`${frames} frames \\(768x576\\)`));
  const text = await readFile(out, 'utf8');
  for (const line of text.trim().split('\n')) t.regex(line, /^\d+,\d+,[-\d.]+,[-\d.]+,[\d.]+,[\d.]+,[\d.]+,-1,-1,-1$/);
  const rows = parseMot(text, out);
  t.true(rows.length > frames, `${rows.length} boxes`);
  t.true(rows.every((row) => row.frame >= 1 && row.frame <= frames));
  t.true(rows.some((row) => row.frame === 1), 'tracks confirmed on the first frame are reported from frame 1');
  // Boxes are in the video's own pixels (768x576), and people are taller than wide.
  t.true(rows.every((row) => row.x > -row.w && row.y > -row.h && row.x < 768 && row.y < 576));
  t.true(rows.filter((row) => row.h > row.w).length / rows.length > 0.9);
  // Identities persist: several people, and someone followed through most of the clip under one id.
  const byId = new Map<number, Set<number>>();
  for (const row of rows) byId.set(row.id, (byId.get(row.id) ?? new Set()).add(row.frame));
  t.true(byId.size >= 3, `${byId.size} tracks`);
  t.true(Math.max(...[...byId.values()].map((s) => s.size)) >= frames * 0.75, 'one identity spans most of the clip');
});

test('tracking - analyze of a missing file is a typed error with exit code 2', async (t) => {
  const r = await run(['analyze', '--input', '/nonexistent/video.avi', '--out-mot', join(tmpdir(), 'none.txt')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /error INGEST_STREAM_UNREACHABLE: cannot open \/nonexistent\/video\.avi/);
});

test('tracking - analyze --fps analyses at a live rate and keeps the video\'s own frame numbers', async (t) => {
  t.timeout(250_000);
  const out = join(await mkdtemp(join(tmpdir(), 'cvcore-analyze-')), 'vtest5.txt');
  // vtest.avi is 10 fps: at 5 fps a camera sees frames 1, 3, 5..., and the default cadence detects on each.
  const r = await run(['analyze', '--input', mediaPath('vtest.avi'), '--fps', '5', '--out-mot', out, '--max-frames', '40']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /40 frames \(768x576\), 20 detected at 5 fps/);
  const rows = parseMot(await readFile(out, 'utf8'), out);
  t.true(rows.length > 20, `${rows.length} boxes`);
  t.true(rows.every((row) => row.frame % 2 === 1), 'only the frames a 5 fps camera sees');
  const r2 = await run(['analyze', '--input', mediaPath('vtest.avi'), '--fps', '0', '--out-mot', out]);
  t.is(r2.code, 2);
  t.regex(r2.stderr, /error CONFIG_INVALID_VALUE: --fps/);
});
