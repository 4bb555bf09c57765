import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalMotCommand } from '../cli/commands/eval-mot.js';
import { trackCommand } from '../cli/commands/track.js';
import { MOT_DATA } from './mot-data.js';

/** Runs a command with stdout/stderr captured. */
async function capture(run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const wo = process.stdout.write.bind(process.stdout);
  const we = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    return { code: await run(), out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = wo;
    process.stderr.write = we;
  }
}

test.serial('tracking - cli track then eval-mot scores a sequence', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-track-'));
  try {
    const out = join(dir, 'tracks.txt');
    const seq = join(MOT_DATA, 'TUD-Campus');
    const tr = await capture(() => trackCommand.run(['--detections', join(seq, 'det.txt'), '--out', out]));
    t.is(tr.code, 0, tr.err);
    t.regex((await readFile(out, 'utf8')).split('\n')[0]!, /^1,\d+,[\d.]+,[\d.]+,[\d.]+,[\d.]+,[\d.]+,-1,-1,-1$/);
    const ev = await capture(() => evalMotCommand.run(['--gt', join(seq, 'gt.txt'), '--tracks', out, '--json']));
    t.is(ev.code, 0, ev.err);
    const json = JSON.parse(ev.out) as Record<string, { mota: number; idf1: number }>;
    t.true(json['TUD-Campus']!.mota > 0.627);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.serial('tracking - cli prints typed errors with exit code 2', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-track-'));
  try {
    const bad = join(dir, 'det.txt');
    await writeFile(bad, '1,-1,1,2,3,4,0.9,-1,-1,-1\n1,-1,1,2,-3,4,0.9,-1,-1,-1\n');
    const r = await capture(() => trackCommand.run(['--detections', bad, '--out', join(dir, 'o.txt')]));
    t.is(r.code, 2);
    t.regex(r.err, /^error TRACKING_BAD_MOT_LINE: .*det\.txt:2:/);
    const u = await capture(() => evalMotCommand.run(['--gt', bad]));
    t.is(u.code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
