/**
 * Open crowd incidents of a single node, kept durably (`<dataDir>/incidents.json`): each decision's zone state
 * is written (temp file, fsync, rename) before its alert goes to the outbox, so a restarted core continues an
 * incident (update or clear) instead of raising a second one beside it, and a core that starts without a
 * camera or zone that had an open incident clears it. Cluster mode keeps the same state in KV
 * (cluster/incidents.ts). Decisions are a few per minute, so one small file rewritten per decision is cheap.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CrowdAlertEvent } from '../common/messages.js';
import type { Logger } from '../common/log.js';
import type { OpenIncident } from '../tracking/index.js';
import type { IncidentHooks, KeptIncident } from './pipeline.js';

/** A kept incident (with what a clear without the camera's rule needs) and when its last decision was. */
export interface LocalIncident extends KeptIncident {
  readonly at: number;
}

const key = (cameraId: string, zoneId: string): string => `${cameraId}\u0000${zoneId}`;

export class LocalIncidentStore {
  readonly #file: string;
  readonly #log: Logger;
  readonly #open = new Map<string, LocalIncident>();
  #writing: Promise<void> = Promise.resolve();

  private constructor(file: string, log: Logger) {
    this.#file = file;
    this.#log = log;
  }

  static async open(file: string, log: Logger): Promise<LocalIncidentStore> {
    const s = new LocalIncidentStore(file, log);
    await mkdir(dirname(file), { recursive: true });
    try {
      const list = JSON.parse(await readFile(file, 'utf8')) as LocalIncident[];
      for (const i of list) s.#open.set(key(i.cameraId, i.zoneId), i);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.error('open incidents could not be read; incidents open before this start will not be continued', { file, err: err as Error });
    }
    return s;
  }

  /** Every open incident, by camera then zone. */
  all(): LocalIncident[] { return [...this.#open.values()]; }

  /** The open incidents of a camera. */
  ofCamera(cameraId: string): LocalIncident[] {
    return this.all().filter((i) => i.cameraId === cameraId);
  }

  /** Open incidents of cameras not in `present`. */
  orphans(present: ReadonlySet<string>): LocalIncident[] {
    return this.all().filter((i) => !present.has(i.cameraId));
  }

  /** The hooks the pipeline takes on one node: decisions stored before their alerts go out, never fenced. */
  hooks(): IncidentHooks {
    return {
      decide: async (ev, open, ctx) => { await this.record(ev, open, ctx); return 0; },
      load: (cameraId) => this.ofCamera(cameraId),
      orphans: (present) => this.orphans(present),
    };
  }

  /** Stores the zone's state after a decision (the open incident, or none once cleared); durable on return. */
  async record(ev: CrowdAlertEvent, open: OpenIncident | null, ctx: { district: string; location: LocalIncident['location'] }): Promise<void> {
    const k = key(ev.cameraId, ev.zoneId);
    if (open) this.#open.set(k, { cameraId: ev.cameraId, zoneId: ev.zoneId, incident: open, threshold: ev.threshold, windowMs: ev.windowMs, district: ctx.district, location: ctx.location, at: ev.at });
    else if (!this.#open.delete(k)) return;
    await this.#persist();
  }

  /** Writes the whole set, one write at a time, each after the changes before it. */
  #persist(): Promise<void> {
    const next = this.#writing.then(async () => {
      const tmp = `${this.#file}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(JSON.stringify(this.all()));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.#file);
    });
    this.#writing = next.catch((err: unknown) => this.#log.error('open incidents not stored', { err: err as Error }));
    return next;
  }
}
