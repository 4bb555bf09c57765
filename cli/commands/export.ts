/**
 * `cvcore export`: evidence exports. `verify` checks a zip on its own (no core, no API: the court's side);
 * `key` prints the node's public key fingerprint to check an export's origin against; `create`, `ls` and
 * `download` go through the HTTP API, so the same token, scope and audit trail apply as in any other client.
 */
import { createWriteStream } from 'node:fs';
import { readFile, rename, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { readNodePublicKey, verifyExport, verifyProblems, type VerifyOptions } from '../../evidence/index.js';
import type { Command } from '../command.js';
import { DEFAULT_API, answer, apiTarget, reportApiCommandError } from '../http.js';

const USAGE = [
  'cvcore export verify FILE [--key PUB.pem | --fingerprint HEX] [--json]   check an export zip (exit 0: it verifies, 1: it does not, 2: bad file or usage)',
  '       cvcore export key [--data-dir DIR | --api URL --token T] [--json]     this node\'s public key and its fingerprint',
  '       cvcore export create (--track ID ... | --alarm ID ... | --camera ID ... --from T --to T) [--note TEXT] [-o FILE] [--api URL] [--token T] [--json]',
  '       cvcore export ls [--api URL] [--token T] [--json]',
  '       cvcore export download ID -o FILE [--api URL] [--token T]',
  '  times: epoch ms or ISO; --api defaults to $CVCORE_API or ' + DEFAULT_API + ', --token to $CVCORE_TOKEN',
].join('\n');

interface ExportView { id: string; createdAt: number; createdBy: string; departments: string[]; bytes: number; files: number; sha256: string; downloadRef: string; request: { missing?: { cameraId: string; code: string }[] }; hold: { note: string } | null }

const out = (s: string): boolean => process.stdout.write(s + '\n');

function apiOf(values: { api?: string | undefined; token?: string | undefined }): { api: string; headers: Record<string, string> } {
  const target = apiTarget(values);
  if (typeof target === 'string') throw new RangeError(target);
  return target;
}

/** Streams an answer's body to a file (temp name, then rename: no half file under the name asked for). */
async function download(url: string, headers: Record<string, string>, file: string): Promise<number> {
  const res = await fetch(url, { headers });
  if (!res.ok || !res.body) await answer(res);
  const tmp = `${file}.part`;
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(tmp));
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return Number(res.headers.get('content-length') ?? 0);
}

function line(e: ExportView): string {
  const missing = e.request.missing?.length ? `  missing clips: ${e.request.missing.map((m) => `${m.cameraId} (${m.code})`).join(', ')}` : '';
  return `${e.id}  ${new Date(e.createdAt).toISOString()}  ${e.createdBy.padEnd(14)} ${String(e.bytes).padStart(10)} B  ${e.files} files  ${e.departments.join(',')}${e.hold ? '  HELD' : ''}${missing}`;
}

async function verify(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: { key: { type: 'string' }, fingerprint: { type: 'string' }, json: { type: 'boolean', default: false } } });
  if (positionals.length !== 1) throw new RangeError('verify takes one FILE');
  if (values.key !== undefined && values.fingerprint !== undefined) throw new RangeError('give --key or --fingerprint, not both');
  const opts: VerifyOptions = values.key !== undefined ? { trustedKeyPem: await readFile(values.key, 'utf8') } : values.fingerprint !== undefined ? { trustedFingerprint: values.fingerprint } : {};
  const r = await verifyExport(positionals[0]!, opts);
  if (values.json) out(JSON.stringify(r, null, 2));
  else if (r.ok) {
    out(`ok: export ${r.id} verifies: every file matches the manifest, signed by key ${r.keyFingerprint}${r.keyTrusted ? ' (the trusted key)' : ''}`);
    if (r.keyTrusted === null) out('  the key is the one inside the zip: check its fingerprint against `cvcore export key` of the node, or pass --key/--fingerprint');
  } else {
    out(`FAILED: export ${r.id ?? '?'} does not verify`);
    for (const p of verifyProblems(r)) out(`  ${p}`);
  }
  return r.ok ? 0 : 1;
}

export const exportCommand: Command = {
  name: 'export',
  summary: 'evidence exports: verify a zip (offline), print the node key, create, list and download exports (through the HTTP API)',
  usage: USAGE,
  async run(args) {
    const [sub, ...rest] = args;
    try {
      switch (sub) {
        case 'verify':
          return await verify(rest);
        case 'key': {
          const { values } = parseArgs({ args: rest, strict: true, options: { 'data-dir': { type: 'string' }, api: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean', default: false } } });
          let k: { fingerprint: string; publicKeyPem: string };
          if (values['data-dir'] !== undefined) {
            const local = await readNodePublicKey(values['data-dir']);
            k = { fingerprint: local.fingerprint, publicKeyPem: local.publicPem };
          } else {
            const { api, headers } = apiOf(values);
            k = await answer(await fetch(`${api}/api/v1/exports/key`, { headers })) as typeof k;
          }
          if (values.json) out(JSON.stringify(k, null, 2));
          else process.stdout.write(`fingerprint ${k.fingerprint}\n${k.publicKeyPem.endsWith('\n') ? k.publicKeyPem : k.publicKeyPem + '\n'}`);
          return 0;
        }
        case 'create': {
          const { values } = parseArgs({
            args: rest, strict: true,
            options: {
              track: { type: 'string', multiple: true }, alarm: { type: 'string', multiple: true }, camera: { type: 'string', multiple: true }, from: { type: 'string' }, to: { type: 'string' }, note: { type: 'string' },
              o: { type: 'string', short: 'o' }, api: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean', default: false },
            },
          });
          const { api, headers } = apiOf(values);
          const split = (v: string[] | undefined): string[] => (v ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
          const time = (v: string | undefined): number | string | undefined => (v === undefined ? undefined : /^\d+$/.test(v) ? Number(v) : v);
          const body = { trackIds: split(values.track), alarmIds: split(values.alarm), cameras: split(values.camera), from: time(values.from), to: time(values.to), note: values.note };
          const e = await answer(await fetch(`${api}/api/v1/exports`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) })) as ExportView;
          if (values.json) out(JSON.stringify(e, null, 2));
          else out(line(e));
          if (values.o !== undefined) {
            await download(api + e.downloadRef, headers, values.o);
            if (!values.json) out(`-> ${values.o} (sha256 ${e.sha256})`);
          }
          return 0;
        }
        case 'ls': {
          const { values } = parseArgs({ args: rest, strict: true, options: { api: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean', default: false } } });
          const { api, headers } = apiOf(values);
          const page = await answer(await fetch(`${api}/api/v1/exports`, { headers })) as { exports: ExportView[] };
          if (values.json) out(JSON.stringify(page, null, 2));
          else if (page.exports.length === 0) out('no exports');
          else for (const e of page.exports) out(line(e));
          return 0;
        }
        case 'download': {
          const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { o: { type: 'string', short: 'o' }, api: { type: 'string' }, token: { type: 'string' } } });
          if (positionals.length !== 1 || values.o === undefined) throw new RangeError('download takes one export ID and -o FILE');
          const { api, headers } = apiOf(values);
          const bytes = await download(`${api}/api/v1/exports/${encodeURIComponent(positionals[0]!)}/download`, headers, values.o);
          out(`${positionals[0]} -> ${values.o} (${bytes} bytes); check it with: cvcore export verify ${values.o}`);
          return 0;
        }
        default:
          process.stderr.write(`${sub === undefined ? 'a subcommand is needed' : `unknown subcommand "${sub}"`}\nusage: ${USAGE}\n`);
          return 2;
      }
    } catch (err) {
      if (err instanceof RangeError) {
        process.stderr.write(`${err.message}\nusage: ${USAGE}\n`);
        return 2;
      }
      return reportApiCommandError(err, USAGE);
    }
  },
};
