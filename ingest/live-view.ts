/**
 * Live view for investigators: a camera relayed as MPEG-1 in MPEG-TS over WebSocket, the format the JSMpeg
 * player decodes in a browser. One ffmpeg relay per watched camera, started by its first viewer and stopped
 * `idleMs` after its last viewer leaves (a viewer who reloads the page does not restart ffmpeg). Each camera
 * takes at most `maxViewers` viewers: a relay costs an MPEG-1 encode per camera, and the pool's decoders must
 * keep their CPU. The relay reads the camera itself rather than the analysis frames: viewers get the full
 * picture and rate, and analysis never waits on a viewer.
 */
import type { ChildProcess } from 'node:child_process';
import { IngestError } from '../common/errors.js';
import { spawnTracked, stopChild } from '../common/proc.js';
import { protocolWhitelist } from '../common/camera-url.js';

/** The part of a WebSocket the relay uses (ws's WebSocket satisfies it). */
export interface LiveViewer {
  send(data: Buffer): void;
  close(code?: number, reason?: string): void;
  /** Bytes queued but not yet sent: a viewer too slow to keep up is closed rather than buffered without bound. */
  readonly bufferedAmount: number;
}

export interface LiveViewOptions {
  readonly maxViewers: number;
  readonly idleMs: number;
  /** MPEG-1 bit rate, kbit/s. */
  readonly bitrateKbps: number;
  /** A viewer with more than this many bytes unsent is closed. */
  readonly maxBufferedBytes?: number;
}

export interface LiveSource { readonly url: string; readonly transport: 'tcp' | 'udp' }

/** WebSocket close codes the relay uses: 1013 try again later (cap, relay died), 1008 policy (too slow). */
export const LIVE_CLOSE = { full: 1013, relayEnded: 1011, tooSlow: 1008, removed: 1001 } as const;

/** ffmpeg arguments of the relay: MPEG-1 video in MPEG-TS on stdout, no audio, no B-frames (lower latency). */
export function liveArgs(src: LiveSource, bitrateKbps: number): string[] {
  const input = src.url.startsWith('rtsp://') ? ['-rtsp_transport', src.transport] : ['-re'];
  return ['-hide_banner', '-loglevel', 'error', '-nostdin', '-protocol_whitelist', protocolWhitelist(src.url), ...input, '-i', src.url,
    '-an', '-f', 'mpegts', '-codec:v', 'mpeg1video', '-b:v', `${bitrateKbps}k`, '-bf', '0', '-r', '25', '-'];
}

class Relay {
  readonly viewers = new Set<LiveViewer>();
  proc: ChildProcess | null = null;
  idleTimer: NodeJS.Timeout | null = null;
  bytes = 0;
}

export class LiveViewHub {
  #o: Required<LiveViewOptions>;
  #source: (cameraId: string) => LiveSource;
  #relays = new Map<string, Relay>();

  constructor(options: LiveViewOptions, source: (cameraId: string) => LiveSource) {
    if (!Number.isInteger(options.maxViewers) || options.maxViewers < 1) throw new RangeError('options.maxViewers must be a positive integer');
    if (!(options.idleMs >= 0)) throw new RangeError('options.idleMs must be >= 0');
    if (!(options.bitrateKbps > 0)) throw new RangeError('options.bitrateKbps must be > 0');
    this.#o = { maxBufferedBytes: 8 << 20, ...options };
    this.#source = source;
  }

  /** Viewers of a camera now. */
  viewers(cameraId: string): number { return this.#relays.get(cameraId)?.viewers.size ?? 0; }
  /** Whether a relay process runs for the camera (it outlives its last viewer by `idleMs`). */
  running(cameraId: string): boolean { return this.#relays.get(cameraId)?.proc != null; }
  /** Pid of the camera's relay (tests watch it exit). */
  pid(cameraId: string): number | null { return this.#relays.get(cameraId)?.proc?.pid ?? null; }

  /** Throws INGEST_VIEWER_LIMIT when the camera has no room for another viewer (checked again by `attach`). */
  assertRoom(cameraId: string): void {
    if (this.viewers(cameraId) >= this.#o.maxViewers) {
      throw new IngestError('INGEST_VIEWER_LIMIT', `camera "${cameraId}" has ${this.#o.maxViewers} live viewers already`, { detail: { cameraId, maxViewers: this.#o.maxViewers } });
    }
  }

  /** Adds a viewer, starting the relay if needed; returns the function that removes it. */
  attach(cameraId: string, viewer: LiveViewer): () => void {
    this.assertRoom(cameraId);
    const src = this.#source(cameraId);
    let relay = this.#relays.get(cameraId);
    if (!relay) { relay = new Relay(); this.#relays.set(cameraId, relay); }
    if (relay.idleTimer) { clearTimeout(relay.idleTimer); relay.idleTimer = null; }
    relay.viewers.add(viewer);
    if (!relay.proc) this.#start(cameraId, relay, src);
    const r = relay;
    return () => {
      if (!r.viewers.delete(viewer) || r.viewers.size > 0) return;
      r.idleTimer = setTimeout(() => { r.idleTimer = null; if (r.viewers.size === 0) void this.#stopRelay(cameraId, r); }, this.#o.idleMs);
      r.idleTimer.unref();
    };
  }

  #start(cameraId: string, relay: Relay, src: LiveSource): void {
    const proc = spawnTracked('ffmpeg', liveArgs(src, this.#o.bitrateKbps));
    relay.proc = proc;
    proc.stderr?.on('data', () => { /* drained so the pipe never blocks */ });
    proc.stdout?.on('data', (chunk: Buffer) => {
      relay.bytes += chunk.length;
      for (const v of relay.viewers) {
        if (v.bufferedAmount > this.#o.maxBufferedBytes) {
          relay.viewers.delete(v);
          v.close(LIVE_CLOSE.tooSlow, 'viewer too slow');
          continue;
        }
        v.send(chunk);
      }
    });
    proc.once('exit', () => {
      if (relay.proc !== proc) return;
      relay.proc = null;
      // The camera went away or ffmpeg died: viewers are told so (their player may reconnect later).
      for (const v of relay.viewers) v.close(LIVE_CLOSE.relayEnded, 'INGEST_LIVE_VIEW_FAILED: relay ended');
      relay.viewers.clear();
      if (relay.idleTimer) clearTimeout(relay.idleTimer);
      if (this.#relays.get(cameraId) === relay) this.#relays.delete(cameraId);
    });
  }

  async #stopRelay(cameraId: string, relay: Relay): Promise<void> {
    if (this.#relays.get(cameraId) === relay) this.#relays.delete(cameraId);
    const p = relay.proc;
    relay.proc = null;
    if (p) await stopChild(p, 1000);
  }

  /** Ends a camera's live view now (the camera was removed or changed). */
  async close(cameraId: string): Promise<void> {
    const relay = this.#relays.get(cameraId);
    if (!relay) return;
    for (const v of relay.viewers) v.close(LIVE_CLOSE.removed, 'camera removed');
    relay.viewers.clear();
    if (relay.idleTimer) clearTimeout(relay.idleTimer);
    await this.#stopRelay(cameraId, relay);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#relays.keys()].map((id) => this.close(id)));
  }
}
