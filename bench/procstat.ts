/**
 * CPU time and peak memory of this process and of the child processes it started (ffmpeg decoders and
 * publishers, nats-server, the RTSP server), read from /proc. A child's counters vanish when it exits, so the
 * sampler keeps the last value it saw per pid: call `sample()` every second or so and once before stopping.
 * Linux only; elsewhere the child figures are zero and say so (`procAvailable`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { liveChildren } from '../common/proc.js';

export const procAvailable = existsSync('/proc/self/stat');

/** Clock ticks per second for /proc's utime/stime (100 on every Linux we run on, but ask). */
const CLK_TCK = ((): number => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { return 100; }
})();

/** What a child is, from its command line: what the pipeline costs versus what only simulates the cameras. */
export type ChildRole = 'decoder' | 'publisher' | 'nats' | 'rtsp-server' | 'bare-ffmpeg' | 'other';

interface ChildSample { role: ChildRole; cpuS: number; hwmKiB: number; rssKiB: number }

/** User + system CPU seconds of a live process, or null once it is gone. */
export function processCpuSeconds(pid: number | undefined): number | null {
  return pid === undefined ? null : readStat(pid)?.cpuS ?? null;
}

function readStat(pid: number): { cpuS: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5) are utime and stime; after the name, the state is field 3 (index 0).
    return { cpuS: (Number(fields[11]) + Number(fields[12])) / CLK_TCK };
  } catch { return null; }
}

function readMem(pid: number): { hwmKiB: number; rssKiB: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
    return { hwmKiB: kib('VmHWM'), rssKiB: kib('VmRSS') };
  } catch { return { hwmKiB: 0, rssKiB: 0 }; }
}

function roleOf(pid: number, bare: ReadonlySet<number>): ChildRole {
  if (bare.has(pid)) return 'bare-ffmpeg';
  let argv: string[];
  try { argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch { return 'other'; }
  const exe = argv[0] ?? '';
  if (exe.endsWith('nats-server')) return 'nats';
  if (argv.some((a) => a.endsWith('rtsp-server-main.js'))) return 'rtsp-server';
  if (exe.endsWith('ffmpeg')) {
    if (argv.includes('rawvideo')) return 'decoder';
    if (argv.includes('rtsp') && argv.includes('-re')) return 'publisher';
  }
  return 'other';
}

export interface CpuMemSnapshot {
  /** This process (main thread, inference worker threads, libuv pool). */
  readonly mainCpuS: number;
  readonly mainMaxRssMiB: number;
  readonly mainRssMiB: number;
  /** Per role: CPU seconds (cumulative, exited children included) and summed peak RSS. */
  readonly children: Readonly<Record<ChildRole, { cpuS: number; peakRssMiB: number; rssMiB: number; count: number }>>;
}

export class ProcSampler {
  #seen = new Map<number, ChildSample>();
  #bare = new Set<number>();

  /** Marks pids as the bare reference's, so they are not counted as the pipeline's decoders. */
  markBare(pid: number | undefined): void { if (pid !== undefined) this.#bare.add(pid); }

  sample(): void {
    if (!procAvailable) return;
    for (const pid of liveChildren()) {
      if (pid < 0) continue;
      const st = readStat(pid);
      if (!st) continue;
      const mem = readMem(pid);
      const prev = this.#seen.get(pid);
      this.#seen.set(pid, {
        role: prev?.role ?? roleOf(pid, this.#bare), cpuS: st.cpuS,
        hwmKiB: Math.max(prev?.hwmKiB ?? 0, mem.hwmKiB), rssKiB: mem.rssKiB,
      });
    }
  }

  /** Marks children no longer alive as holding no memory now (their CPU and peak stay counted). */
  #prune(): void {
    const live = new Set(liveChildren());
    for (const [pid, s] of this.#seen) if (!live.has(pid)) s.rssKiB = 0;
  }

  snapshot(): CpuMemSnapshot {
    this.sample();
    this.#prune();
    const u = process.cpuUsage();
    const roles: ChildRole[] = ['decoder', 'publisher', 'nats', 'rtsp-server', 'bare-ffmpeg', 'other'];
    const children = Object.fromEntries(roles.map((r) => [r, { cpuS: 0, peakRssMiB: 0, rssMiB: 0, count: 0 }])) as Record<ChildRole, { cpuS: number; peakRssMiB: number; rssMiB: number; count: number }>;
    for (const s of this.#seen.values()) {
      const c = children[s.role];
      c.cpuS += s.cpuS;
      c.peakRssMiB += s.hwmKiB / 1024;
      c.rssMiB += s.rssKiB / 1024;
      c.count++;
    }
    return {
      mainCpuS: (u.user + u.system) / 1e6,
      // maxRSS is in KiB on Linux.
      mainMaxRssMiB: process.resourceUsage().maxRSS / 1024,
      mainRssMiB: process.memoryUsage.rss() / 2 ** 20,
      children,
    };
  }
}

/** CPU seconds spent between two snapshots, per part. */
export function cpuBetween(a: CpuMemSnapshot, b: CpuMemSnapshot): { main: number; decoders: number; publishers: number; nats: number; rtspServer: number } {
  const d = (r: ChildRole): number => b.children[r].cpuS - a.children[r].cpuS;
  return { main: b.mainCpuS - a.mainCpuS, decoders: d('decoder'), publishers: d('publisher'), nats: d('nats'), rtspServer: d('rtsp-server') };
}

/** Open file descriptors of this process (/proc/self/fd), or null off Linux. */
export function openFds(): number | null {
  try { return readdirSync('/proc/self/fd').length; } catch { return null; }
}

/** Bytes under a folder (files only, links not followed); 0 for a folder that is not there. */
export function folderBytes(dir: string): number {
  let total = 0;
  let names: string[];
  try { names = readdirSync(dir); } catch { return 0; }
  for (const n of names) {
    const p = join(dir, n);
    try {
      const s = lstatSync(p);
      if (s.isDirectory()) total += folderBytes(p);
      else if (s.isFile()) total += s.size;
    } catch { /* removed meanwhile (a compaction, a retention sweep) */ }
  }
  return total;
}

/** Least-squares slope of y over x (per unit of x), or null with fewer than 3 points. */
export function slope(points: readonly (readonly [number, number])[]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0, den = 0;
  for (const [x, y] of points) { num += (x - mx) * (y - my); den += (x - mx) ** 2; }
  return den > 0 ? num / den : null;
}
