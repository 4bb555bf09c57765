/**
 * Names shared with nats.conf. The passwords are the DEMO credentials written in nats.conf (published in this
 * repository): the embedded default and the tests use them; a deployment sets NATS_USER / NATS_PASS (or
 * NATS_CREDS) and changes nats.conf. Keep these in step with nats.conf.
 */
export interface NatsCredentials { readonly user: string; readonly pass: string }

export const DEFAULT_CORE_USER: NatsCredentials = Object.freeze({ user: 'core', pass: 'core-demo-pass' });
export const DEFAULT_SUBSCRIBER_USER: NatsCredentials = Object.freeze({ user: 'subscriber', pass: 'subscriber-demo-pass' });
export const DEFAULT_ADMIN_USER: NatsCredentials = Object.freeze({ user: 'admin', pass: 'admin-demo-pass' });

/** The JetStream stream over the alert subjects; nats.conf grants the core info/create/update on this name only. */
export const ALERT_STREAM = 'CITYBRAIN_ALERTS';
/** The stream of schema v2 (citybrain.v2.alerts.>): crowd alerts with a clear reason, beside their v1 twins. */
export const ALERT_STREAM_V2 = 'CITYBRAIN_ALERTS_V2';

export interface NatsEnvSettings {
  /** NATS_URL, or null when unset (the caller then starts the embedded server). */
  readonly servers: string | null;
  readonly user: string;
  readonly pass: string;
  /** NATS_CREDS: a creds file that replaces user/pass. */
  readonly credsFile: string | undefined;
}

/** How a deployment points the core at its own cluster: NATS_URL, NATS_USER, NATS_PASS or NATS_CREDS. */
export function natsSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NatsEnvSettings {
  const pick = (k: string): string | undefined => {
    const v = env[k];
    return v === undefined || v === '' ? undefined : v;
  };
  return {
    servers: pick('NATS_URL') ?? null,
    user: pick('NATS_USER') ?? DEFAULT_CORE_USER.user,
    pass: pick('NATS_PASS') ?? DEFAULT_CORE_USER.pass,
    credsFile: pick('NATS_CREDS'),
  };
}

/** NATS over TLS: the CA that signed the servers' certificates, and a client certificate where the servers ask for one. */
export interface NatsTls {
  readonly ca: string;
  readonly cert?: string | null;
  readonly key?: string | null;
}

/**
 * The TLS part of a nats.js connect: the CA file (and client certificate) when TLS is configured, nothing
 * otherwise. A `tls://` URL without a CA uses the system's trust store.
 */
export function natsTlsOptions(tls: NatsTls | null | undefined): { tls?: { caFile: string; certFile?: string; keyFile?: string } } {
  if (!tls) return {};
  return { tls: { caFile: tls.ca, ...(tls.cert ? { certFile: tls.cert } : {}), ...(tls.key ? { keyFile: tls.key } : {}) } };
}

/** NATS_CA (and NATS_CERT / NATS_KEY for a client certificate) from the environment, else the config's nats.tls. */
export function natsTlsFrom(config: NatsTls | null, env: NodeJS.ProcessEnv = process.env): NatsTls | null {
  const ca = env['NATS_CA'];
  if (ca) return { ca, cert: env['NATS_CERT'] || null, key: env['NATS_KEY'] || null };
  return config;
}
