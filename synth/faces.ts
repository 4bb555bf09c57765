/**
 * The demo's face camera footage, made once at set-up with ffmpeg from a real photo (astronaut.png, scikit-image's
 * portrait of Eileen Collins): a loop of 16 s at 640x480, 10 fps, in which the person is on camera for 7 s (a slow
 * zoom over the photo, the face about 95 px wide growing to 110, the person scored 0.49-0.56 by centernet, above
 * the tracker's highScore) between stretches of an empty, blurred backdrop cut
 * from a part of the photo without her. Empty for 9 s across the loop's seam (longer than the tracker's 2.4 s
 * memory), so each pass of the loop is a distinct track: the person leaves and comes back. H.264 with a keyframe
 * every 20 frames and no B-frames, like plates.mp4, so the RTSP publishers only copy packets. The truth (the
 * seconds of each loop at which the person is on camera) goes beside it as JSON.
 */
import { spawn } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';

/** Bump when the footage changes, so the set-up makes it again. */
export const FACES_FOOTAGE_VERSION = 2;
export const FACE_FOOTAGE = {
  video: 'faces.mp4', truth: 'faces.json', photo: 'astronaut.png', width: 640, height: 480, fps: 10, seconds: 16,
  /** Seconds from the loop's start during which the person is on camera. */
  on: { from: 2, to: 9 },
  /** The photo's side in the frame, standing on the bottom edge. */
  photoSide: 440,
} as const;

export interface FaceFootageTruth {
  readonly version: number;
  readonly video: string;
  readonly photo: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Length of one loop, in seconds and frames. */
  readonly seconds: number;
  readonly frames: number;
  /** Per loop: the person is on camera from `from` (inclusive) to `to` (exclusive), in seconds of the loop. */
  readonly appearances: readonly { readonly from: number; readonly to: number; readonly firstFrame: number; readonly lastFrame: number }[];
  /** Where the photo sits in the frame (its 512x512 scaled to this box at the zoom's start). */
  readonly photoBox: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
}

/** The ffmpeg arguments that make the footage from `photo` into `out`. */
export function faceFootageArgs(photo: string, out: string, side: number = FACE_FOOTAGE.photoSide): string[] {
  const { width: W, height: H, fps, seconds, on } = FACE_FOOTAGE;
  const frames = Math.round((on.to - on.from) * fps);
  // Backdrop: a 64x48 patch of the studio backdrop above the shuttle model (no person in it), blurred and given a
  // little temporal noise so the empty stretch is a plain textured background, not a frozen frame.
  // Person: the photo 440 px high standing on the bottom edge (centernet scores a person filling the frame's
  // height under the tracker's newTrackScore), zooming in 20 % over the 7 s towards the face (upper middle).
  const graph = [
    `[0:v]crop=64:48:312:4,scale=${W}:${H}:flags=bicubic,boxblur=8:2,noise=alls=6:allf=t,format=yuv420p[bg]`,
    `[1:v]scale=${side}:${side},zoompan=z='1+0.2*on/${frames - 1}':x='(iw-iw/zoom)*0.44':y='(ih-ih/zoom)*0.2':d=${frames}:s=${side}x${side}:fps=${fps},` +
      `setpts=PTS-STARTPTS+${on.from}/TB,format=yuv420p[p]`,
    `[bg][p]overlay=x=${Math.round((W - side) / 2)}:y=${H - side}:eof_action=pass[v]`,
  ].join(';');
  return ['-hide_banner', '-loglevel', 'error', '-y', '-loop', '1', '-framerate', String(fps), '-t', String(seconds), '-i', photo, '-i', photo,
    '-filter_complex', graph, '-map', '[v]', '-r', String(fps), '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-g', '20', '-bf', '0',
    '-pix_fmt', 'yuv420p', '-an', '-f', 'mp4', out];
}

export function faceFootageTruth(): FaceFootageTruth {
  const { width, height, fps, seconds, on, video, photo } = FACE_FOOTAGE;
  return {
    version: FACES_FOOTAGE_VERSION, video, photo, width, height, fps, seconds, frames: seconds * fps,
    appearances: [{ from: on.from, to: on.to, firstFrame: on.from * fps, lastFrame: on.to * fps - 1 }],
    photoBox: { x: Math.round((width - FACE_FOOTAGE.photoSide) / 2), y: height - FACE_FOOTAGE.photoSide, w: FACE_FOOTAGE.photoSide, h: FACE_FOOTAGE.photoSide },
  };
}

/** Writes faces.mp4 and faces.json into `dir` (through temporary names) from `photo` (astronaut.png). */
export async function writeFaceFootage(dir: string, photo: string, ffmpeg = 'ffmpeg'): Promise<FaceFootageTruth> {
  const video = `${dir}/${FACE_FOOTAGE.video}`;
  const tmp = `${video}.tmp.mp4`;
  const enc = spawn(ffmpeg, faceFootageArgs(photo, tmp), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  enc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    enc.once('error', reject);
    enc.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}: ${stderr.trim()}`))));
  });
  await rename(tmp, video);
  const truth = faceFootageTruth();
  const json = `${dir}/${FACE_FOOTAGE.truth}`;
  await writeFile(`${json}.tmp`, JSON.stringify(truth, null, 1));
  await rename(`${json}.tmp`, json);
  return truth;
}
