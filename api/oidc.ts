/**
 * Console sign-in through the city's OpenID Connect provider (config api.oidc): the authorization code flow with
 * PKCE, through openid-client (discovery, the code exchange, the ID token's signature, issuer, audience, expiry
 * and nonce). A person who signs in is mapped by the groups claim to a role, departments and the face grant
 * (first configured group that matches), and gets an issued token of `sessionMs` in the token store, so from
 * there on the console is an ordinary token holder: the same scope checks, the audit names the person, and an
 * admin can revoke the session like any token.
 *
 * The login's state (state, nonce, PKCE verifier, where to go back) travels in a cookie sealed with the data key
 * ring, so the callback may land on any api node of a cluster (they share the key), and nothing is kept in
 * memory between the two requests.
 */
import * as client from 'openid-client';
import { ApiError, ConfigError } from '../common/errors.js';
import type { DataKeyring } from '../common/data-key.js';
import type { ApiRole, OidcConfig } from '../config/index.js';
import { isLoopback } from './tls.js';

export const OIDC_COOKIE = 'cvcore_oidc';
export const OIDC_COOKIE_PATH = '/api/v1/auth/oidc';
/** A login must come back from the provider within this long. */
export const OIDC_LOGIN_TTL_MS = 10 * 60_000;
const SEAL_WHERE = 'oidc-login';
export const OIDC_SECRET_ENV = 'CVCORE_OIDC_CLIENT_SECRET';

interface LoginState { state: string; nonce: string; verifier: string; exp: number }

/** Who signed in, as the token store will know them. */
export interface OidcIdentity {
  readonly subject: string;
  readonly person: string;
  readonly role: ApiRole;
  readonly departments: readonly string[];
  readonly faces: boolean;
  readonly group: string;
}

const providerError = (why: string, cause?: unknown): ApiError =>
  new ApiError(502, 'API_OIDC_PROVIDER', `the sign-in provider: ${why}`, cause !== undefined ? { cause } : undefined);

/**
 * http is allowed for a provider on this machine only (a test or a local proxy), as for the API itself. Checked
 * when the API starts: a core with a wrong sign-in URL does not start (CONFIG_INVALID_VALUE naming the field).
 */
function checkUrl(u: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new ConfigError('CONFIG_INVALID_VALUE', `api.oidc.${what}: not a URL: ${u}`, { detail: { path: `api.oidc.${what}` } });
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname.replace(/^\[|\]$/g, '')))) {
    throw new ConfigError('CONFIG_INVALID_VALUE', `api.oidc.${what} must be https (http only on a loopback host): ${u}`, { detail: { path: `api.oidc.${what}` } });
  }
  return url;
}

export class OidcLogin {
  readonly #o: OidcConfig;
  readonly #ring: DataKeyring;
  readonly #secret: string | null;
  #config: Promise<client.Configuration> | null = null;

  constructor(o: OidcConfig, ring: DataKeyring, env: NodeJS.ProcessEnv = process.env) {
    this.#o = o;
    this.#ring = ring;
    this.#secret = env[OIDC_SECRET_ENV] || o.clientSecret;
    checkUrl(o.issuer, 'issuer');
    checkUrl(o.redirectUrl, 'redirectUrl');
  }

  get label(): string { return this.#o.label; }

  /** The provider's metadata, read once (a failed read is tried again at the next login). */
  #discover(): Promise<client.Configuration> {
    if (!this.#config) {
      const issuer = new URL(this.#o.issuer);
      const insecure = issuer.protocol === 'http:';
      const auth = this.#secret === null ? client.None() : client.ClientSecretPost(this.#secret);
      this.#config = client.discovery(issuer, this.#o.clientId, this.#secret ?? undefined, auth, insecure ? { execute: [client.allowInsecureRequests] } : undefined);
      this.#config.catch(() => { this.#config = null; });
    }
    return this.#config.catch((err: unknown) => { throw providerError(`its discovery document at ${this.#o.issuer} cannot be read: ${(err as Error).message}`, err); });
  }

  /** Where to send the browser, and the sealed cookie that carries the login's state to the callback. */
  async start(now = Date.now()): Promise<{ url: string; cookie: string }> {
    const config = await this.#discover();
    const st: LoginState = { state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier(), exp: now + OIDC_LOGIN_TTL_MS };
    const scopes = this.#o.scopes.includes('openid') ? this.#o.scopes : ['openid', ...this.#o.scopes];
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.#o.redirectUrl, scope: scopes.join(' '), state: st.state, nonce: st.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(st.verifier), code_challenge_method: 'S256',
    });
    return { url: url.href, cookie: this.#ring.seal(Buffer.from(JSON.stringify(st), 'utf8'), SEAL_WHERE).toString('base64url') };
  }

  /**
   * The callback: the state cookie opened and checked, the code exchanged, the ID token checked, the groups
   * mapped. `query` is the callback's query string (without '?').
   */
  async finish(query: string, cookie: string | null, now = Date.now()): Promise<OidcIdentity> {
    const st = this.#openState(cookie, now);
    const params = new URLSearchParams(query);
    const err = params.get('error');
    if (err !== null) throw providerError(`it answered ${err}${params.get('error_description') ? `: ${params.get('error_description')}` : ''}`);
    if (params.get('state') !== st.state) throw new ApiError(400, 'API_OIDC_STATE', 'the sign-in\'s state does not match this browser\'s: start again from the console');
    const config = await this.#discover();
    const current = new URL(this.#o.redirectUrl);
    current.search = query;
    let tokens;
    try {
      tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: st.verifier, expectedState: st.state, expectedNonce: st.nonce, idTokenExpected: true });
    } catch (cause) {
      throw providerError(`the code exchange or the ID token was refused: ${(cause as Error).message}`, cause);
    }
    const id = tokens.claims();
    if (!id) throw providerError('no ID token came back');
    let claims: Record<string, unknown> = { ...id };
    // Providers that follow the spec to the letter put profile claims in userinfo, not in the ID token.
    if (claims[this.#o.groupsClaim] === undefined || claims[this.#o.personClaim] === undefined) {
      try {
        const info = await client.fetchUserInfo(config, tokens.access_token, id.sub);
        claims = { ...info, ...claims };
      } catch (cause) {
        throw providerError(`its userinfo cannot be read: ${(cause as Error).message}`, cause);
      }
    }
    return this.#identity(claims);
  }

  #openState(cookie: string | null, now: number): LoginState {
    const stale = new ApiError(400, 'API_OIDC_STATE', 'this sign-in was not started here, or took longer than 10 minutes: start again from the console');
    if (!cookie) throw stale;
    let st: LoginState;
    try {
      st = JSON.parse(this.#ring.open(Buffer.from(cookie, 'base64url'), SEAL_WHERE).toString('utf8')) as LoginState;
    } catch {
      throw stale;
    }
    if (typeof st.exp !== 'number' || st.exp < now || typeof st.state !== 'string' || typeof st.verifier !== 'string' || typeof st.nonce !== 'string') throw stale;
    return st;
  }

  #identity(claims: Record<string, unknown>): OidcIdentity {
    const subject = String(claims['sub'] ?? '');
    const raw = claims[this.#o.groupsClaim];
    const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : typeof raw === 'string' ? [raw] : [];
    const match = this.#o.groups.find((g) => groups.includes(g.group));
    if (!match) {
      throw new ApiError(403, 'API_OIDC_NO_GROUP', `${subject || 'this person'} is in none of the groups that may use the console (claim "${this.#o.groupsClaim}")`, { detail: { subject } });
    }
    const name = [claims[this.#o.personClaim], claims['email'], subject].find((v) => typeof v === 'string' && v.trim().length > 0) as string | undefined;
    // The token store's rules for a holder's name: 1..120 characters, no control characters.
    const person = (name ?? 'unknown').replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, 120) || 'unknown';
    return { subject, person, role: match.role, departments: match.departments, faces: match.faces, group: match.group };
  }
}

/** One cookie's value from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}
