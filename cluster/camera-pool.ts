/**
 * The desired camera pool in KV CVCORE_CAMERAS (key = camera id, value = its `cameras[]` config entry): the
 * truth in cluster mode. Any api node adds, changes and removes cameras here (revision-checked, typed errors
 * as on one node); every node follows the bucket. A config file's `cameras[]` seeds it once, when the cluster
 * is created (KV CVCORE_META `seeded`), and never again, so a restarted node cannot undo an operator's change.
 */
import type { KV } from 'nats';
import { IngestError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { DEFAULT_URL_POLICY, parseCamera, type CameraConfig, type CameraUrlPolicy } from '../config/index.js';
import { createJson, follow, getJson, updateJson } from './kv.js';

export class ClusterCameraPool {
  readonly #kv: KV;
  readonly #log: Logger;
  readonly #cameras = new Map<string, { cfg: CameraConfig; revision: number }>();
  readonly #listeners = new Set<(id: string, cfg: CameraConfig | null) => void>();
  #watch: { stop(): void } | null = null;

  readonly #urls: CameraUrlPolicy;

  /** `urls`: the schemes cameras may use (config ingest.urlSchemes); the shared pool never holds local files. */
  constructor(kv: KV, log: Logger, urls: CameraUrlPolicy = DEFAULT_URL_POLICY) {
    this.#kv = kv;
    this.#log = log;
    this.#urls = { schemes: urls.schemes, allowFiles: false };
  }

  async start(): Promise<void> {
    this.#watch = await follow<unknown>(this.#kv, (key, v) => {
      if (!v) {
        if (this.#cameras.delete(key)) this.#emit(key, null);
        return;
      }
      try {
        const cfg = parseCamera(v.value, `camera ${key}`, this.#urls);
        const prev = this.#cameras.get(key);
        this.#cameras.set(key, { cfg, revision: v.revision });
        if (!prev || JSON.stringify(prev.cfg) !== JSON.stringify(cfg)) this.#emit(key, cfg);
      } catch (err) {
        this.#log.error('a camera in the pool does not validate; it is ignored', { camera: key, err: err as Error });
      }
    });
  }

  stop(): void { this.#watch?.stop(); }

  /** Calls `fn(id, config)` on each add or change and `fn(id, null)` on each removal. */
  onChange(fn: (id: string, cfg: CameraConfig | null) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #emit(id: string, cfg: CameraConfig | null): void {
    for (const l of this.#listeners) {
      try { l(id, cfg); } catch (err) { this.#log.warn('camera pool listener threw', { err: err as Error }); }
    }
  }

  list(): CameraConfig[] { return [...this.#cameras.values()].map((c) => c.cfg).sort((a, b) => (a.id < b.id ? -1 : 1)); }
  get(id: string): CameraConfig | null { return this.#cameras.get(id)?.cfg ?? null; }
  has(id: string): boolean { return this.#cameras.has(id); }
  enabledIds(): Set<string> { return new Set([...this.#cameras.values()].filter((c) => c.cfg.enabled).map((c) => c.cfg.id)); }

  async add(input: unknown): Promise<CameraConfig> {
    const cfg = parseCamera(input, 'body', this.#urls);
    if ((await createJson(this.#kv, cfg.id, cfg)) === null) {
      throw new IngestError('INGEST_DUPLICATE_CAMERA', `camera "${cfg.id}" exists already`, { detail: { cameraId: cfg.id } });
    }
    this.#cameras.set(cfg.id, { cfg, revision: 0 });
    return cfg;
  }

  async update(id: string, input: unknown): Promise<CameraConfig> {
    const cfg = parseCamera(input, 'body', this.#urls);
    if (cfg.id !== id) throw new IngestError('INGEST_UNKNOWN_CAMERA', `camera id in the body ("${cfg.id}") differs from "${id}"`, { detail: { cameraId: id } });
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await getJson<unknown>(this.#kv, id);
      if (!cur) throw new IngestError('INGEST_UNKNOWN_CAMERA', `no camera "${id}"`, { detail: { cameraId: id } });
      if ((await updateJson(this.#kv, id, cfg, cur.revision)) !== null) return cfg;
    }
    throw new IngestError('INGEST_DUPLICATE_CAMERA', `camera "${id}" is being changed by someone else; try again`, { detail: { cameraId: id } });
  }

  async remove(id: string): Promise<void> {
    const cur = await getJson<unknown>(this.#kv, id);
    if (!cur) throw new IngestError('INGEST_UNKNOWN_CAMERA', `no camera "${id}"`, { detail: { cameraId: id } });
    await this.#kv.delete(id, { previousSeq: cur.revision });
    if (this.#cameras.delete(id)) this.#emit(id, null);
  }

  /**
   * Writes the config's cameras once per cluster: the cameras first, then META `seeded`, so a retry after a
   * failure part-way seeds the rest; once `seeded` exists no node seeds again.
   */
  static async seed(meta: KV, cameras: KV, seedCameras: readonly CameraConfig[], log: Logger): Promise<number> {
    if (await getJson(meta, 'seeded')) return 0;
    let n = 0;
    for (const c of seedCameras) if ((await createJson(cameras, c.id, c)) !== null) n++;
    await createJson(meta, 'seeded', { at: Date.now(), cameras: seedCameras.length });
    if (n > 0) log.info('seeded the cluster camera pool from the config', { cameras: n });
    return n;
  }
}
