/**
 * The camera pool registry: cameras from config, added, changed or removed at run time. Each camera runs on
 * its own; the pool lists them with credentials masked and forwards their status events.
 */
import { IngestError } from '../common/errors.js';
import { maskUrl } from '../common/log.js';
import { parseCamera, type CameraConfig } from '../config/index.js';
import { CameraRunner, type IngestSettings } from './camera.js';
import type { CameraHealth, IngestEvent } from './health.js';
import { LiveViewHub } from './live-view.js';

export interface CameraView extends Omit<CameraConfig, 'url'> {
  /** The URL with user and password replaced by ***. */
  readonly url: string;
  readonly health: CameraHealth;
}

/**
 * Why a camera leaves a node's pool: `removed` from the pool for good (its open incidents end), `replaced` by a
 * changed config (an add follows at once), `released` to another node in cluster mode (its next owner continues).
 */
export type RemovalReason = 'removed' | 'replaced' | 'released';

export class CameraPool {
  #runners = new Map<string, CameraRunner>();
  #settings: IngestSettings;
  #listeners = new Set<(e: IngestEvent) => void>();
  #added = new Set<(r: CameraRunner) => void>();
  #removed = new Set<(id: string, why: RemovalReason) => void>();

  /** Live view (MPEG-1 over WebSocket) of the pool's cameras, relayed on demand. */
  readonly live: LiveViewHub;

  constructor(settings: IngestSettings) {
    this.#settings = settings;
    this.live = new LiveViewHub(
      { maxViewers: settings.liveMaxViewers, idleMs: settings.liveIdleMs, bitrateKbps: settings.liveBitrateKbps },
      (id) => { const c = this.get(id).config; return { url: c.url, transport: c.transport }; },
    );
  }

  on(fn: (e: IngestEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
  /** Lifecycle hooks for the stages downstream (a tracker per camera). */
  /** `removed` says why (see RemovalReason). */
  onCamera(added: (r: CameraRunner) => void, removed: (id: string, why: RemovalReason) => void): void {
    this.#added.add(added);
    this.#removed.add(removed);
  }

  add(input: unknown): CameraView {
    const cfg = input instanceof Object && 'zones' in (input as object) && Object.isFrozen(input) ? (input as CameraConfig) : parseCamera(input);
    if (this.#runners.has(cfg.id)) throw new IngestError('INGEST_DUPLICATE_CAMERA', `camera "${cfg.id}" exists already`, { detail: { cameraId: cfg.id } });
    const runner = new CameraRunner(cfg, this.#settings, (e) => { for (const l of this.#listeners) l(e); });
    this.#runners.set(cfg.id, runner);
    for (const fn of this.#added) fn(runner);
    if (cfg.enabled) runner.start();
    return this.view(runner);
  }

  remove(id: string, why: RemovalReason = 'removed'): void {
    const runner = this.get(id);
    runner.stop();
    void this.live.close(id);
    this.#runners.delete(id);
    for (const fn of this.#removed) fn(id, why);
  }

  /** Replaces a camera's config: stops the old decoder and starts the new one (sequence numbers restart). */
  update(id: string, input: unknown): CameraView {
    this.get(id);
    const cfg = parseCamera(input);
    if (cfg.id !== id) throw new IngestError('INGEST_UNKNOWN_CAMERA', `camera id in the body ("${cfg.id}") differs from "${id}"`, { detail: { cameraId: id } });
    this.remove(id, 'replaced');
    return this.add(cfg);
  }

  get(id: string): CameraRunner {
    const r = this.#runners.get(id);
    if (!r) throw new IngestError('INGEST_UNKNOWN_CAMERA', `no camera "${id}"`, { detail: { cameraId: id } });
    return r;
  }

  has(id: string): boolean { return this.#runners.has(id); }
  runners(): CameraRunner[] { return [...this.#runners.values()]; }

  view(r: CameraRunner): CameraView {
    return { ...r.config, url: maskUrl(r.config.url), health: r.health() };
  }
  list(): CameraView[] { return this.runners().map((r) => this.view(r)); }

  stop(): void {
    for (const r of this.#runners.values()) r.stop();
    void this.live.stop();
  }
}
