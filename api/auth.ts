/**
 * Tokens and scopes. Secrets are compared by their SHA-256: the presented token is hashed and looked up in a
 * map, so the lookup time says nothing about how close a guess was, and a config may hold only the hash.
 */
import type { ApiTokenConfig } from '../config/index.js';
import type { Scope } from '../search-index/index.js';
import { sha256Hex, tokenState, type IssuedTokenStore } from './token-store.js';
import type { ApiRole, Principal } from './types.js';

export { sha256Hex };

/** What a presented secret is: a caller, a known token that no longer counts (typed 401), or nothing known. */
export type TokenResolution =
  | { readonly kind: 'ok'; readonly principal: Principal }
  | { readonly kind: 'refused'; readonly code: 'API_TOKEN_EXPIRED' | 'API_TOKEN_REVOKED'; readonly tokenId: string }
  | { readonly kind: 'unknown' };

export class TokenTable {
  readonly #byHash = new Map<string, Principal>();
  readonly #issued: IssuedTokenStore | null;

  /** `issued`: tokens issued to people (`cvcore tokens`), looked up after the config's on every request. */
  constructor(tokens: readonly ApiTokenConfig[], issued: IssuedTokenStore | null = null) {
    this.#issued = issued;
    for (const t of tokens) {
      const hash = t.tokenSha256 ?? (t.token !== undefined ? sha256Hex(t.token) : null);
      if (hash === null) throw new TypeError(`api.tokens: token "${t.id}" needs token or tokenSha256`);
      this.#byHash.set(hash, Object.freeze({
        tokenId: t.id,
        role: t.role,
        departments: t.departments.includes('*') ? null : Object.freeze([...t.departments]),
        faces: t.faces ?? true,
        person: null,
        expires: null,
      }));
    }
  }

  get size(): number { return this.#byHash.size + (this.#issued?.list().length ?? 0); }

  /** The config's token ids (an issued token never takes one). */
  configIds(): Set<string> {
    return new Set([...this.#byHash.values()].map((p) => p.tokenId));
  }

  resolve(secret: string): Principal | null {
    const r = this.check(secret);
    return r.kind === 'ok' ? r.principal : null;
  }

  /** Every request goes through here: a revoked or expired issued token stops counting on its next request. */
  check(secret: string, now = Date.now()): TokenResolution {
    const hash = sha256Hex(secret);
    const fixed = this.#byHash.get(hash);
    if (fixed) return { kind: 'ok', principal: fixed };
    const t = this.#issued?.byHash(hash);
    if (!t) return { kind: 'unknown' };
    const state = tokenState(t, now);
    if (state !== 'active') return { kind: 'refused', code: state === 'revoked' ? 'API_TOKEN_REVOKED' : 'API_TOKEN_EXPIRED', tokenId: t.id };
    return {
      kind: 'ok',
      principal: Object.freeze({
        tokenId: t.id, role: t.role, departments: t.departments.includes('*') ? null : t.departments, faces: t.faces, person: t.person, expires: t.expires,
      }),
    };
  }
}

/**
 * Who the audit trail names: the person an issued token was given to, with the token id (two people may share
 * a name); a config token by its id.
 */
export function whoOf(p: Principal): string {
  return p.person === null ? p.tokenId : `${p.person} (${p.tokenId})`;
}

/** Whether the principal's scope covers every one of `departments` (an admin issues tokens only within its own). */
export function coversDepartments(p: Principal, departments: readonly string[]): boolean {
  if (p.departments === null) return true;
  if (departments.includes('*')) return false;
  return departments.every((d) => p.departments!.includes(d));
}

/** The search-index scope for a principal: the index enforces it inside every query. */
export function scopeOf(p: Principal): Scope {
  return p.departments === null ? 'all' : { departments: p.departments };
}

export function inScope(p: Principal, department: string | null | undefined): boolean {
  if (p.departments === null) return true;
  return typeof department === 'string' && p.departments.includes(department);
}

/** How the principal's departments are written into the audit log. */
export function departmentLabel(p: Principal): string {
  return p.departments === null ? '*' : p.departments.join(',');
}

export const ROLES = {
  /** Personal data: the records, their faces and thumbnails. Operators run cameras, they do not search people. */
  search: ['investigator', 'admin'],
  /** Camera lists, alerts, zone counts, the live feed: every role, each within its scope. */
  view: ['investigator', 'operator', 'admin'],
  /** Adding, changing and removing cameras; per-camera and pipeline health. */
  operate: ['operator', 'admin'],
  audit: ['admin'],
} as const satisfies Record<string, readonly ApiRole[]>;

/** Reads `Authorization: Bearer <token>`; `?token=` only where the route allows it (see AccessRule.queryToken). */
export function bearerOf(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}
