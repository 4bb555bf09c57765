/**
 * Open crowd incidents as cluster state (KV CVCORE_INCIDENTS, key `<camera>.<zone>`): the node that analyses a
 * camera writes each decision's incident here before the alert goes to its outbox, so the camera's next owner
 * continues the same incident (update or clear) instead of raising a second one or leaving it open forever.
 * Writes carry the lease epoch and are revision-checked: an entry written under a newer epoch is never
 * overwritten by an older owner (that owner's decision is fenced instead).
 */
import type { KV } from 'nats';
import type { CrowdAlertEvent } from '../common/messages.js';
import type { OpenIncident } from '../tracking/index.js';
import { createJson, getJson, updateJson } from './kv.js';

export interface StoredIncident {
  readonly incident: OpenIncident;
  readonly node: string;
  readonly epoch: number;
  readonly at: number;
}

export const incidentKey = (cameraId: string, zoneId: string): string => `${cameraId}.${zoneId}`;

export class IncidentStore {
  readonly #kv: KV;
  readonly #node: string;

  constructor(kv: KV, node: string) {
    this.#kv = kv;
    this.#node = node;
  }

  /** The open incidents of a camera's zones. */
  async load(cameraId: string, zoneIds: readonly string[]): Promise<Map<string, OpenIncident>> {
    const out = new Map<string, OpenIncident>();
    await Promise.all(zoneIds.map(async (z) => {
      const v = await getJson<StoredIncident>(this.#kv, incidentKey(cameraId, z));
      if (v) out.set(z, v.value.incident);
    }));
    return out;
  }

  /**
   * Stores the zone's state after a decision under lease `epoch`: the open incident, or nothing once cleared.
   * Resolves false when a newer owner has written the zone since (the decision must not be sent).
   */
  async record(event: CrowdAlertEvent, open: OpenIncident | null, epoch: number): Promise<boolean> {
    const key = incidentKey(event.cameraId, event.zoneId);
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await getJson<StoredIncident>(this.#kv, key);
      if (cur && cur.value.epoch > epoch) return false;
      if (open === null) {
        if (!cur) return true;
        try {
          await this.#kv.delete(key, { previousSeq: cur.revision });
          return true;
        } catch { continue; }
      }
      const value: StoredIncident = { incident: open!, node: this.#node, epoch, at: event.at };
      const rev = cur ? await updateJson(this.#kv, key, value, cur.revision) : await createJson(this.#kv, key, value);
      if (rev !== null) return true;
    }
    return false;
  }
}
