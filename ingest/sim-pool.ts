/**
 * The simulated camera pool for the demo, tests and benchmarks: a real RTSP server (rtsp-streaming-server in a
 * child process) and one ffmpeg publisher per camera looping real footage (vtest.avi converted once to H.264 at
 * set-up), the plate camera's footage (plates.mp4, vehicles with mainland plates, made at set-up by synth/), the face
 * camera's (faces.mp4, a person from astronaut.png who leaves and comes back, synth/faces.ts) or a
 * synthetic test pattern. Everything it starts it stops; the exit hook kills what is left.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { IngestError } from '../common/errors.js';
import { freePort, waitForPort } from '../common/net.js';
import { mediaPath, REPO_ROOT } from '../common/paths.js';
import { requireFfmpeg, spawnTracked, stopChild } from '../common/proc.js';

export type SimSource = 'vtest' | 'plates' | 'faces' | 'synthetic';
/** The looped file of each footage source (faces.mp4: synth/faces.ts, a person who comes and goes); all are H.264 with -g 20 -bf 0, so publishers copy packets. */
const SOURCE_FILES = { vtest: 'vtest.mp4', plates: 'plates.mp4', faces: 'faces.mp4' } as const;
export interface SimCamera { readonly id: string; readonly source: SimSource }
export interface SimPoolOptions {
  readonly cameras: readonly SimCamera[];
  readonly publishPort?: number;
  readonly clientPort?: number;
}

export class SimulatedCameraPool {
  #server: ChildProcess | null = null;
  #publishers = new Map<string, ChildProcess>();
  #publishPort = 0;
  #clientPort = 0;
  #stopping = false;
  #ffmpeg = 'ffmpeg';

  /** rtsp:// URL a camera reads (the client port; the server serves RTP over UDP). */
  url(id: string): string { return `rtsp://127.0.0.1:${this.#clientPort}/${id}`; }
  get clientPort(): number { return this.#clientPort; }

  async start(options: SimPoolOptions): Promise<void> {
    this.#ffmpeg = await requireFfmpeg();
    this.#publishPort = options.publishPort ?? await freePort();
    this.#clientPort = options.clientPort ?? await freePort();
    // Each pool gets its own RTP port range so parallel pools (tests) do not collide.
    const rtpStart = 20000 + 2 * Math.floor(Math.random() * 18000);
    const entry = join(REPO_ROOT, 'dist', 'ingest', 'rtsp-server-main.js');
    this.#server = spawnTracked(process.execPath, [entry, String(this.#publishPort), String(this.#clientPort), String(rtpStart), '400']);
    this.#server.stderr?.on('data', () => { /* drained so the pipe never blocks */ });
    await waitForPort(this.#publishPort, '127.0.0.1', 10_000);
    await waitForPort(this.#clientPort, '127.0.0.1', 10_000);
    for (const cam of options.cameras) this.startPublisher(cam);
    // A camera can be read once its publisher has ANNOUNCEd; give each a moment.
    await new Promise((r) => setTimeout(r, 1500));
  }

  /** Starts (or restarts) the publisher of one camera. */
  startPublisher(cam: SimCamera): void {
    if (this.#publishers.has(cam.id)) return;
    const target = `rtsp://127.0.0.1:${this.#publishPort}/${cam.id}`;
    const args = cam.source !== 'synthetic'
      ? ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', mediaPath(SOURCE_FILES[cam.source]), '-c', 'copy', '-f', 'rtsp', target]
      : ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x480:rate=10', '-c:v', 'libx264', '-preset', 'ultrafast',
        '-tune', 'zerolatency', '-g', '20', '-pix_fmt', 'yuv420p', '-f', 'rtsp', target];
    const p = spawnTracked(this.#ffmpeg, args);
    p.stderr?.on('data', () => { /* drained */ });
    p.on('error', (err) => { throw new IngestError('SETUP_FFMPEG_MISSING', `cannot start ffmpeg: ${err.message}`, { cause: err }); });
    this.#publishers.set(cam.id, p);
    p.once('exit', () => {
      if (this.#publishers.get(cam.id) === p) this.#publishers.delete(cam.id);
      // A publisher dies when the server drops it; bring it back unless we are stopping.
      if (!this.#stopping && !this.#killed.has(cam.id)) setTimeout(() => { if (!this.#stopping && !this.#killed.has(cam.id)) this.startPublisher(cam); }, 1000).unref();
    });
  }

  #killed = new Set<string>();

  /** Kills one publisher (simulating a camera going away) until `resumePublisher`. */
  async killPublisher(id: string): Promise<void> {
    this.#killed.add(id);
    const p = this.#publishers.get(id);
    if (p) await stopChild(p, 500);
  }
  resumePublisher(cam: SimCamera): void {
    this.#killed.delete(cam.id);
    this.startPublisher(cam);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.#publishers.values()].map((p) => stopChild(p, 1000)));
    this.#publishers.clear();
    if (this.#server) await stopChild(this.#server, 1000);
    this.#server = null;
  }
}
