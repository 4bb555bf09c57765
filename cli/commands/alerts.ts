import { AckPolicy, connect, DeliverPolicy, type NatsConnection, type NatsError } from 'nats';
import { ALERT_STREAM, ALERT_SUBJECTS, DEFAULT_SUBSCRIBER_USER, validateAlert, type CrowdAlertV1 } from '../../alerts/index.js';
import { AlertError, CvcoreError } from '../../common/errors.js';
import { maskUrl } from '../../common/log.js';
import type { Command } from '../command.js';

const USAGE = `cvcore alerts tail [--subject S] [--durable NAME] [--json] [--count N] [--timeout-ms MS]
                   [--url URL] [--user U] [--pass P]

Follows crowd alerts through a durable JetStream consumer on ${ALERT_STREAM} and acknowledges each one, so a
second run with the same --durable continues where the first stopped.
  --subject S      filter, default ${ALERT_SUBJECTS} (e.g. citybrain.alerts.crowd.Shinan.>)
  --durable NAME   consumer name, default cvcore-tail
  --json           one alert JSON per line instead of a text line
  --count N        stop after N alerts (exit 0), exit 3 when --timeout-ms passes first
  --timeout-ms MS  stop after MS (exit 0 without --count)
  --url URL        default $NATS_URL or nats://127.0.0.1:4222
  --user U --pass P  default $NATS_USER/$NATS_PASS or the demo subscriber user`;

export interface TailOptions {
  url: string;
  user: string;
  pass: string;
  subject: string;
  durable: string;
  json: boolean;
  count: number | null;
  timeoutMs: number | null;
}

/** Parses `tail` options; a RangeError names the option that is wrong. */
export function parseTailArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env): TailOptions {
  const o: TailOptions = {
    url: env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    user: env['NATS_USER'] ?? DEFAULT_SUBSCRIBER_USER.user,
    pass: env['NATS_PASS'] ?? DEFAULT_SUBSCRIBER_USER.pass,
    subject: ALERT_SUBJECTS,
    durable: 'cvcore-tail',
    json: false,
    count: null,
    timeoutMs: null,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new RangeError(`${a} needs a value`);
      return v;
    };
    const positive = (): number => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${a} must be a positive integer`);
      return v;
    };
    switch (a) {
      case '--subject': o.subject = value(); break;
      case '--durable': o.durable = value(); break;
      case '--json': o.json = true; break;
      case '--count': o.count = positive(); break;
      case '--timeout-ms': o.timeoutMs = positive(); break;
      case '--url': o.url = value(); break;
      case '--user': o.user = value(); break;
      case '--pass': o.pass = value(); break;
      default: throw new RangeError(`unknown option ${a ?? ''}`);
    }
  }
  if (!/^[A-Za-z0-9_-]+$/.test(o.durable)) throw new RangeError('--durable must be letters, digits, - or _');
  if (!o.subject.startsWith('citybrain.alerts.')) throw new RangeError(`--subject must be under ${ALERT_SUBJECTS}`);
  return o;
}

export function formatAlert(a: CrowdAlertV1): string {
  return `${new Date(a.at).toISOString()} ${a.phase.padEnd(7)} ${a.severity.padEnd(8)} ${a.district}/${a.camera}/${a.zone} `
    + `count=${a.count} threshold=${a.threshold}${a.density === null ? '' : ` density=${a.density}`} id=${a.id} seq=${a.seq} node=${a.node}`;
}

function toAlertError(err: unknown, o: TailOptions): CvcoreError {
  if (err instanceof CvcoreError) return err;
  const e = err as NatsError;
  if (e?.code === 'AUTHORIZATION_VIOLATION') {
    return new AlertError('ALERT_NATS_AUTH', `NATS refused the credentials for user "${o.user}" on subject "${o.subject}"`, { cause: err, detail: { user: o.user, subject: o.subject } });
  }
  if (e?.code === 'PERMISSIONS_VIOLATION') {
    const subject = e.permissionContext?.subject ?? o.subject;
    return new AlertError('ALERT_NATS_AUTH', `NATS denied user "${o.user}" on subject "${subject}"`, { cause: err, detail: { user: o.user, subject } });
  }
  if (e?.code === 'CONNECTION_REFUSED' || e?.code === 'TIMEOUT') {
    return new AlertError('ALERT_NATS_UNREACHABLE', `NATS at ${maskUrl(o.url)} cannot be reached (${e.message})`, { cause: err });
  }
  return new AlertError('ALERT_NATS_JETSTREAM', `tailing ${ALERT_STREAM} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/**
 * Tails alerts, writing one line per alert to `write`. Resolves with the exit code: 0 when done (count reached,
 * or timeout without a count), 3 when the timeout passed before the count. Rejects with a typed AlertError.
 */
export async function tailAlerts(o: TailOptions, write: (line: string) => void, warn: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<number> {
  let nc: NatsConnection | null = null;
  try {
    nc = await connect({ servers: o.url, user: o.user, pass: o.pass, timeout: 3_000 });
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(ALERT_STREAM, {
      durable_name: o.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: o.subject,
    });
    const consumer = await nc.jetstream().consumers.get(ALERT_STREAM, o.durable);
    const messages = await consumer.consume({ max_messages: 100 });
    let seen = 0;
    let timedOut = false;
    const timer = o.timeoutMs === null ? null : setTimeout(() => { timedOut = true; void messages.close(); }, o.timeoutMs);
    const stopOnSignal = (): void => { void messages.close(); };
    process.once('SIGINT', stopOnSignal);
    try {
      for await (const m of messages) {
        try {
          const a = validateAlert(m.json());
          write(o.json ? JSON.stringify(a) : formatAlert(a));
        } catch (err) {
          // Acknowledged anyway: a message that cannot be read now will not be readable on redelivery either.
          warn(`skipped a message on ${m.subject} that is not a v1 crowd alert: ${(err as Error).message}`);
        }
        m.ack();
        seen += 1;
        if (o.count !== null && seen >= o.count) break;
      }
    } finally {
      if (timer !== null) clearTimeout(timer);
      process.removeListener('SIGINT', stopOnSignal);
    }
    // Acks are fire-and-forget publishes; flush so the server has them before we leave.
    await nc.flush();
    return timedOut && o.count !== null && seen < o.count ? 3 : 0;
  } catch (err) {
    throw toAlertError(err, o);
  } finally {
    if (nc !== null) await nc.close().catch(() => undefined);
  }
}

export const alertsCommand: Command = {
  name: 'alerts',
  summary: 'follow crowd alerts from NATS JetStream (a durable consumer, acknowledged)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub !== 'tail') {
      process.stderr.write(`${sub === undefined ? 'a subcommand is needed' : `unknown subcommand ${sub}`}\n\n${USAGE}\n`);
      return 2;
    }
    let o: TailOptions;
    try {
      o = parseTailArgs(rest);
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    try {
      return await tailAlerts(o, (line) => process.stdout.write(line + '\n'));
    } catch (err) {
      const e = err as CvcoreError;
      process.stderr.write(`error ${e.code}: ${e.message}\n`);
      return 1;
    }
  },
};
