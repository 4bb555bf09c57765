import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds, type KeyPair } from '@nats-io/jwt';
import { AlertError } from '../common/errors.js';
import { createExclusive } from '../common/node-key.js';
import { ALERT_STREAM, ALERT_STREAM_V2 } from './credentials.js';

/**
 * The second deployment configuration: nats-server in operator mode, users authenticated by creds files (a user
 * JWT signed by the account, and the user's nkey seed) instead of the passwords in nats.conf. nats-server 2.9
 * cannot mix operator mode with the file's users, so this is a config of its own (`nats-operator.conf`), minted
 * here with @nats-io/jwt (Debian has no `nsc`).
 *
 * The users' permissions are those of nats.conf's CORE_PERMS and SUBSCRIBER_PERMS, written once more below; a test
 * reads nats.conf and checks the two say the same.
 */
export interface NatsPermissions {
  readonly pub: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  readonly sub: { readonly allow: readonly string[] };
}

/** The core (the producer): its alert and event subjects, and the JetStream API requests for its own stream. */
export const CORE_PERMISSIONS: NatsPermissions = Object.freeze({
  pub: {
    allow: [
      'citybrain.alerts.>', 'citybrain.v2.alerts.>', 'citybrain.events.>',
      '$JS.API.INFO',
      ...[ALERT_STREAM, ALERT_STREAM_V2].flatMap((s) => [`$JS.API.STREAM.INFO.${s}`, `$JS.API.STREAM.CREATE.${s}`, `$JS.API.STREAM.UPDATE.${s}`]),
    ],
    deny: [],
  },
  sub: { allow: ['_INBOX.>'] },
});

/** A desk (subscriber): reads alerts and events, consumes from durable consumers; publishes nothing under citybrain. */
export const SUBSCRIBER_PERMISSIONS: NatsPermissions = Object.freeze({
  pub: {
    allow: [
      '$JS.API.INFO', '$JS.API.STREAM.NAMES',
      ...[ALERT_STREAM, ALERT_STREAM_V2].flatMap((s) => [
        `$JS.API.STREAM.INFO.${s}`, `$JS.API.CONSUMER.CREATE.${s}`, `$JS.API.CONSUMER.CREATE.${s}.>`,
        `$JS.API.CONSUMER.DURABLE.CREATE.${s}.>`, `$JS.API.CONSUMER.INFO.${s}.>`, `$JS.API.CONSUMER.NAMES.${s}`,
        `$JS.API.CONSUMER.LIST.${s}`, `$JS.API.CONSUMER.MSG.NEXT.${s}.>`, `$JS.ACK.${s}.>`,
      ]),
    ],
    deny: ['citybrain.>'],
  },
  sub: { allow: ['_INBOX.>', 'citybrain.alerts.>', 'citybrain.v2.alerts.>', 'citybrain.events.>'] },
});

/**
 * JetStream limits of the cvcore account: none of its own (-1), as in nats.conf, where the server's jetstream block
 * (64 MB memory, 1 GB file) bounds everything; the two alert streams reserve 512 MiB each of it.
 */
export const ACCOUNT_JETSTREAM = Object.freeze({ memStorage: -1, diskStorage: -1 });

export const OPERATOR_CONF = 'nats-operator.conf';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface MintOptions {
  /** The folder the files go to (created 0700 when missing). */
  readonly out: string;
  /** Desk (subscriber) users, one creds file each. Default ['desk']. */
  readonly desks?: readonly string[];
  /** Operator name in the JWTs. Default 'cvcore'. */
  readonly operatorName?: string;
}

export interface MintedCreds {
  /** The server config: `nats-server -c <config>` (the embedded start adds `-p` and `-sd`). */
  readonly config: string;
  /** User name -> its creds file (0600): core, admin, and each desk. */
  readonly creds: Readonly<Record<string, string>>;
  /** The nkey seeds of the operator and the accounts (0600): they mint more users; keep them offline. */
  readonly seeds: readonly string[];
  readonly operatorKey: string;
  readonly accountKey: string;
  readonly systemAccountKey: string;
}

const text = (u: Uint8Array): string => new TextDecoder().decode(u);
const seedOf = (kp: KeyPair): string => text(kp.getSeed());

/** Full limits for an account: the JWT defaults are zero (no connections, no subscriptions). */
function accountLimits(jetstream: boolean): Record<string, number | boolean> {
  return {
    subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1,
    ...(jetstream ? { mem_storage: ACCOUNT_JETSTREAM.memStorage, disk_storage: ACCOUNT_JETSTREAM.diskStorage, streams: -1, consumer: -1 } : {}),
  };
}

function perms(p: NatsPermissions): { pub: { allow: string[]; deny?: string[] }; sub: { allow: string[] } } {
  return { pub: { allow: [...p.pub.allow], ...(p.pub.deny.length > 0 ? { deny: [...p.pub.deny] } : {}) }, sub: { allow: [...p.sub.allow] } };
}

function serverConfig(operatorJwt: string, systemKey: string, preload: ReadonlyArray<readonly [string, string, string]>): string {
  return `# nats-server in operator mode for cvcore, written by \`cvcore nats creds init\` (the second deployment configuration).
# Users log in with creds files (JWT + nkey seed); nothing here is secret (JWTs are signed, not encrypted), the
# seeds are not in this file. Start: nats-server -c ${OPERATOR_CONF} [-p PORT] -sd STORE_DIR
# (as nats.conf, the store directory comes from -sd; nats-server 2.9 refuses both).
# Operator mode cannot be mixed with nats.conf's users and passwords: a server runs one or the other.

host: 127.0.0.1
port: 4222
max_payload: 1MB

jetstream {
  max_memory_store: 64MB
  max_file_store: 1GB
}

operator: ${operatorJwt}
system_account: ${systemKey}

# The account JWTs, preloaded: no account server to run. A new account or a changed one means a new file.
resolver: MEMORY
resolver_preload: {
${preload.map(([name, key, jwt]) => `  # ${name}\n  ${key}: ${jwt}`).join('\n')}
}
`;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/**
 * Makes an operator, a system account, the cvcore account (JetStream on) and its users (core, admin, the desks),
 * and writes their creds files (0600), the seeds (0600) and the server config. Nothing is overwritten: a file
 * already there fails the whole run with ALERT_CREDS_EXISTS before anything is written; a bad user name is
 * ALERT_CREDS_BAD_NAME.
 */
export async function mintOperatorCreds(o: MintOptions): Promise<MintedCreds> {
  if (typeof o?.out !== 'string' || o.out.length === 0) throw new TypeError('out must be a non-empty string');
  const desks = [...(o.desks ?? ['desk'])];
  const operatorName = o.operatorName ?? 'cvcore';
  for (const [what, name] of [...desks.map((d) => ['desk', d] as const), ['operator', operatorName] as const]) {
    if (typeof name !== 'string' || !NAME.test(name) || (what === 'desk' && (name === 'core' || name === 'admin'))) {
      throw new AlertError('ALERT_CREDS_BAD_NAME', `${what} name ${JSON.stringify(String(name).slice(0, 80))} must be 1-64 letters, digits, _ or - (and a desk not core or admin)`, { detail: { name: String(name) } });
    }
  }
  if (desks.length === 0 || new Set(desks).size !== desks.length) {
    throw new AlertError('ALERT_CREDS_BAD_NAME', 'desk names must be at least one, each once', { detail: { desks } });
  }
  const out = resolve(o.out);
  const users = ['core', 'admin', ...desks];
  const files = {
    config: join(out, OPERATOR_CONF),
    creds: Object.fromEntries(users.map((u) => [u, join(out, `${u}.creds`)])) as Record<string, string>,
    seeds: ['operator', 'system-account', 'cvcore-account'].map((n) => join(out, `${n}.nk`)),
  };
  const all = [files.config, ...Object.values(files.creds), ...files.seeds];
  const there = [];
  for (const p of all) if (await exists(p)) there.push(p);
  if (there.length > 0) {
    throw new AlertError('ALERT_CREDS_EXISTS', `${there[0]} exists already: creds are never overwritten (move the folder aside, or pick another --out)`, { detail: { files: there } });
  }

  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const systemJwt = await encodeAccount('SYS', system, { limits: accountLimits(false) }, { signer: operator });
  const accountJwt = await encodeAccount('cvcore', account, { limits: accountLimits(true) }, { signer: operator });
  const operatorJwt = await encodeOperator(operatorName, operator, { system_account: system.getPublicKey() });
  const userCreds: Array<readonly [string, string]> = [];
  for (const name of users) {
    const kp = createUser();
    // admin: no permissions section, so everything in the account (as nats.conf's admin).
    const p = name === 'core' ? perms(CORE_PERMISSIONS) : name === 'admin' ? {} : perms(SUBSCRIBER_PERMISSIONS);
    const jwt = await encodeUser(name, kp, account, p);
    userCreds.push([files.creds[name] as string, text(fmtCreds(jwt, kp))]);
  }

  await mkdir(out, { recursive: true, mode: 0o700 });
  const write = async (p: string, data: string, mode: number): Promise<void> => {
    if (!(await createExclusive(p, data, mode))) throw new AlertError('ALERT_CREDS_EXISTS', `${p} appeared while writing: creds are never overwritten`, { detail: { files: [p] } });
  };
  for (const [p, data] of userCreds) await write(p, data, 0o600);
  const [opSeed, sysSeed, accSeed] = files.seeds as [string, string, string];
  await write(opSeed, `${seedOf(operator)}\n`, 0o600);
  await write(sysSeed, `${seedOf(system)}\n`, 0o600);
  await write(accSeed, `${seedOf(account)}\n`, 0o600);
  await write(files.config, serverConfig(operatorJwt, system.getPublicKey(), [
    ['system account (SYS)', system.getPublicKey(), systemJwt],
    ['cvcore account (JetStream)', account.getPublicKey(), accountJwt],
  ]), 0o644);
  return {
    config: files.config, creds: files.creds, seeds: files.seeds,
    operatorKey: operator.getPublicKey(), accountKey: account.getPublicKey(), systemAccountKey: system.getPublicKey(),
  };
}
