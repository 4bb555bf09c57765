/**
 * Tokens and scopes. Secrets are compared by their SHA-256: the presented token is hashed and looked up in a
 * map, so the lookup time says nothing about how close a guess was, and a config may hold only the hash.
 */
import { createHash } from 'node:crypto';
import type { ApiTokenConfig } from '../config/index.js';
import type { Scope } from '../search-index/index.js';
import type { ApiRole, Principal } from './types.js';

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

export class TokenTable {
  readonly #byHash = new Map<string, Principal>();

  constructor(tokens: readonly ApiTokenConfig[]) {
    for (const t of tokens) {
      const hash = t.tokenSha256 ?? (t.token !== undefined ? sha256Hex(t.token) : null);
      if (hash === null) throw new TypeError(`api.tokens: token "${t.id}" needs token or tokenSha256`);
      this.#byHash.set(hash, Object.freeze({
        tokenId: t.id,
        role: t.role,
        departments: t.departments.includes('*') ? null : Object.freeze([...t.departments]),
        faces: t.faces ?? true,
      }));
    }
  }

  get size(): number { return this.#byHash.size; }

  resolve(secret: string): Principal | null {
    return this.#byHash.get(sha256Hex(secret)) ?? null;
  }
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
