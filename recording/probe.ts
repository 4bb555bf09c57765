/** ffprobe, run the way the recorder and the clip cutter need it: a file's duration, a file's keyframe times. */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** ffprobe next to the ffmpeg in use ($FFMPEG_PATH's folder), else ffprobe on PATH. */
export function ffprobePath(ffmpeg: string): string {
  return process.env['FFPROBE_PATH'] ?? (ffmpeg.includes('/') ? join(dirname(ffmpeg), 'ffprobe') : 'ffprobe');
}

/** Duration (s) of a media file, or null when it holds no readable video (empty, cut before its first frame). */
export async function probeDuration(ffprobe: string, file: string): Promise<number | null> {
  try {
    const { stdout } = await run(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', file], { timeout: 20_000 });
    const j = JSON.parse(stdout) as { format?: { duration?: string }; streams?: { codec_name?: string }[] };
    const d = Number(j.format?.duration);
    if (!j.streams?.length || !Number.isFinite(d) || d <= 0) return null;
    return d;
  } catch {
    return null;
  }
}

/** Keyframe times (s, the file's own timestamps) and the file's first timestamp; packets only, nothing decoded. */
export async function probeKeyframes(ffprobe: string, file: string): Promise<{ first: number; keyframes: number[] }> {
  const { stdout } = await run(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file], { timeout: 30_000, maxBuffer: 32 << 20 });
  let first = Number.POSITIVE_INFINITY;
  const keyframes: number[] = [];
  for (const line of stdout.split('\n')) {
    const [pts, flags] = line.trim().split(',');
    const t = Number(pts);
    if (!pts || !Number.isFinite(t)) continue;
    if (t < first) first = t;
    if (flags?.includes('K')) keyframes.push(t);
  }
  keyframes.sort((a, b) => a - b);
  return { first: Number.isFinite(first) ? first : 0, keyframes };
}
