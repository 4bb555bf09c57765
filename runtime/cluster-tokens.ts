/**
 * Tokens issued to people, shared by every api node of a cluster: the key-value bucket CVCORE_ISSUED_TOKENS
 * (token id -> the token with its secret's SHA-256, never the secret; JetStream is encrypted at rest). Each api
 * node follows the bucket into memory, so the API resolves a request without a round trip, exactly as it does
 * against one core's RocksDB store (api/token-store.ts).
 *
 * A token issued on one api node counts on the others as soon as their watch delivers it (milliseconds on a
 * healthy cluster); a revocation likewise, and it closes the token's open WebSockets on every api node (4401),
 * not only on the node that revoked it. The node that writes a change applies it to its own copy before it
 * answers, so its next request already sees it. Writes are revision-checked: of two admins revoking the same token
 * at once on two nodes, the second normally finds it revoked and answers the first's revocation; should both
 * writes pass (nats-server 2.9 can let racing checked writes through on a replicated stream), the last one stands
 * and every node's watch converges on it.
 */
import { type KV } from 'nats';
import { TokenError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import {
  MAX_ISSUED_TOKENS, byNewest, checkTokenRequest, droppable, mintToken, publicView, storeFull,
  type IssuedToken, type IssuedTokenStore, type StoredToken, type TokenChange, type TokenRequest,
} from '../api/index.js';
import { clusterErrorOf, createJson, follow, getJson, updateJson, type Versioned } from '../cluster/index.js';

/** Attempts of a revision-checked write lost to another writer before giving up (each re-reads the token). */
const WRITE_ATTEMPTS = 8;

export interface KvTokenStoreOptions {
  readonly log?: Logger;
  readonly now?: () => number;
}

export class KvTokenStore implements IssuedTokenStore {
  readonly #kv: KV;
  readonly #o: KvTokenStoreOptions;
  readonly #byId = new Map<string, { token: StoredToken; revision: number }>();
  readonly #byHash = new Map<string, StoredToken>();
  readonly #listeners = new Set<(c: TokenChange) => void>();
  #watch: { stop(): void } | null = null;
  /** Until the first delivery of the bucket is in, tokens found are the store's contents, not news. */
  #loaded = false;
  #closed = false;

  private constructor(kv: KV, o: KvTokenStoreOptions) {
    this.#kv = kv;
    this.#o = o;
  }

  /** Follows the bucket; resolves once every token in it is in memory. */
  static async open(kv: KV, o: KvTokenStoreOptions = {}): Promise<KvTokenStore> {
    const s = new KvTokenStore(kv, o);
    s.#watch = await follow<StoredToken>(kv, (key, v) => s.#apply(key, v));
    s.#loaded = true;
    return s;
  }

  /** One value from the bucket (the watch's, or this node's own write): the newest revision wins. */
  #apply(key: string, v: Versioned<StoredToken> | null): void {
    const had = this.#byId.get(key);
    if (v === null) {
      if (!had) return;
      // A token deleted from the bucket (by hand) stops counting: its sockets close as a revoked one's.
      this.#byId.delete(key);
      this.#byHash.delete(had.token.sha256);
      if (had.token.revoked === null) this.#emit({ type: 'revoked', token: publicView({ ...had.token, revoked: Date.now(), revokedBy: 'the token bucket' }) });
      return;
    }
    if (had && had.revision >= v.revision) return;
    const t = v.value;
    if (typeof t !== 'object' || t === null || typeof t.id !== 'string' || typeof t.sha256 !== 'string' || t.id !== key) {
      this.#o.log?.warn('issued tokens: a value in the bucket is not a token; skipped', { key });
      return;
    }
    if (had && had.token.sha256 !== t.sha256) this.#byHash.delete(had.token.sha256);
    this.#byId.set(key, { token: t, revision: v.revision });
    this.#byHash.set(t.sha256, t);
    if (!this.#loaded) return;
    if (!had) this.#emit({ type: 'created', token: publicView(t) });
    else if (had.token.revoked === null && t.revoked !== null) this.#emit({ type: 'revoked', token: publicView(t) });
  }

  onChange(fn: (c: TokenChange) => void): () => void {
    this.#listeners.add(fn);
    return () => { this.#listeners.delete(fn); };
  }

  list(): IssuedToken[] {
    return [...this.#byId.values()].map((e) => e.token).sort(byNewest).map(publicView);
  }

  get(id: string): IssuedToken | null {
    const e = this.#byId.get(id);
    return e ? publicView(e.token) : null;
  }

  byHash(sha256: string): IssuedToken | null {
    const t = this.#byHash.get(sha256);
    return t ? publicView(t) : null;
  }

  async create(req: TokenRequest, createdBy: string, reserved: ReadonlySet<string> = new Set()): Promise<{ token: IssuedToken; secret: string }> {
    this.#open();
    checkTokenRequest(req);
    if (this.#byId.size >= MAX_ISSUED_TOKENS) {
      // At the bound: tokens that ended long ago make room (a tenth of the bound at most at once).
      const drop = droppable([...this.#byId.values()].map((e) => e.token), (this.#o.now ?? Date.now)()).slice(0, Math.ceil(MAX_ISSUED_TOKENS / 10));
      if (drop.length === 0) throw storeFull();
      for (const t of drop) {
        await this.#io('drop an ended token', () => this.#kv.delete(t.id));
        this.#apply(t.id, null);
      }
    }
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const { stored, secret } = mintToken(req, createdBy, (this.#o.now ?? Date.now)(), (id) => this.#byId.has(id) || reserved.has(id));
      // Created only if the id is new cluster-wide (another node may have taken it a moment ago).
      const revision = await this.#io('issue a token', () => createJson(this.#kv, stored.id, stored));
      if (revision === null) continue;
      this.#apply(stored.id, { value: stored, revision, written: Date.now() });
      return { token: publicView(stored), secret };
    }
    throw new TokenError('TOKEN_IO', 'no free token id after several attempts (the bucket is changing fast): try again');
  }

  async revoke(id: string, by: string): Promise<IssuedToken | null> {
    this.#open();
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      // The bucket, not this node's copy: another node may have revoked it a moment ago.
      const cur = await this.#io('read a token', () => getJson<StoredToken>(this.#kv, id));
      if (!cur) return null;
      this.#apply(id, cur);
      if (cur.value.revoked !== null) return publicView(cur.value);
      const next: StoredToken = { ...cur.value, revoked: (this.#o.now ?? Date.now)(), revokedBy: by };
      const revision = await this.#io('revoke a token', () => updateJson(this.#kv, id, next, cur.revision));
      if (revision === null) continue;
      this.#apply(id, { value: next, revision, written: Date.now() });
      return publicView(next);
    }
    throw new TokenError('TOKEN_IO', `token "${id}" changed under every attempt to revoke it: try again`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch?.stop();
    this.#listeners.clear();
  }

  #open(): void {
    if (this.#closed) throw new TokenError('TOKEN_IO', 'the token store is closed');
  }

  /** A NATS failure as the cluster's typed error (CLUSTER_NATS_UNREACHABLE: 503; a missing permission names its subject). */
  async #io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw clusterErrorOf(err, `${what} in the cluster's token bucket`);
    }
  }

  #emit(c: TokenChange): void {
    for (const fn of this.#listeners) {
      try { fn(c); } catch (err) { this.#o.log?.warn('issued tokens: a listener threw', { err: err as Error }); }
    }
  }
}
