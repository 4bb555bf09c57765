/**
 * Membership: a node's entry in KV CVCORE_NODES, renewed every `renewMs`, and the view of the others.
 *
 * Identity: a node's id comes from the config, its instance from <dataDir>/cluster-instance (random, written on
 * first start). A restarted node presents the same instance and resumes its identity at once; another process
 * given the same id (a copied config) presents another instance and is refused with CLUSTER_DUPLICATE_NODE while
 * the first still renews. Drain requests live under `drain.<id>` so only the node itself writes its entry.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KV } from 'nats';
import { ClusterError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { ClusterRole } from '../config/index.js';
import { createJson, follow, getJson, updateJson, type Versioned } from './kv.js';
import type { NodeInfo } from './types.js';

export const DRAIN_PREFIX = 'drain.';

export async function nodeInstance(dataDir: string): Promise<string> {
  const file = join(dataDir, 'cluster-instance');
  try {
    const s = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f-]{36}$/.test(s)) return s;
  } catch { /* first start */ }
  const id = randomUUID();
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, id + '\n');
  return id;
}

export interface MembershipOptions {
  readonly kv: KV;
  readonly id: string;
  readonly roles: readonly ClusterRole[];
  readonly instance: string;
  readonly capacity: number;
  readonly shards: readonly number[];
  readonly apiUrl: string | null;
  readonly ttlMs: number;
  readonly renewMs: number;
  readonly log: Logger;
}

export class Membership {
  readonly #o: MembershipOptions;
  #info: NodeInfo;
  #revision = 0;
  #timer: NodeJS.Timeout | null = null;
  #others = new Map<string, Versioned<NodeInfo>>();
  #drains = new Set<string>();
  #watch: { stop(): void } | null = null;
  #drainListeners = new Set<() => void>();
  #renewing: Promise<void> | null = null;
  #lastRenewed = 0;

  private constructor(o: MembershipOptions, info: NodeInfo) {
    this.#o = o;
    this.#info = info;
  }

  /** Registers the node (refusing a live duplicate), follows the others and starts renewing. */
  static async join(o: MembershipOptions): Promise<Membership> {
    const now = Date.now();
    const info: NodeInfo = {
      id: o.id, roles: o.roles, instance: o.instance, startedAt: now, renewedAt: now, capacity: o.capacity, shards: o.shards, apiUrl: o.apiUrl, draining: false,
    };
    const m = new Membership(o, info);
    // A restart ends a drain: the node is back from maintenance.
    await o.kv.delete(DRAIN_PREFIX + o.id).catch(() => undefined);
    for (let attempt = 0; ; attempt++) {
      const cur = await getJson<NodeInfo>(o.kv, o.id);
      if (cur && cur.value.instance !== o.instance && Date.now() - cur.written < o.ttlMs) {
        throw new ClusterError('CLUSTER_DUPLICATE_NODE',
          `node id "${o.id}" is in use by a live node (instance ${cur.value.instance.slice(0, 8)}, renewed ${Date.now() - cur.written} ms ago); give this node another id in the config`,
          { detail: { node: o.id } });
      }
      const rev = cur ? await updateJson(o.kv, o.id, info, cur.revision) : await createJson(o.kv, o.id, info);
      if (rev !== null) { m.#revision = rev; break; }
      if (attempt > 5) throw new ClusterError('CLUSTER_DUPLICATE_NODE', `node id "${o.id}" is being registered by another process at the same time`, { detail: { node: o.id } });
    }
    m.#lastRenewed = Date.now();
    m.#watch = await follow<NodeInfo | { at: number }>(o.kv, (key, v) => {
      if (key.startsWith(DRAIN_PREFIX)) {
        const node = key.slice(DRAIN_PREFIX.length);
        const was = m.#drains.has(node);
        if (v) m.#drains.add(node); else m.#drains.delete(node);
        if (node === o.id && !was && v) for (const l of m.#drainListeners) l();
        return;
      }
      if (v) m.#others.set(key, v as Versioned<NodeInfo>); else m.#others.delete(key);
    });
    m.#timer = setInterval(() => { void m.renew(); }, o.renewMs);
    o.log.info('joined the cluster', { node: o.id, roles: o.roles, instance: o.instance.slice(0, 8) });
    return m;
  }

  get id(): string { return this.#o.id; }
  get info(): NodeInfo { return this.#info; }
  get draining(): boolean { return this.#drains.has(this.#o.id); }
  /** When the entry was last renewed (local clock). */
  get lastRenewed(): number { return this.#lastRenewed; }

  onDrain(fn: () => void): void { this.#drainListeners.add(fn); }

  /**
   * Announces how many cameras the node takes. An analytics node joins with 0 and sets its capacity once its
   * pipeline runs, so the others do not hand it cameras (fair share) before it can take them.
   */
  setCapacity(capacity: number): Promise<void> {
    this.#info = { ...this.#info, capacity };
    return this.renew();
  }

  /** Renews the entry; a write lost to another instance means a duplicate took the id over: logged loudly. */
  renew(): Promise<void> {
    this.#renewing ??= (async () => {
      try {
        this.#info = { ...this.#info, renewedAt: Date.now(), draining: this.draining };
        let rev = await updateJson(this.#o.kv, this.#o.id, this.#info, this.#revision);
        if (rev === null) {
          const cur = await getJson<NodeInfo>(this.#o.kv, this.#o.id);
          if (cur && cur.value.instance !== this.#o.instance) {
            this.#o.log.error('another instance wrote this node\'s membership entry', { node: this.#o.id, other: cur.value.instance.slice(0, 8) });
            return;
          }
          rev = cur ? await updateJson(this.#o.kv, this.#o.id, this.#info, cur.revision) : await createJson(this.#o.kv, this.#o.id, this.#info);
        }
        if (rev !== null) { this.#revision = rev; this.#lastRenewed = Date.now(); }
      } catch (err) {
        this.#o.log.warn('membership renewal failed; retrying', { err: err as Error });
      } finally {
        this.#renewing = null;
      }
    })();
    return this.#renewing;
  }

  /** Every node with an entry, alive or not, with its drain flag (from `drain.<id>`). */
  nodes(now = Date.now()): { info: NodeInfo; alive: boolean }[] {
    return [...this.#others.values()].map((v) => ({
      info: { ...v.value, draining: this.#drains.has(v.value.id) },
      alive: v.value.id === this.#o.id || now - v.written < this.#o.ttlMs,
    }));
  }

  /** Live analytics nodes that take cameras (not draining), sorted by id: the fair-share denominator. */
  analyticsNodes(now = Date.now()): NodeInfo[] {
    return this.nodes(now).filter((n) => n.alive && !n.info.draining && n.info.roles.includes('analytics') && n.info.capacity > 0).map((n) => n.info)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Leaves: deletes the entry (a clean stop), so others stop counting this node at once. */
  async leave(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#renewing;
    this.#watch?.stop();
    await this.#o.kv.delete(this.#o.id, { previousSeq: this.#revision }).catch(() => undefined);
  }
}

/** Asks a node to drain (write `drain.<id>`); CLUSTER_UNKNOWN_NODE when no such node is registered. */
export async function requestDrain(kv: KV, node: string): Promise<void> {
  const cur = await getJson<NodeInfo>(kv, node);
  if (!cur) throw new ClusterError('CLUSTER_UNKNOWN_NODE', `no node "${node}" in the cluster`, { detail: { node } });
  await kv.put(DRAIN_PREFIX + node, new TextEncoder().encode(JSON.stringify({ at: Date.now() })));
}
