import { mintOperatorCreds, OPERATOR_CONF } from '../../alerts/index.js';
import { CvcoreError } from '../../common/errors.js';
import type { Command } from '../command.js';

const USAGE = `cvcore nats creds init --out DIR [--desk NAME[,NAME...]] [--operator NAME]

Mints the second deployment configuration: nats-server in operator mode, users with creds files (JWT + nkey)
instead of nats.conf's passwords. Writes into DIR (created 0700):
  ${OPERATOR_CONF}       the server config (operator JWT, system account, resolver: MEMORY with the account JWTs)
  core.creds               the core: publishes alerts and events, sets up its stream (NATS_CREDS=DIR/core.creds)
  <desk>.creds             one per desk (default: desk): reads alerts, consumes durable consumers, publishes nothing
  admin.creds              everything in the account, for operators
  *.nk                     the operator's and the accounts' seeds: they mint more users; keep them offline
Creds and seeds are 0600. Nothing is overwritten: a file already in DIR fails the run (ALERT_CREDS_EXISTS).`;

/** `cvcore nats creds init`: the operator-mode config and its creds files. */
export const natsCommand: Command = {
  name: 'nats',
  summary: 'mint the operator-mode NATS config (creds files: JWT + nkey) for a deployment',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const [group, sub, ...rest] = args;
    if (group !== 'creds' || sub !== 'init') {
      process.stderr.write(`${group === undefined ? 'a subcommand is needed' : `unknown subcommand ${[group, sub].filter(Boolean).join(' ')}`}\n\n${USAGE}\n`);
      return 2;
    }
    let out: string | null = null;
    let desks: string[] | undefined;
    let operatorName: string | undefined;
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i];
      const v = rest[i + 1];
      if ((a === '--out' || a === '--desk' || a === '--operator') && v === undefined) {
        process.stderr.write(`${a} needs a value\n\n${USAGE}\n`);
        return 2;
      }
      if (a === '--out') out = rest[++i] as string;
      else if (a === '--desk') desks = [...(desks ?? []), ...(rest[++i] as string).split(',').map((d) => d.trim())];
      else if (a === '--operator') operatorName = rest[++i] as string;
      else {
        process.stderr.write(`unknown option ${a ?? ''}\n\n${USAGE}\n`);
        return 2;
      }
    }
    if (out === null) {
      process.stderr.write(`--out is required\n\n${USAGE}\n`);
      return 2;
    }
    try {
      const m = await mintOperatorCreds({ out, ...(desks ? { desks } : {}), ...(operatorName ? { operatorName } : {}) });
      process.stdout.write(`wrote ${m.config}\n`);
      for (const [user, path] of Object.entries(m.creds)) process.stdout.write(`wrote ${path} (${user})\n`);
      for (const path of m.seeds) process.stdout.write(`wrote ${path} (seed: keep offline)\n`);
      process.stdout.write(`operator ${m.operatorKey}\naccount ${m.accountKey}\nsystem account ${m.systemAccountKey}\n`);
      process.stdout.write(`next: nats-server -c ${m.config} -sd <store dir>; the core with NATS_URL=nats://<host>:4222 NATS_CREDS=${m.creds['core']}\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof CvcoreError)) throw err;
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      return 1;
    }
  },
};
