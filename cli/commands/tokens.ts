/**
 * `cvcore tokens`: API tokens issued to named people. `create` prints the secret once (only its SHA-256 is
 * kept); `list` shows the tokens and their state, never a secret; `revoke` ends one at once, open WebSockets
 * included. Through a running core's API (`--api URL --token T`, an admin's token: the config's bootstrap admin
 * issues the first), or on a stopped core's data folder (`--data-dir D` or `--config F`): RocksDB admits one
 * process, so a running core answers with the way round it, as `cvcore audit` does.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TokenError } from '../../common/errors.js';
import { loadConfig } from '../../config/index.js';
import { openTokenStore, tokenState, type IssuedToken, type TokenStore } from '../../api/index.js';
import type { Command } from '../command.js';
import { answer, reportApiCommandError } from '../http.js';

const USAGE = [
  'cvcore tokens create --person NAME --role investigator|operator|admin --department D [--department D2 ...] [--no-faces] [--expires 30d] [--json]',
  '       cvcore tokens list [--json]',
  '       cvcore tokens revoke ID',
  '  each with --api URL --token T (a running core; an admin token, $CVCORE_TOKEN by default)',
  '  or --data-dir D | --config F (a stopped core\'s data folder; ./data by default)',
  '  --department \'*\': every department; --expires: 1s to 366d, default 90d; the secret is printed once',
].join('\n');

const OPTIONS = {
  'data-dir': { type: 'string' }, config: { type: 'string' }, api: { type: 'string' }, token: { type: 'string' },
  person: { type: 'string' }, role: { type: 'string' }, department: { type: 'string', multiple: true },
  'no-faces': { type: 'boolean', default: false }, expires: { type: 'string' }, json: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parse>['values'];
const parse = (args: string[]) => parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
const out = (s: string): boolean => process.stdout.write(s + '\n');

type TokenView = IssuedToken & { state: string };

/** A running core's API, or null for the data folder. */
function api(v: Values): { url: string; headers: Record<string, string> } | null {
  if (v.api === undefined) return null;
  if (v['data-dir'] !== undefined || v.config !== undefined) throw new RangeError('give --api or a data folder (--data-dir, --config), not both');
  const token = v.token ?? process.env['CVCORE_TOKEN'];
  if (!token) throw new RangeError('a token is needed: --token <token> or CVCORE_TOKEN (an admin\'s)');
  return { url: v.api.replace(/\/+$/, ''), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } };
}

async function local<T>(v: Values, fn: (s: TokenStore) => Promise<T>): Promise<T> {
  if (v['data-dir'] !== undefined && v.config !== undefined) throw new RangeError('give --data-dir or --config, not both');
  const dir = resolve(v.config !== undefined ? (await loadConfig(v.config)).dataDir : v['data-dir'] ?? 'data');
  if (!existsSync(dir)) throw new TokenError('TOKEN_IO', `${dir} does not exist; give the core's data folder`, { detail: { dir } });
  const store = await openTokenStore({ dir: join(dir, 'tokens') });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const date = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

function line(t: TokenView): string {
  return [t.id, t.state.padEnd(7), t.role.padEnd(12), t.departments.join(',').padEnd(20), (t.faces ? 'faces' : 'no-faces').padEnd(8), `expires ${date(t.expires)}`,
    t.revoked !== null ? `revoked ${date(t.revoked)} by ${t.revokedBy}` : '', JSON.stringify(t.person)].filter(Boolean).join('  ');
}

async function create(v: Values): Promise<number> {
  if (v.person === undefined || v.role === undefined || !v.department?.length) throw new RangeError('create needs --person, --role and at least one --department');
  const body = { person: v.person, role: v.role, departments: v.department, faces: !v['no-faces'], ...(v.expires !== undefined ? { expiresIn: v.expires } : {}) };
  const a = api(v);
  let made: { token: TokenView; secret: string };
  if (a) {
    made = (await answer(await fetch(`${a.url}/api/v1/tokens`, { method: 'POST', headers: a.headers, body: JSON.stringify(body) }))) as typeof made;
  } else {
    made = await local(v, async (s) => {
      const r = await s.create(body, `local:${userInfo().username}`);
      return { token: { ...r.token, state: tokenState(r.token) }, secret: r.secret };
    });
  }
  if (v.json) out(JSON.stringify(made, null, 2));
  else {
    out(`issued ${made.token.id} to ${JSON.stringify(made.token.person)}: ${made.token.role} of ${made.token.departments.join(',')}, ${made.token.faces ? 'with' : 'without'} the face grant, expires ${date(made.token.expires)}`);
    out(`secret (shown once, only its SHA-256 is kept): ${made.secret}`);
  }
  return 0;
}

async function list(v: Values): Promise<number> {
  const a = api(v);
  const tokens = a
    ? ((await answer(await fetch(`${a.url}/api/v1/tokens`, { headers: a.headers }))) as { tokens: TokenView[] }).tokens
    : await local(v, async (s) => s.list().map((t) => ({ ...t, state: tokenState(t) })));
  if (v.json) out(JSON.stringify(tokens, null, 2));
  else if (tokens.length === 0) out('no issued tokens');
  else for (const t of tokens) out(line(t));
  return 0;
}

async function revoke(v: Values, id: string | undefined): Promise<number> {
  if (!id) throw new RangeError('revoke needs the token id (cvcore tokens list)');
  const a = api(v);
  const t = a
    ? ((await answer(await fetch(`${a.url}/api/v1/tokens/${encodeURIComponent(id)}/revoke`, { method: 'POST', headers: { authorization: a.headers['authorization']! } }))) as TokenView)
    : await local(v, async (s) => {
      const r = await s.revoke(id, `local:${userInfo().username}`);
      if (!r) throw new TokenError('TOKEN_NOT_FOUND', `no token "${id}"`);
      return { ...r, state: tokenState(r) };
    });
  if (v.json) out(JSON.stringify(t, null, 2));
  else out(`revoked ${t.id} (${JSON.stringify(t.person)}) at ${date(t.revoked)}`);
  return 0;
}

export const tokensCommand: Command = {
  name: 'tokens',
  summary: 'API tokens issued to named people: create (the secret is printed once), list, revoke',
  usage: USAGE,
  async run(args) {
    const [sub, ...rest] = args;
    try {
      const { values: v, positionals } = parse(rest);
      if (sub === 'create' && positionals.length === 0) return await create(v);
      if (sub === 'list' && positionals.length === 0) return await list(v);
      if (sub === 'revoke' && positionals.length <= 1) return await revoke(v, positionals[0]);
      process.stderr.write(`usage: ${USAGE}\n`);
      return 2;
    } catch (err) {
      return reportApiCommandError(err, USAGE);
    }
  },
};
