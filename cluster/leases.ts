/**
 * Camera leases (KV CVCORE_LEASES, key = camera id): which analytics node analyses which camera.
 *
 * - Claims and renewals are revision-checked writes, so two nodes never both hold a camera: a create for a camera
 *   never leased, an update from the revision this node read for one released or stale.
 * - nats-server 2.9 has no per-key expiry: each lease carries its renewal, and a lease whose last write (server
 *   time) is older than `ttlMs` is stale and may be taken over. Renewals go out every `renewMs` for all leases at
 *   once; a node that could not renew a lease for `ttlMs - renewMs` (from when it sent the last good renewal)
 *   stops analysing that camera itself before anyone may take it (self-fencing).
 * - A release writes the lease back with no owner and the same epoch; the next owner writes epoch + 1. Alerts
 *   carry the epoch they were decided under, so those of an epoch that has moved on are fenced.
 * - Fair share: with N live analytics nodes (sorted by id) and C enabled cameras, node k's quota is
 *   floor(C/N) + (k < C mod N), capped by its capacity. A node above its quota hands back the surplus only
 *   while some node is below its own quota and capacity (so a join moves no more cameras than needed), and a
 *   camera left free for a TTL is taken by any node with room (so small-capacity nodes cannot strand one), but
 *   never by the node that just handed it over to even out the share.
 */
import type { KV } from 'nats';
import type { Logger } from '../common/log.js';
import { createJson, follow, getJson, updateJson, type Versioned } from './kv.js';
import { fnv1a32 } from './shards.js';
import type { Membership } from './membership.js';
import type { Lease } from './types.js';

export type LeaseLossReason = 'taken' | 'expired' | 'removed' | 'drain' | 'rebalance' | 'stop';

export interface LeaseKeeperOptions {
  readonly kv: KV;
  readonly membership: Membership;
  readonly node: string;
  readonly instance: string;
  readonly capacity: number;
  readonly ttlMs: number;
  readonly renewMs: number;
  /** The enabled cameras of the pool, by id. */
  readonly desired: () => ReadonlySet<string>;
  readonly log: Logger;
  /** Claims in flight at once (a node starting on a big pool). */
  readonly claimConcurrency?: number;
  /**
   * Runs before a lease is handed back while this node still holds it (stop the camera, let its last alerts
   * out; clear its incidents when it was removed), so nothing of it is decided after the release.
   */
  readonly beforeRelease?: (cameraId: string, reason: LeaseLossReason) => Promise<void>;
  /**
   * The longest a hand-over step may hold a release (default 10 s). Rounds wait for releases, so a step that
   * never ended (decisions waiting on a NATS that is failing over) would stop this node renewing and claiming
   * for good, while the others keep handing it cameras it never takes.
   */
  readonly handoverTimeoutMs?: number;
}

interface Held {
  lease: Lease;
  revision: number;
  /** When the last successful renewal was sent (local clock): the self-fencing clock starts here. */
  sentAt: number;
}

export interface LeaseKeeperStats {
  readonly held: number;
  readonly claims: number;
  readonly claimConflicts: number;
  readonly renewals: number;
  readonly renewalFailures: number;
  readonly releases: number;
  /** KV writes of every kind (the control plane's operation count). */
  readonly operations: number;
}

const FREE = '';

export class LeaseKeeper {
  readonly #o: LeaseKeeperOptions;
  readonly #view = new Map<string, Versioned<Lease>>();
  readonly #held = new Map<string, Held>();
  readonly #freeSince = new Map<string, number>();
  /** Cameras this node released to even out the share, and when: it does not take them back for a TTL. */
  readonly #handedOver = new Map<string, number>();
  /** Hand-overs that came back (nobody took the camera): rebalancing backs off, so a node that cannot take its
   *  share does not leave a camera dark most of the time. */
  #handoverFailures = 0;
  #rebalanceQuietUntil = 0;
  readonly #acquired = new Set<(cameraId: string, lease: Lease) => void>();
  readonly #lost = new Set<(cameraId: string, reason: LeaseLossReason) => void>();
  #watch: { stop(): void } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #tick: Promise<void> | null = null;
  #stopped = false;
  #stats = { claims: 0, claimConflicts: 0, renewals: 0, renewalFailures: 0, releases: 0, operations: 0 };

  constructor(o: LeaseKeeperOptions) {
    this.#o = o;
  }

  onAcquired(fn: (cameraId: string, lease: Lease) => void): void { this.#acquired.add(fn); }
  onLost(fn: (cameraId: string, reason: LeaseLossReason) => void): void { this.#lost.add(fn); }

  async start(): Promise<void> {
    await this.#follow();
    this.#timer = setInterval(() => { void this.tick(); }, this.#o.renewMs);
    await this.tick();
  }

  async #follow(): Promise<void> {
    this.#watch = await follow<Lease>(this.#o.kv, (key, v) => {
      if (v) this.#view.set(key, v); else this.#view.delete(key);
    });
  }

  /**
   * A claim lost to a write the view never showed: the view lags the bucket. The key's value is read directly
   * (so the next round claims from the right revision), and when the view had missed more than the key's own
   * renewals, the watch is started again: a watch that silently stopped delivering (its consumer lost with a
   * server) would otherwise keep this node claiming from stale revisions for good while the others hand it
   * cameras it never takes.
   */
  async #resync(id: string, seen: Versioned<Lease> | undefined): Promise<void> {
    const fresh = await getJson<Lease>(this.#o.kv, id).catch(() => null);
    if (!fresh) return;
    // Live holders renew every renewMs: a view whose newest write is a TTL old, while the bucket has a fresh
    // one, has stopped hearing the bucket (a lost race in a live view is not that).
    const now = Date.now();
    let newest = 0;
    for (const v of this.#view.values()) newest = Math.max(newest, v.written);
    const lagging = now - newest >= this.#o.ttlMs && now - fresh.written < this.#o.ttlMs;
    this.#view.set(id, fresh);
    if (!lagging || this.#stopped) return;
    this.#o.log.warn('the lease view lags the bucket: following it again', { camera: id, seenRevision: seen?.revision ?? null, revision: fresh.revision, viewAgeMs: now - newest });
    this.#watch?.stop();
    await this.#follow().catch((err: unknown) => this.#o.log.warn('lease watch restart failed; retrying at the next conflict', { err: err as Error }));
  }

  /** The epoch this node holds the camera under, or null when it does not hold it. */
  epochOf(cameraId: string): number | null {
    return this.#held.get(cameraId)?.lease.epoch ?? null;
  }

  held(): string[] { return [...this.#held.keys()]; }

  /** Every lease as this node last saw it, with its staleness. */
  view(now = Date.now()): { lease: Lease; stale: boolean; written: number }[] {
    return [...this.#view.values()].map((v) => ({ lease: v.value, written: v.written, stale: v.value.node === FREE || now - v.written >= this.#o.ttlMs }));
  }

  stats(): LeaseKeeperStats { return { held: this.#held.size, ...this.#stats }; }

  /** One round: fence, renew, release, claim. Rounds never overlap. */
  tick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#tick ??= this.#round().catch((err: unknown) => this.#o.log.warn('lease round failed', { err: err as Error })).finally(() => { this.#tick = null; });
    return this.#tick;
  }

  async #round(): Promise<void> {
    const now = Date.now();
    // 1. Self-fence: a lease this node could not renew in time may be taken by now.
    for (const [id, h] of this.#held) {
      if (now - h.sentAt >= this.#o.ttlMs - this.#o.renewMs) this.#drop(id, 'expired');
    }
    // 2. Renew every lease at once.
    await Promise.all([...this.#held].map(async ([id, h]) => {
      const sentAt = Date.now();
      const next: Lease = { ...h.lease, renewedAt: sentAt };
      try {
        this.#stats.operations++;
        const rev = await updateJson(this.#o.kv, id, next, h.revision);
        if (!this.#held.has(id)) return;
        if (rev === null) { this.#drop(id, 'taken'); return; }
        this.#stats.renewals++;
        this.#held.set(id, { lease: next, revision: rev, sentAt });
      } catch (err) {
        this.#stats.renewalFailures++;
        this.#o.log.warn('lease renewal failed; retrying next round', { camera: id, err: err as Error });
      }
    }));
    if (this.#stopped) return;
    // 3. Hand back cameras removed or disabled in the pool, and everything when draining.
    const desired = this.#o.desired();
    const draining = this.#o.membership.draining;
    await Promise.all([...this.#held.keys()].map((id) => (draining ? this.release(id, 'drain') : !desired.has(id) ? this.release(id, 'removed') : null)));
    if (draining) return;
    // 4. Fair share.
    const nodes = this.#o.membership.analyticsNodes();
    const k = nodes.findIndex((n) => n.id === this.#o.node);
    const quotaOf = (i: number): number => (nodes.length === 0 ? 0 : Math.floor(desired.size / nodes.length) + (i < desired.size % nodes.length ? 1 : 0));
    const target = k < 0 ? Math.min(this.#o.capacity, Math.ceil(desired.size / Math.max(1, nodes.length + 1))) : Math.min(this.#o.capacity, quotaOf(k));
    const holding = new Map<string, number>();
    for (const v of this.#view.values()) {
      if (v.value.node !== FREE && Date.now() - v.written < this.#o.ttlMs) holding.set(v.value.node, (holding.get(v.value.node) ?? 0) + 1);
    }
    for (const [id, at] of this.#handedOver) {
      const v = this.#view.get(id);
      // Taken by another node: the hand-over worked.
      if (v && v.value.node !== FREE && v.value.node !== this.#o.node && v.written > at) { this.#handedOver.delete(id); this.#handoverFailures = 0; }
    }
    if (this.#held.size > target && now >= this.#rebalanceQuietUntil) {
      const starving = nodes.some((n, i) => n.id !== this.#o.node && (holding.get(n.id) ?? 0) < Math.min(n.capacity, quotaOf(i)));
      if (starving) {
        // The cameras this node ranks lowest go first (rendezvous order), so the choice is stable.
        const surplus = this.#rank([...this.#held.keys()]).slice(target);
        await Promise.all(surplus.map((id) => this.release(id, 'rebalance')));
      }
    }
    // 5. Claim free cameras: up to the quota at once, beyond it (up to capacity) those free for two rounds.
    const free: string[] = [];
    const seen = new Set<string>();
    for (const id of desired) {
      if (this.#held.has(id)) continue;
      const v = this.#view.get(id);
      if (v && v.value.node !== FREE && Date.now() - v.written < this.#o.ttlMs) { this.#freeSince.delete(id); continue; }
      free.push(id);
      seen.add(id);
      if (!this.#freeSince.has(id)) this.#freeSince.set(id, now);
    }
    for (const id of this.#freeSince.keys()) if (!seen.has(id)) this.#freeSince.delete(id);
    const ranked = this.#rank(free);
    const want = Math.max(0, target - this.#held.size);
    // Beyond its quota a node waits a whole TTL (not two rounds) before taking a free camera, and never takes back
    // one it just handed over to a starving node: on a loaded machine the starving node's view may hear of the
    // release seconds late, and a quick take-back became a livelock (release, take back, release...).
    const spillAfterMs = Math.max(2 * this.#o.renewMs, this.#o.ttlMs);
    const spill = ranked.filter((id) => now - (this.#freeSince.get(id) ?? now) >= spillAfterMs && now - (this.#handedOver.get(id) ?? 0) >= this.#o.ttlMs);
    const picks = ranked.slice(0, want);
    for (const id of spill) if (picks.length < this.#o.capacity - this.#held.size && !picks.includes(id)) picks.push(id);
    const limit = this.#o.claimConcurrency ?? 32;
    for (let i = 0; i < picks.length && !this.#stopped; i += limit) {
      await Promise.all(picks.slice(i, i + limit).map((id) => this.#claim(id)));
    }
  }

  /** Rendezvous order: each node prefers different cameras, so nodes starting together rarely race for one. */
  #rank(ids: string[]): string[] {
    const score = (id: string): number => fnv1a32(`${this.#o.node}/${id}`);
    return ids.map((id) => [id, score(id)] as const).sort((a, b) => b[1] - a[1]).map(([id]) => id);
  }

  async #claim(id: string): Promise<void> {
    const cur = this.#view.get(id);
    const now = Date.now();
    // The view may have learnt of another node's claim since this round listed the camera as free: never write
    // over a live lease (its revision would match, so the write itself would not refuse it).
    if (cur && cur.value.node !== FREE && now - cur.written < this.#o.ttlMs) return;
    const lease: Lease = { cameraId: id, node: this.#o.node, instance: this.#o.instance, epoch: (cur?.value.epoch ?? 0) + 1, acquiredAt: now, renewedAt: now };
    let rev: number | null;
    try {
      this.#stats.operations++;
      rev = cur ? await updateJson(this.#o.kv, id, lease, cur.revision) : await createJson(this.#o.kv, id, lease);
    } catch (err) {
      this.#o.log.warn('lease claim failed', { camera: id, err: err as Error });
      return;
    }
    if (rev === null) {
      this.#stats.claimConflicts++;
      await this.#resync(id, cur);
      return;
    }
    if (this.#stopped) return;
    this.#stats.claims++;
    if (this.#handedOver.delete(id)) {
      // Handed over and nobody took it: back off before evening out the share again.
      this.#handoverFailures++;
      const quietMs = Math.min(300_000, this.#o.ttlMs * 2 ** this.#handoverFailures);
      this.#rebalanceQuietUntil = now + quietMs;
      this.#o.log.warn('a camera handed over to even out the share came back: rebalancing waits', { camera: id, quietMs });
    }
    this.#held.set(id, { lease, revision: rev, sentAt: now });
    this.#view.set(id, { value: lease, revision: rev, written: now });
    this.#freeSince.delete(id);
    this.#o.log.info('camera lease acquired', { camera: id, epoch: lease.epoch, takeover: cur !== undefined && cur.value.node !== FREE ? cur.value.node : null });
    for (const fn of this.#acquired) fn(id, lease);
  }

  #drop(id: string, reason: LeaseLossReason): void {
    if (!this.#held.delete(id)) return;
    this.#o.log.info('camera lease lost', { camera: id, reason });
    for (const fn of this.#lost) fn(id, reason);
  }

  /** Hands a lease back (no owner, same epoch) so another node can take it at its next round. */
  async release(id: string, reason: LeaseLossReason): Promise<void> {
    if (!this.#held.has(id)) return;
    if (this.#o.beforeRelease) {
      const limitMs = this.#o.handoverTimeoutMs ?? 10_000;
      let timer: NodeJS.Timeout | undefined;
      const step = this.#o.beforeRelease(id, reason).then(() => 'done' as const, (err: unknown) => {
        this.#o.log.warn('hand-over step failed', { camera: id, err: err as Error });
        return 'done' as const;
      });
      const timedOut = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), limitMs); });
      const outcome = await Promise.race([step, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') this.#o.log.warn('hand-over step still running: releasing the lease anyway (what it decides later carries the old epoch and is fenced)', { camera: id, reason, limitMs });
    }
    const h = this.#held.get(id);
    if (!h) return;
    if (reason === 'rebalance') this.#handedOver.set(id, Date.now());
    this.#drop(id, reason);
    try {
      this.#stats.operations++;
      const rev = await updateJson(this.#o.kv, id, { ...h.lease, node: FREE, instance: FREE, renewedAt: Date.now() }, h.revision);
      if (rev !== null) this.#stats.releases++;
    } catch (err) {
      this.#o.log.warn('lease release failed (it will go stale instead)', { camera: id, err: err as Error });
    }
  }

  /**
   * Stops renewing. With `release` (SIGTERM), hands every lease back at once; without (a test of a crash), the
   * leases are left to go stale.
   */
  async stop(release: boolean): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#tick;
    this.#stopped = true;
    if (release) await Promise.all(this.held().map((id) => this.release(id, 'stop')));
    this.#watch?.stop();
  }
}
