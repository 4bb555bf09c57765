/**
 * Tokens issued to named people (`cvcore tokens create`), kept in RocksDB in the data folder (`<dataDir>/tokens`)
 * as SHA-256 hashes only: the secret is printed once and never written. The API resolves every request against
 * the copy in memory, so a revocation made through this store counts on the next request; RocksDB's lock keeps a
 * second process (the CLI while a core runs) out, which sends it to the API instead.
 *
 * Config tokens (`api.tokens[]`) stay beside these: they are the bootstrap admin that issues the first ones.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { API_ROLES, parseDuration, type ApiRole } from '../config/index.js';
import { CvcoreError, TokenError } from '../common/errors.js';
import { createRocks, readRange, type RocksDb } from '../common/rocks.js';

/** Secrets are 32 random bytes (base64url) behind this prefix, so a leaked one is recognisable in a scan. */
export const TOKEN_SECRET_PREFIX = 'cvc_';
/** Without --expires a token lives this long: a token held by a person should end on its own. */
export const DEFAULT_TOKEN_LIFETIME_MS = 90 * 86_400_000;
export const MAX_TOKEN_LIFETIME_MS = 366 * 86_400_000;
export const MIN_TOKEN_LIFETIME_MS = 1_000;
/** Issued tokens kept (revoked and expired ones included, for the audit trail's sake). */
export const MAX_ISSUED_TOKENS = 10_000;
/**
 * A token that ended (expired or revoked) this long ago may be dropped to make room at the bound: console sign-ins
 * (api.oidc) issue one per session. The audit trail keeps naming it (person and id) after it is gone.
 */
export const ENDED_TOKEN_KEEP_MS = 30 * 86_400_000;

/** Tokens that ended before `now - ENDED_TOKEN_KEEP_MS`, oldest end first: what a full store drops. */
export function droppable(tokens: Iterable<IssuedToken>, now: number): IssuedToken[] {
  const end = (t: IssuedToken): number => t.revoked ?? t.expires;
  return [...tokens].filter((t) => end(t) < now - ENDED_TOKEN_KEEP_MS).sort((a, b) => end(a) - end(b));
}

const KEY = 'tok\u0000';
const FORMAT_KEY = 'meta\u0000format';
const FORMAT = '1';

export const TOKEN_STATES = ['active', 'expired', 'revoked'] as const;
export type TokenState = (typeof TOKEN_STATES)[number];

/** One issued token as stored (its secret's SHA-256, never the secret). */
export interface IssuedToken {
  readonly id: string;
  /** The person who holds it: what the audit trail names. */
  readonly person: string;
  readonly role: ApiRole;
  /** Department ids, or ['*']. */
  readonly departments: readonly string[];
  readonly faces: boolean;
  readonly created: number;
  readonly expires: number;
  readonly revoked: number | null;
  readonly revokedBy: string | null;
  readonly createdBy: string;
}

/** An issued token as a store keeps it: with its secret's SHA-256 (never the secret). */
export interface StoredToken extends IssuedToken {
  readonly sha256: string;
}

export interface TokenRequest {
  readonly person: unknown;
  readonly role: unknown;
  readonly departments: unknown;
  readonly faces?: unknown;
  /** A duration ('30d', '12h', ms); default DEFAULT_TOKEN_LIFETIME_MS. */
  readonly expiresIn?: unknown;
}

export type TokenChange = { readonly type: 'revoked'; readonly token: IssuedToken } | { readonly type: 'created'; readonly token: IssuedToken };

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

export function tokenState(t: IssuedToken, now = Date.now()): TokenState {
  if (t.revoked !== null) return 'revoked';
  return now >= t.expires ? 'expired' : 'active';
}

const bad = (field: string, why: string): TokenError => new TokenError('TOKEN_BAD_REQUEST', `${field}: ${why}`, { detail: { field } });

/** Checks a create request field by field; each failure names its field. */
export function checkTokenRequest(r: TokenRequest): { person: string; role: ApiRole; departments: string[]; faces: boolean; lifetimeMs: number } {
  if (typeof r.person !== 'string' || r.person.trim().length === 0 || r.person.length > 120 || /[\u0000-\u001f\u007f]/.test(r.person)) {
    throw bad('person', 'the holder\'s name: 1 to 120 characters, no control characters');
  }
  if (typeof r.role !== 'string' || !(API_ROLES as readonly string[]).includes(r.role)) throw bad('role', `one of ${API_ROLES.join(', ')}`);
  const d = r.departments;
  if (!Array.isArray(d) || d.length === 0 || d.length > 64) throw bad('departments', 'a list of 1 to 64 department ids, or [\'*\']');
  for (const x of d) if (typeof x !== 'string' || x.length === 0 || x.length > 64 || /[\u0000-\u001f,]/.test(x)) throw bad('departments', `not a department id: ${JSON.stringify(x)}`);
  if (d.includes('*') && d.length > 1) throw bad('departments', '\'*\' must stand alone');
  if (r.faces !== undefined && typeof r.faces !== 'boolean') throw bad('faces', 'true or false');
  let lifetimeMs = DEFAULT_TOKEN_LIFETIME_MS;
  if (r.expiresIn !== undefined) {
    if (typeof r.expiresIn !== 'string' && typeof r.expiresIn !== 'number') throw bad('expiresIn', 'a duration such as 30d, 12h or 90m');
    try {
      lifetimeMs = parseDuration(r.expiresIn, 'expiresIn');
    } catch (cause) {
      if (cause instanceof CvcoreError) throw bad('expiresIn', 'a duration such as 30d, 12h or 90m');
      throw cause;
    }
    if (lifetimeMs < MIN_TOKEN_LIFETIME_MS || lifetimeMs > MAX_TOKEN_LIFETIME_MS) throw bad('expiresIn', 'between 1 s and 366 d');
  }
  return { person: r.person.trim(), role: r.role as ApiRole, departments: [...new Set(d as string[])], faces: r.faces ?? true, lifetimeMs };
}

/** What leaves a store: the token without its hash. */
export function publicView(t: StoredToken): IssuedToken {
  const { sha256: _hash, ...rest } = t;
  return Object.freeze({ ...rest, departments: Object.freeze([...rest.departments]) });
}

/**
 * A new token for a checked request: a fresh id (not one `taken` says is used, nor a config token's) and a
 * secret, returned once; only its hash is in the stored token. Every store mints through here.
 */
export function mintToken(req: TokenRequest, createdBy: string, now: number, taken: (id: string) => boolean): { stored: StoredToken; secret: string } {
  const r = checkTokenRequest(req);
  let id: string;
  do id = `tok-${randomBytes(6).toString('hex')}`; while (taken(id));
  const secret = TOKEN_SECRET_PREFIX + randomBytes(32).toString('base64url');
  return {
    stored: {
      id, person: r.person, role: r.role, departments: r.departments, faces: r.faces, created: now, expires: now + r.lifetimeMs,
      revoked: null, revokedBy: null, createdBy, sha256: sha256Hex(secret),
    },
    secret,
  };
}

/**
 * Where issued tokens are kept: one core's RocksDB folder (TokenStore, here), or a cluster's key-value bucket
 * shared by every api node (cluster/issued-tokens.ts). The API reads the copy in memory on every request.
 */
export interface IssuedTokenStore {
  /** Follows creations and revocations, its own and (a shared store) other api nodes'; returns the unsubscribe. */
  onChange(fn: (c: TokenChange) => void): () => void;
  /** Every issued token, newest first; never a secret or its hash. */
  list(): IssuedToken[];
  get(id: string): IssuedToken | null;
  /** The token whose secret hashes to `sha256`, whatever its state. */
  byHash(sha256: string): IssuedToken | null;
  /** Issues a token: the secret is returned once; stored durably before the answer. `reserved`: ids it must not take. */
  create(req: TokenRequest, createdBy: string, reserved?: ReadonlySet<string>): Promise<{ token: IssuedToken; secret: string }>;
  /** Revokes the token (again: unchanged); null when there is none. Stored before it answers; listeners run before it returns. */
  revoke(id: string, by: string): Promise<IssuedToken | null>;
  close(): Promise<void>;
}

/** Newest first, then by id: the order list() answers in. */
export function byNewest(a: IssuedToken, b: IssuedToken): number {
  return b.created - a.created || (a.id < b.id ? -1 : 1);
}

export interface TokenStoreOptions {
  /** The store's folder (the stack uses `<dataDir>/tokens`). */
  readonly dir: string;
  readonly now?: () => number;
  /** Tokens kept at most (default MAX_ISSUED_TOKENS). */
  readonly maxTokens?: number;
}

export class TokenStore implements IssuedTokenStore {
  readonly #db: RocksDb;
  readonly #dir: string;
  readonly #now: () => number;
  readonly #max: number;
  readonly #byId = new Map<string, StoredToken>();
  readonly #byHash = new Map<string, StoredToken>();
  readonly #listeners = new Set<(c: TokenChange) => void>();
  #closed = false;

  private constructor(db: RocksDb, o: TokenStoreOptions) {
    this.#db = db;
    this.#dir = o.dir;
    this.#now = o.now ?? Date.now;
    this.#max = o.maxTokens ?? MAX_ISSUED_TOKENS;
  }

  static async open(o: TokenStoreOptions): Promise<TokenStore> {
    await mkdir(o.dir, { recursive: true });
    const db = createRocks(o.dir);
    try {
      await db.open({ createIfMissing: true });
    } catch (cause) {
      // The binding wraps RocksDB's "lock ... held by process" in "Database is not open": look down the causes.
      const messages: string[] = [];
      for (let e = cause as { message?: unknown; cause?: unknown } | undefined, n = 0; e && n < 5; e = e.cause as typeof e, n++) messages.push(String(e.message ?? e));
      const held = messages.some((m) => /lock/i.test(m));
      throw new TokenError('TOKEN_IO', held
        ? `the token store in ${o.dir} is held by a running core; use --api URL --token T (an admin token)`
        : `the token store in ${o.dir} cannot be opened: ${messages.join(': ')}`, { cause, detail: { dir: o.dir, held } });
    }
    const s = new TokenStore(db, o);
    try {
      await s.#load();
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return s;
  }

  async #load(): Promise<void> {
    const [format] = await this.#db.getMany([FORMAT_KEY]);
    if (format === undefined) await this.#db.batch([{ type: 'put', key: FORMAT_KEY, value: Buffer.from(FORMAT) }], { sync: true });
    else if (format.toString() !== FORMAT) throw new TokenError('TOKEN_IO', `the token store in ${this.#dir} has format ${format.toString()}, this core reads ${FORMAT}`);
    for (const [, v] of await readRange(this.#db, { gte: KEY, lt: `${KEY}\uffff` })) {
      if (!v) continue;
      const t = JSON.parse(v.toString('utf8')) as StoredToken;
      this.#byId.set(t.id, t);
      this.#byHash.set(t.sha256, t);
    }
  }

  /** Follows creations and revocations (the API closes a revoked token's sockets); returns the unsubscribe. */
  onChange(fn: (c: TokenChange) => void): () => void {
    this.#listeners.add(fn);
    return () => { this.#listeners.delete(fn); };
  }

  /** Every issued token, newest first; never a secret or its hash. */
  list(): IssuedToken[] {
    return [...this.#byId.values()].sort(byNewest).map(publicView);
  }

  get(id: string): IssuedToken | null {
    const t = this.#byId.get(id);
    return t ? publicView(t) : null;
  }

  /** The token whose secret hashes to `sha256`, whatever its state (the caller decides what expired and revoked mean). */
  byHash(sha256: string): IssuedToken | null {
    const t = this.#byHash.get(sha256);
    return t ? publicView(t) : null;
  }

  /**
   * Issues a token: the secret is returned here once and only its SHA-256 is written (fsynced before the answer).
   * `reserved` are ids it must not take (the config's token ids).
   */
  async create(req: TokenRequest, createdBy: string, reserved: ReadonlySet<string> = new Set()): Promise<{ token: IssuedToken; secret: string }> {
    this.#open();
    checkTokenRequest(req);
    const max = this.#max;
    if (this.#byId.size >= max) {
      // At the bound: tokens that ended long ago make room (a tenth of the bound at most at once).
      const drop = droppable(this.#byId.values(), this.#now()).slice(0, Math.ceil(max / 10));
      if (drop.length === 0) throw storeFull(max);
      try {
        await this.#db.batch(drop.map((t) => ({ type: 'del' as const, key: KEY + t.id })), { sync: true });
      } catch (cause) {
        throw new TokenError('TOKEN_IO', `the token store in ${this.#dir} cannot be written: ${(cause as Error).message}`, { cause });
      }
      for (const t of drop) {
        const stored = this.#byId.get(t.id);
        this.#byId.delete(t.id);
        if (stored) this.#byHash.delete(stored.sha256);
      }
    }
    const { stored: t, secret } = mintToken(req, createdBy, this.#now(), (id) => this.#byId.has(id) || reserved.has(id));
    await this.#write(t);
    this.#emit({ type: 'created', token: publicView(t) });
    return { token: publicView(t), secret };
  }

  /** Revokes the token (again: unchanged); null when there is none. Written before it answers; listeners run before it returns. */
  async revoke(id: string, by: string): Promise<IssuedToken | null> {
    this.#open();
    const t = this.#byId.get(id);
    if (!t) return null;
    if (t.revoked !== null) return publicView(t);
    const next: StoredToken = { ...t, revoked: this.#now(), revokedBy: by };
    await this.#write(next);
    this.#emit({ type: 'revoked', token: publicView(next) });
    return publicView(next);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await this.#db.close();
  }

  #open(): void {
    if (this.#closed) throw new TokenError('TOKEN_IO', 'the token store is closed');
  }

  async #write(t: StoredToken): Promise<void> {
    try {
      await this.#db.batch([{ type: 'put', key: KEY + t.id, value: Buffer.from(JSON.stringify(t)) }], { sync: true });
    } catch (cause) {
      throw new TokenError('TOKEN_IO', `the token store in ${this.#dir} cannot be written: ${(cause as Error).message}`, { cause });
    }
    this.#byId.set(t.id, t);
    this.#byHash.set(t.sha256, t);
  }

  #emit(c: TokenChange): void {
    for (const fn of this.#listeners) fn(c);
  }
}

/** A store at its bound refuses new tokens (revoked and expired ones count: they are kept for the audit's sake). */
export function storeFull(max = MAX_ISSUED_TOKENS): TokenError {
  return new TokenError('TOKEN_BAD_REQUEST', `the store holds ${max} tokens, its bound, and none ended more than 30 days ago`, { detail: { field: 'store' } });
}

export function openTokenStore(o: TokenStoreOptions): Promise<TokenStore> {
  return TokenStore.open(o);
}
