import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/**
 * Child processes this program started (ffmpeg publishers and decoders, nats-server). They are killed when the
 * program exits however it exits, so Ctrl-C never leaves an ffmpeg or a nats-server behind.
 */
const children = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
}

/** bin/own-group: runs a command in a process group of its own, killed when the core is (see the script). */
export const OWN_GROUP = join(REPO_ROOT, 'bin', 'own-group');
/** bin/ffmpeg-own-group: the same for the ffmpeg fluent-ffmpeg starts (it takes one executable path). */
export const FFMPEG_OWN_GROUP = join(REPO_ROOT, 'bin', 'ffmpeg-own-group');

export interface TrackedSpawnOptions extends SpawnOptions {
  /**
   * Run the child in a process group of its own (default true): the terminal's Ctrl-C, or a signal to the
   * core's whole group, reaches only the core, which stops its children in order (nats-server last); a
   * watchdog kills the child if the core dies without its exit hook (SIGKILL). False: the child shares the
   * core's group (a process the core runs to completion, like a CLI's own worker).
   */
  readonly ownGroup?: boolean;
}

export function spawnTracked(cmd: string, args: readonly string[], options: TrackedSpawnOptions = {}): ChildProcess {
  hookExit();
  const { ownGroup = true, ...spawnOptions } = options;
  const [file, argv] = ownGroup ? [OWN_GROUP, [cmd, ...args]] : [cmd, [...args]];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopChild(child: ChildProcess, graceMs = 2_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

/** SIGKILL (a crash, no clean-up); resolves when the process has exited. */
export async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGKILL'); });
}

/** Pids of the children still alive (tests assert this is empty after stop). */
export function liveChildren(): number[] {
  return [...children].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => c.pid ?? -1);
}

/** Finds an executable on PATH (and in /usr/sbin, where Debian puts nats-server), or null. */
export async function which(cmd: string): Promise<string | null> {
  const { access, constants } = await import('node:fs/promises');
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = `${d}/${cmd}`;
    try { await access(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

/** Registers a child started elsewhere (fluent-ffmpeg's) so it is killed on exit too. */
export function trackChild(child: ChildProcess): void {
  hookExit();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/**
 * The ffmpeg executable: $FFMPEG_PATH (which fluent-ffmpeg honours too) or `ffmpeg` on PATH. A missing one is
 * a typed set-up error naming what to install, raised before any camera starts.
 */
export async function requireFfmpeg(): Promise<string> {
  const { access, constants } = await import('node:fs/promises');
  const { SetupError } = await import('./errors.js');
  const configured = process.env['FFMPEG_PATH'];
  const found = configured ? await access(configured, constants.X_OK).then(() => configured, () => null) : await which('ffmpeg');
  if (!found) {
    throw new SetupError('SETUP_FFMPEG_MISSING', configured
      ? `FFMPEG_PATH points at ${configured}, which is not an executable`
      : 'ffmpeg is not installed: apt-get install -y ffmpeg (npm start / npm test do this when run as root)', { detail: { ffmpeg: configured ?? 'ffmpeg' } });
  }
  return found;
}
