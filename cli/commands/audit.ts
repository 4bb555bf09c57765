/**
 * `cvcore audit`: the tamper-evident audit trail. `verify` walks the hash chain and checks every signed
 * checkpoint (exit 0: it verifies, 1: it does not, the first broken sequence named; 2: usage or a typed error);
 * `export` writes a time range with its proofs as JSON lines; `checkpoint` signs the head now and prints it (keep
 * that line off the node: it is what detects a rollback of the whole database). Each works on a data folder
 * (the core stopped: RocksDB admits one process), through a running core's API (`--api`, admins), and verify on
 * an export file alone (`--file`).
 */
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AuditError, CvcoreError, IndexError } from '../../common/errors.js';
import { loadNodeKey, readNodePublicKey } from '../../common/node-key.js';
import { loadConfig } from '../../config/index.js';
import { openDataKeyring } from '../../common/data-key.js';
import { auditKeyFromPem, openIndex, verifyAuditLines, type AuditVerifyKey, type AuditVerifyReport, type LocalIndex } from '../../search-index/index.js';
import type { Command } from '../command.js';
import { answer, reportApiCommandError } from '../http.js';
import { SEARCH_DEFAULT_API } from './search.js';

const USAGE = [
  'cvcore audit verify [--data-dir D | --config F | --api URL --token T | --file EXPORT] [--from T --to T] [--key PUB.pem | --fingerprint HEX] [--json]',
  '         exit 0: the chain verifies; 1: it does not (the first broken sequence is named); 2: usage or a typed error',
  '       cvcore audit export --from T --to T -o FILE [--data-dir D | --config F | --api URL --token T]',
  '       cvcore audit checkpoint [--data-dir D | --config F | --api URL --token T]   sign the head now; print it (keep a copy off the node)',
  '  times: epoch ms or ISO; the data folder defaults to ./data; --token defaults to $CVCORE_TOKEN',
].join('\n');

const OPTIONS = {
  'data-dir': { type: 'string' }, config: { type: 'string' }, api: { type: 'string' }, token: { type: 'string' }, file: { type: 'string' },
  from: { type: 'string' }, to: { type: 'string' }, key: { type: 'string' }, fingerprint: { type: 'string' }, json: { type: 'boolean', default: false },
  out: { type: 'string', short: 'o' },
} as const;

type Values = ReturnType<typeof parse>['values'];
const parse = (args: string[]) => parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
const out = (s: string): boolean => process.stdout.write(s + '\n');

function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new RangeError(`--${name} must be epoch ms or an ISO time`);
  return t;
}

async function dataDirOf(v: Values): Promise<string> {
  if (v['data-dir'] !== undefined && v.config !== undefined) throw new RangeError('give --data-dir or --config, not both');
  const dir = resolve(v.config !== undefined ? (await loadConfig(v.config)).dataDir : v['data-dir'] ?? 'data');
  if (!existsSync(join(dir, 'index', 'db', 'CURRENT'))) throw new IndexError('INDEX_IO', `${dir} holds no index (no ${join('index', 'db', 'CURRENT')}); give the core's data folder`, { detail: { dir } });
  return dir;
}

/** The config's data key file (with --config); the environment still comes first (openDataKeyring). */
async function keyFileOf(v: Values): Promise<string | undefined> {
  return v.config !== undefined ? (await loadConfig(v.config)).dataKey.file ?? undefined : undefined;
}

function causes(err: unknown): string[] {
  const out: string[] = [];
  for (let e = err as { message?: unknown; cause?: unknown } | undefined, n = 0; e && n < 5; e = e.cause as typeof e, n++) out.push(String(e.message ?? e));
  return out;
}

/** The node's index, opened by this process; a core that holds it answers with the lock, and the way round it. */
async function openLocal(dir: string, sign: boolean, dataKeyFile?: string): Promise<LocalIndex> {
  const key = sign ? await loadNodeKey(dir) : null;
  try {
    // The ring the core uses (the same environment, config or default file), or the index refuses to open.
    const { ring } = await openDataKeyring(dir, dataKeyFile, process.env);
    return await openIndex({ dataKey: ring, dir: join(dir, 'index'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0, audit: { key, checkpointIntervalMs: 0 } });
  } catch (err) {
    if (err instanceof CvcoreError && err.code === 'INDEX_IO' && causes(err).some((m) => /lock/i.test(m))) throw new IndexError('INDEX_IO', `${dir}: the index is held by a running core; use --api URL --token T (an admin token)`, { cause: err });
    throw err;
  }
}

async function keyOf(v: Values, fallbackPem: () => Promise<string>): Promise<AuditVerifyKey> {
  if (v.key !== undefined && v.fingerprint !== undefined) throw new RangeError('give --key or --fingerprint, not both');
  if (v.key !== undefined) {
    let pem: Buffer;
    try {
      pem = await readFile(v.key);
    } catch (cause) {
      throw new AuditError('AUDIT_KEY', `${v.key}: cannot read the key file (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, { cause, detail: { file: v.key } });
    }
    return auditKeyFromPem(pem, v.key);
  }
  return auditKeyFromPem(await fallbackPem(), 'the node\'s public key', v.fingerprint);
}

function api(v: Values): { url: string; headers: Record<string, string> } {
  const token = v.token ?? process.env['CVCORE_TOKEN'];
  if (!token) throw new RangeError('a token is needed: --token <token> or CVCORE_TOKEN (an admin\'s)');
  return { url: (v.api ?? SEARCH_DEFAULT_API).replace(/\/+$/, ''), headers: { authorization: `Bearer ${token}` } };
}

const qs = (from?: number, to?: number): string => {
  const p = new URLSearchParams();
  if (from !== undefined) p.set('from', String(from));
  if (to !== undefined) p.set('to', String(to));
  return p.size ? `?${p}` : '';
};

function print(r: AuditVerifyReport, json: boolean, what: string): number {
  if (json) out(JSON.stringify(r, null, 2));
  else if (r.ok) {
    out(`ok: ${what} verifies: ${r.chained} chained entries (${r.firstSeq ?? '-'}..${r.lastSeq ?? '-'}), ${r.checkpoints} checkpoints signed by ${r.keyFingerprint}`);
    if (r.unchained > 0) out(`  ${r.unchained} entries were written before the chain began: shown, not proven`);
    if (r.uncovered > 0) out(`  the last ${r.uncovered} entries are not under a checkpoint yet (a clean stop or \`cvcore audit checkpoint\` signs them)`);
  } else {
    out(`BROKEN: ${what} does not verify; first broken sequence ${r.firstBroken} (${r.problemCount} problems)`);
    for (const p of r.problems) out(`  ${String(p.seq).padStart(8)}  ${p.kind.padEnd(10)} ${p.message}`);
  }
  return r.ok ? 0 : 1;
}

async function verify(v: Values): Promise<number> {
  const from = time(v.from, 'from');
  const to = time(v.to, 'to');
  if (v.file !== undefined) {
    const text = await readFile(v.file, 'utf8').catch((cause: unknown) => { throw new AuditError('AUDIT_BAD_FILE', `${v.file}: cannot read (${(cause as Error).message})`, { cause }); });
    const key = v.key !== undefined ? await keyOf(v, async () => '') : undefined;
    const r = verifyAuditLines(text, { ...(key ? { key } : {}), ...(v.fingerprint !== undefined ? { pin: v.fingerprint } : {}) });
    const code = print(r, v.json, `export ${v.file} (${new Date(r.from).toISOString()} .. ${new Date(r.to).toISOString()}, node ${r.node})`);
    if (!v.json && key === undefined && v.fingerprint === undefined) out('  the key is the one in the file: check its fingerprint against the node\'s (`cvcore export key`), or pass --key/--fingerprint');
    return code;
  }
  if (v.api !== undefined) {
    const a = api(v);
    const r = (await answer(await fetch(`${a.url}/api/v1/audit/verify${qs(from, to)}`, { headers: a.headers }))) as AuditVerifyReport;
    // The core checked with its own key; a pinned key must be that one.
    if (v.key !== undefined || v.fingerprint !== undefined) {
      const k = v.key !== undefined ? await keyOf(v, async () => '') : null;
      const want = k?.fingerprint ?? v.fingerprint!.toLowerCase();
      if (r.keyFingerprint !== want) throw new AuditError('AUDIT_KEY', `the core verified with key ${r.keyFingerprint}, not ${want}`);
    }
    return print(r, v.json, `the audit trail of ${a.url}`);
  }
  const dir = await dataDirOf(v);
  const key = await keyOf(v, async () => (await readNodePublicKey(dir)).publicPem);
  const index = await openLocal(dir, false, await keyFileOf(v));
  try {
    const r = await index.verifyAudit({ key, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
    return print(r, v.json, `the audit trail in ${dir}`);
  } finally {
    await index.close();
  }
}

async function exportRange(v: Values): Promise<number> {
  const from = time(v.from, 'from');
  const to = time(v.to, 'to');
  if (from === undefined || to === undefined || v.out === undefined) throw new RangeError('export needs --from, --to and -o FILE');
  let lines: string[];
  if (v.api !== undefined) {
    const a = api(v);
    const res = await fetch(`${a.url}/api/v1/audit/export${qs(from, to)}`, { headers: a.headers });
    if (!res.ok) await answer(res);
    lines = (await res.text()).split('\n').filter(Boolean);
  } else {
    const index = await openLocal(await dataDirOf(v), true, await keyFileOf(v));
    try {
      lines = await index.exportAudit({ from, to });
    } finally {
      await index.close();
    }
  }
  const tmp = `${v.out}.part`;
  await writeFile(tmp, lines.join('\n') + '\n');
  await rename(tmp, v.out);
  const entries = lines.filter((l) => l.startsWith('{"type":"entry"') || l.startsWith('{"type":"unchained"')).length;
  out(`${v.out}: ${entries} entries with their proofs (${lines.length} lines); check it with: cvcore audit verify --file ${v.out} --fingerprint <the node's>`);
  return 0;
}

async function checkpoint(v: Values): Promise<number> {
  let c: unknown;
  if (v.api !== undefined) {
    const a = api(v);
    c = await answer(await fetch(`${a.url}/api/v1/audit/checkpoint`, { method: 'POST', headers: a.headers }));
  } else {
    const index = await openLocal(await dataDirOf(v), true, await keyFileOf(v));
    try {
      c = await index.auditCheckpoint();
    } finally {
      await index.close();
    }
  }
  if (c === null) {
    process.stderr.write('no chain yet: the trail has no chained entry\n');
    return 1;
  }
  out(JSON.stringify(c));
  return 0;
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'the tamper-evident audit trail: verify the hash chain and its signed checkpoints, export a range with its proofs, sign a checkpoint',
  usage: USAGE,
  async run(args) {
    const [sub, ...rest] = args;
    try {
      const v = parse(rest).values;
      if (sub === 'verify') return await verify(v);
      if (sub === 'export') return await exportRange(v);
      if (sub === 'checkpoint') return await checkpoint(v);
      process.stderr.write(`usage: ${USAGE}\n`);
      return 2;
    } catch (err) {
      return reportApiCommandError(err, USAGE);
    }
  },
};
