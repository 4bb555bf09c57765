/**
 * Clean stops, tried as a new user would: `npm start` in a real pseudo-terminal (util-linux `script`) and one
 * Ctrl-C; a service manager's SIGINT to the core's whole process group; and a SIGKILL of the core. The core's
 * children (nats-server, the RTSP server, ffmpeg publishers and decoders) run in process groups of their own,
 * so the terminal's signal reaches only the core, which stops them in order; after SIGKILL a watchdog ends them.
 */
import test from 'ava';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../common/net.js';
import { REPO_ROOT } from '../common/paths.js';
import { waitFor } from './support/wait.js';

interface Proc { pid: number; ppid: number; pgid: number; args: string }

function processes(): Proc[] {
  return execFileSync('ps', ['-e', '-o', 'pid=,ppid=,pgid=,args='], { encoding: 'utf8' }).split('\n').filter((l) => l.trim()).map((l) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(l)!;
    return { pid: Number(m[1]), ppid: Number(m[2]), pgid: Number(m[3]), args: m[4]! };
  });
}

/** Every process below `root` (children, grandchildren...). */
function descendants(root: number): Proc[] {
  const all = processes();
  const out: Proc[] = [];
  const walk = (pid: number): void => { for (const p of all.filter((q) => q.ppid === pid)) { out.push(p); walk(p.pid); } };
  walk(root);
  return out;
}
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

/** Starts a command, collecting its output; resolves its exit code. */
function run(file: string, args: string[], opts: { detached?: boolean } = {}): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(file, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'], detached: opts.detached ?? false, env: { ...process.env, CVCORE_LOG: 'info' } });
  let text = '';
  child.stdout!.on('data', (b: Buffer) => { text += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { text += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => text, exited };
}

async function demoArgs(t: { teardown(fn: () => Promise<void>): void }): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-stop-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return ['--cameras', '1', '--no-plate-camera', '--no-face-camera', '--port', String(await freePort()), '--data-dir', dir];
}

/** The core's children once it runs: its nats-server, RTSP server, publisher and decoder. */
async function childrenOf(root: number, out: () => string): Promise<Proc[]> {
  await waitFor('the demo running with its camera live', 180_000, async () => (/"state":"live"/.test(out()) ? true : null), () => out().slice(-2000));
  const kids = descendants(root).filter((p) => /nats-server|ffmpeg|rtsp-server-main/.test(p.args) && !/own-group/.test(p.args));
  return kids;
}

function stoppedInOrder(t: { true(v: boolean, m?: string): void; false(v: boolean, m?: string): void; regex(s: string, r: RegExp): void }, out: string): void {
  t.regex(out, /SIGINT: stopping/);
  t.false(/again: exiting now/.test(out), 'one Ctrl-C is one stop');
  t.false(/lost NATS/.test(out), 'nats-server outlives the core\'s stop');
  const camera = out.indexOf('"state":"stopped"');
  const nats = out.indexOf('nats-server stopped');
  t.true(camera > 0 && nats > camera, 'cameras stop before nats-server');
}

test.serial('npm start in a terminal, one Ctrl-C: everything stops in order, once, and nothing is left running', async (t) => {
  const args = await demoArgs(t);
  // `script` gives the command a real pseudo-terminal; ^C written to it is the terminal's SIGINT to the foreground group.
  const r = run('script', ['-q', '-e', '-f', '-c', `npm start --silent -- ${args.join(' ')}`, '/dev/null']);
  t.teardown(() => { if (r.child.exitCode === null) r.child.kill('SIGKILL'); });
  const kids = await childrenOf(r.child.pid!, r.out);
  t.true(kids.some((p) => /nats-server/.test(p.args)), 'an embedded nats-server');
  t.true(kids.some((p) => /ffmpeg .*rawvideo/.test(p.args)), 'a decoder');
  // Each child leads a process group of its own: the terminal's SIGINT cannot reach it.
  for (const k of kids) t.is(k.pgid, k.pid, k.args);
  r.child.stdin!.write('\x03');
  const code = await Promise.race([r.exited, new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 120_000))]);
  t.not(code, 'timeout');
  stoppedInOrder(t, r.out());
  await waitFor('every child gone', 10_000, async () => (kids.every((k) => !alive(k.pid)) ? true : null), () => kids.filter((k) => alive(k.pid)).map((k) => k.args).join('; '));
});

test.serial('SIGINT to the core\'s whole process group (a service manager) stops it once, cleanly', async (t) => {
  const args = await demoArgs(t);
  const r = run(process.execPath, [join(REPO_ROOT, 'bin', 'cvcore.js'), 'demo', ...args], { detached: true });
  t.teardown(() => { if (r.child.exitCode === null) r.child.kill('SIGKILL'); });
  const kids = await childrenOf(r.child.pid!, r.out);
  process.kill(-r.child.pid!, 'SIGINT');
  t.is(await r.exited, 0);
  stoppedInOrder(t, r.out());
  await waitFor('every child gone', 10_000, async () => (kids.every((k) => !alive(k.pid)) ? true : null));
});

test.serial('SIGKILL of the core: its children do not outlive it', async (t) => {
  const args = await demoArgs(t);
  const r = run(process.execPath, [join(REPO_ROOT, 'bin', 'cvcore.js'), 'demo', ...args]);
  const kids = await childrenOf(r.child.pid!, r.out);
  t.true(kids.length >= 3);
  r.child.kill('SIGKILL');
  await r.exited;
  await waitFor('every child gone after the core was killed', 30_000, async () => (kids.every((k) => !alive(k.pid)) ? true : null),
    () => kids.filter((k) => alive(k.pid)).map((k) => k.args).join('; '));
  t.pass();
});
