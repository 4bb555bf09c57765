/**
 * Clips: the segments overlapping [from, to] joined by ffmpeg's concat demuxer with `-c copy` into one MP4
 * (`+faststart`, so a player starts before the whole file is read). Nothing is re-encoded, so a clip starts at
 * the keyframe at or before `from` (the first segment's `inpoint`, taken from its packets' key flags) and ends at
 * the packet at `to`. Across a gap the video simply goes on with the next recorded segment; `spans` say which
 * video offsets are which wall-clock times.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RecordingError } from '../common/errors.js';
import { probeKeyframes } from './probe.js';
import type { Clip, Gap, Segment } from './types.js';

const run = promisify(execFile);

export interface CutOptions {
  readonly ffmpeg: string;
  readonly ffprobe: string;
  /** The camera's recording folder. */
  readonly dir: string;
  /** Where the clip and its concat list go (the path without extension). */
  readonly out: string;
  readonly cameraId: string;
  readonly from: number;
  readonly to: number;
  /** Segments overlapping [from, to], oldest first, files present. */
  readonly segments: readonly Segment[];
  readonly gaps: readonly Gap[];
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function cutClip(o: CutOptions): Promise<Omit<Clip, 'read'>> {
  const segs = o.segments;
  const first = segs[0]!;
  const last = segs[segs.length - 1]!;
  // In point: the keyframe at or before `from` in the first segment (its own timestamps).
  const [fk, lastKeys] = await Promise.all([
    probeKeyframes(o.ffprobe, join(o.dir, first.file)),
    last === first ? null : probeKeyframes(o.ffprobe, join(o.dir, last.file)),
  ]);
  const want = fk.first + Math.max(0, o.from - first.start) / 1000;
  const kf = fk.keyframes.filter((k) => k <= want + 1e-6).pop() ?? fk.keyframes[0] ?? fk.first;
  const start = Math.round(first.start + (kf - fk.first) * 1000);
  // Out point: `to` in the last segment, when it ends inside it.
  const lk = lastKeys ?? fk;
  const outpoint = o.to < last.end ? lk.first + (o.to - last.start) / 1000 : null;
  const end = Math.min(o.to, last.end);

  const lines = ['ffconcat version 1.0'];
  const spans: { offsetMs: number; start: number; end: number }[] = [];
  let offset = 0;
  segs.forEach((s, i) => {
    lines.push(`file '${join(o.dir, s.file).replace(/'/g, "'\\''")}'`);
    if (i === 0 && kf > fk.first + 1e-6) lines.push(`inpoint ${kf.toFixed(6)}`);
    if (i === segs.length - 1 && outpoint !== null) lines.push(`outpoint ${outpoint.toFixed(6)}`);
    const a = i === 0 ? start : s.start;
    const b = i === segs.length - 1 ? end : s.end;
    const prev = spans[spans.length - 1];
    if (prev && prev.end === a) prev.end = b;
    else spans.push({ offsetMs: offset, start: a, end: b });
    offset += Math.max(0, b - a);
  });
  const list = `${o.out}.ffconcat`;
  const tmp = `${o.out}.part.mp4`;
  const path = `${o.out}.mp4`;
  await writeFile(list, lines.join('\n') + '\n');
  try {
    await run(o.ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list,
      '-map', '0:v:0', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', tmp], { timeout: 120_000, maxBuffer: 4 << 20 });
    await rename(tmp, path);
  } catch (cause) {
    await unlink(tmp).catch(() => undefined);
    const msg = (cause as { stderr?: string }).stderr?.trim().split('\n').pop() ?? (cause as Error).message;
    throw new RecordingError('RECORDING_IO', `the clip of ${o.cameraId} could not be cut: ${msg}`, { cause, detail: { camera: o.cameraId } });
  } finally {
    await unlink(list).catch(() => undefined);
  }
  const bytes = (await stat(path)).size;
  return { cameraId: o.cameraId, from: o.from, to: o.to, start, end, path, bytes, gaps: o.gaps, spans, sha256: await sha256File(path) };
}
