import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AckPolicy, connect, credsAuthenticator, DeliverPolicy, type ConsumerMessages, type NatsConnection, type NatsError } from 'nats';
import {
  ALERT_KINDS, ALERT_STREAM, ALERT_STREAM_V2, ALERT_SUBJECTS, ALERT_V2_PREFIX, ALERT_V2_SUBJECTS, DEFAULT_SUBSCRIBER_USER, alertKindFilter, natsTlsFrom, natsTlsOptions, renderAlertSchemas, validateAnyWireAlert,
  type AlarmV1, type CrowdAlertV1, type CrowdAlertV2, type WireAlertV1,
} from '../../alerts/index.js';
import { AlertError, CvcoreError } from '../../common/errors.js';
import { maskUrl } from '../../common/log.js';
import type { Command } from '../command.js';

const DEFAULT_SCHEMA_DIR = 'alerts/schema';

const USAGE = `cvcore alerts tail [--subject S | --kind K[,K...]] [--durable NAME] [--json] [--count N] [--timeout-ms MS]
                   [--url URL] [--user U] [--pass P | --creds FILE]
cvcore alerts schemas [--out DIR] [--check]

tail: follows every alarm kind (${ALERT_KINDS.join(', ')}) through a durable JetStream consumer on
${ALERT_STREAM} and acknowledges each one, so a second run with the same --durable continues where the first
stopped. A kind this version does not know is printed raw.
  --subject S      filter, default ${ALERT_SUBJECTS} (e.g. citybrain.alerts.crowd.Shinan.>); a subject under
                   ${ALERT_V2_SUBJECTS} reads crowd alerts of schema v2 (with the clear reason) from ${ALERT_STREAM_V2}
  --kind K,...     only these kinds (${ALERT_KINDS.join(', ')}): one durable consumer per kind, named NAME-<kind>,
                   filtered on citybrain.alerts.<kind>.>; not with --subject
  --durable NAME   consumer name, default cvcore-tail
  --json           one validated alarm JSON per line instead of a text line
  --count N        stop after N alerts (exit 0), exit 3 when --timeout-ms passes first
  --timeout-ms MS  stop after MS (exit 0 without --count)
  --url URL        default $NATS_URL or nats://127.0.0.1:4222
  --user U --pass P  default $NATS_USER/$NATS_PASS or the demo subscriber user
  --creds FILE     a creds file (operator mode, cvcore nats creds init) instead of user and password;
                   default $NATS_CREDS

schemas: writes the JSON Schema file of every kind (generated from common/alarm-schemas.ts) into DIR, default
${DEFAULT_SCHEMA_DIR}; --check writes nothing and exits 1 naming the files that differ from what it would write.`;

export interface TailOptions {
  url: string;
  user: string;
  pass: string;
  /** A creds file (JWT + nkey seed) that replaces user/pass; null: user and password. */
  creds: string | null;
  subject: string;
  durable: string;
  json: boolean;
  count: number | null;
  timeoutMs: number | null;
  /** Only these kinds (one durable consumer each), or null for the one consumer on `subject`. */
  kinds: string[] | null;
}

/** Parses `tail` options; a RangeError names the option that is wrong. */
export function parseTailArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env): TailOptions {
  const o: TailOptions = {
    url: env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    user: env['NATS_USER'] ?? DEFAULT_SUBSCRIBER_USER.user,
    pass: env['NATS_PASS'] ?? DEFAULT_SUBSCRIBER_USER.pass,
    creds: env['NATS_CREDS'] || null,
    subject: ALERT_SUBJECTS,
    durable: 'cvcore-tail',
    json: false,
    count: null,
    timeoutMs: null,
    kinds: null,
  };
  let subjectGiven = false;
  // --user/--pass on the command line win over a creds file from NATS_CREDS; --creds wins over both.
  let userGiven = false;
  let credsGiven = false;
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
      case '--subject': o.subject = value(); subjectGiven = true; break;
      case '--kind': {
        const kinds = value().split(',').map((k) => k.trim()).filter((k) => k.length > 0);
        const unknown = kinds.filter((k) => !(ALERT_KINDS as readonly string[]).includes(k));
        if (kinds.length === 0 || unknown.length > 0) throw new RangeError(`--kind must list kinds among ${ALERT_KINDS.join(', ')} (got ${unknown.join(', ') || 'none'})`);
        o.kinds = [...new Set(kinds)];
        break;
      }
      case '--durable': o.durable = value(); break;
      case '--json': o.json = true; break;
      case '--count': o.count = positive(); break;
      case '--timeout-ms': o.timeoutMs = positive(); break;
      case '--url': o.url = value(); break;
      case '--user': o.user = value(); userGiven = true; break;
      case '--pass': o.pass = value(); userGiven = true; break;
      case '--creds': o.creds = value(); credsGiven = true; break;
      default: throw new RangeError(`unknown option ${a ?? ''}`);
    }
  }
  if (!/^[A-Za-z0-9_-]+$/.test(o.durable)) throw new RangeError('--durable must be letters, digits, - or _');
  if (!o.subject.startsWith('citybrain.alerts.') && !o.subject.startsWith(`${ALERT_V2_PREFIX}.`)) throw new RangeError(`--subject must be under ${ALERT_SUBJECTS} or ${ALERT_V2_SUBJECTS}`);
  if (subjectGiven && o.kinds !== null) throw new RangeError('--kind and --subject cannot be used together');
  if (userGiven && !credsGiven) o.creds = null;
  return o;
}

export function formatAlert(a: CrowdAlertV1 | CrowdAlertV2): string {
  const reason = a.schemaVersion === 2 && a.clearReason !== null ? ` reason=${a.clearReason}` : '';
  return `${new Date(a.at).toISOString()} ${a.phase.padEnd(7)} ${a.severity.padEnd(8)} ${a.district}/${a.camera}/${a.zone} `
    + `count=${a.count} threshold=${a.threshold}${a.density === null ? '' : ` density=${a.density}`}${reason} id=${a.id} seq=${a.seq} node=${a.node}`;
}

/** `600000` -> `10m`: the units a rule's window is configured in. */
function duration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** One text line per watch-list, frequency or stranger alarm; what identifies the decision, not the person. */
export function formatAlarm(a: AlarmV1): string {
  const head = `${new Date(a.at).toISOString()} ${a.kind.padEnd(9)} ${a.district}/${a.camera}`;
  const tail = `track=${a.track} id=${a.id} seq=${a.seq} node=${a.node}`;
  switch (a.kind) {
    case 'watchlist': {
      const match = a.entryKind === 'face'
        ? `similarity=${a.similarity?.toFixed(3) ?? '?'} threshold=${a.threshold ?? '?'}`
        : `plate=${a.plate ?? '?'} edits=${a.plateEdits ?? '?'}`;
      return `${head} list=${a.list} entry=${a.entry} ${a.entryKind} ${match} ${tail}`;
    }
    case 'frequency':
      return `${head} rule=${a.rule} count=${a.count}/${a.minCount} in ${duration(a.windowMs)} appearances=${a.appearances.length} ${tail}`;
    case 'stranger':
      return `${head} zone=${a.zone} reason=${a.reason}${a.similarity === null ? '' : ` similarity=${a.similarity.toFixed(3)}`} dwell=${duration(a.dwellMs)} ${tail}`;
  }
}

export function formatWireAlert(a: WireAlertV1 | CrowdAlertV2): string {
  return a.kind === 'crowd' ? formatAlert(a) : formatAlarm(a);
}

function toAlertError(err: unknown, t: TailOptions): CvcoreError {
  if (err instanceof CvcoreError) return err;
  // With a creds file the user is the file's: name the file.
  const o = t.creds === null ? t : { ...t, user: `creds ${t.creds}` };
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
    // A tls:// deployment: the CA (and client certificate) from NATS_CA / NATS_CERT / NATS_KEY.
    const auth = o.creds !== null ? { authenticator: credsAuthenticator(await readFile(o.creds)) } : { user: o.user, pass: o.pass };
    nc = await connect({ servers: o.url, ...auth, timeout: 3_000, ...natsTlsOptions(natsTlsFrom(null)) });
    const jsm = await nc.jetstreamManager();
    // One durable per kind rather than one with several filter subjects: those need nats-server 2.10, and a
    // durable per kind also keeps each kind's position when a later run asks for a different set of kinds.
    // A subject in the v2 tree is read from the v2 stream (crowd alerts with a clear reason).
    const stream = o.subject.startsWith(`${ALERT_V2_PREFIX}.`) && o.kinds === null ? ALERT_STREAM_V2 : ALERT_STREAM;
    const specs = o.kinds === null
      ? [{ durable: o.durable, filter: o.subject }]
      : o.kinds.map((k) => ({ durable: `${o.durable}-${k}`, filter: alertKindFilter(k) }));
    const all: ConsumerMessages[] = [];
    for (const spec of specs) {
      await jsm.consumers.add(stream, {
        durable_name: spec.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: spec.filter,
      });
      const consumer = await nc.jetstream().consumers.get(stream, spec.durable);
      all.push(await consumer.consume({ max_messages: 100 }));
    }
    const stopAll = (): void => { for (const messages of all) void messages.close(); };
    let seen = 0;
    let done = false;
    let timedOut = false;
    const timer = o.timeoutMs === null ? null : setTimeout(() => { timedOut = true; stopAll(); }, o.timeoutMs);
    const stopOnSignal = (): void => { stopAll(); };
    process.once('SIGINT', stopOnSignal);
    try {
      await Promise.all(all.map(async (messages) => {
        for await (const m of messages) {
          // Taken after the count was reached elsewhere: left unacknowledged, so it is redelivered to the next run.
          if (done) break;
          try {
            const raw: unknown = m.json();
            const a = validateAnyWireAlert(raw);
            if (a !== null) write(o.json ? JSON.stringify(a) : formatWireAlert(a));
            else write(o.json ? JSON.stringify(raw) : `${m.subject} (a kind this version does not know, shown raw) ${JSON.stringify(raw)}`);
          } catch (err) {
            // Acknowledged anyway: a message that cannot be read now will not be readable on redelivery either.
            warn(`skipped a message on ${m.subject} that does not match its v1 schema: ${(err as Error).message}`);
          }
          m.ack();
          seen += 1;
          if (o.count !== null && seen >= o.count) { done = true; stopAll(); break; }
        }
      }));
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

/** Writes every kind's JSON Schema file into `dir`; returns the paths written. */
export async function writeAlertSchemas(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const { file, text } of renderAlertSchemas()) {
    const path = join(dir, file);
    await writeFile(path, text);
    written.push(path);
  }
  return written;
}

/** The schema files in `dir` that are missing or differ from what `writeAlertSchemas` would write. */
export async function staleAlertSchemas(dir: string): Promise<string[]> {
  const stale: string[] = [];
  for (const { file, text } of renderAlertSchemas()) {
    const current = await readFile(join(dir, file), 'utf8').catch(() => null);
    if (current !== text) stale.push(join(dir, file));
  }
  return stale;
}

async function schemasCommand(args: readonly string[]): Promise<number> {
  let out = DEFAULT_SCHEMA_DIR;
  let check = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--out' && args[i + 1] !== undefined) out = args[++i] as string;
    else if (a === '--check') check = true;
    else {
      process.stderr.write(`${a === '--out' ? '--out needs a value' : `unknown option ${a ?? ''}`}\n\n${USAGE}\n`);
      return 2;
    }
  }
  if (check) {
    const stale = await staleAlertSchemas(out);
    for (const p of stale) process.stderr.write(`stale: ${p} (run cvcore alerts schemas --out ${out})\n`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const p of await writeAlertSchemas(out)) process.stdout.write(`wrote ${p}\n`);
  return 0;
}

export const alertsCommand: Command = {
  name: 'alerts',
  summary: 'follow every alarm kind from NATS JetStream (a durable consumer, acknowledged); write the alarm JSON Schemas',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === 'schemas') return schemasCommand(rest);
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
