/**
 * `cvcore cameras list|add|remove|health`: the camera pool of a running core, through its HTTP API (so it
 * works the same against a local demo and a remote node). URLs come back masked by the API.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { reportError } from '../run.js';

const DEFAULT_API = process.env['CVCORE_API'] ?? 'http://127.0.0.1:8080';
const USAGE = [
  'cvcore cameras list [--api URL] [--token T] [--json]',
  '       cvcore cameras health [ID] [--api URL] [--token T] [--json]',
  '       cvcore cameras add --id ID --url URL [--name N] [--fps F] [--width W] [--height H] [--transport tcp|udp]',
  '                          [--department D] [--district D] [--disabled] [--api URL] [--token T]',
  '       cvcore cameras add --file camera.json [--api URL] [--token T]',
  '       cvcore cameras remove ID [--api URL] [--token T]',
].join('\n');

interface Health { state: string; code: string | null; reason: string | null; fps: number; framesDecoded: number; framesDropped: number; framesSkipped?: number; restarts: number; queueDepth: number }
interface View { id: string; name: string; url: string; department: string; district: string; fps: number; width: number; height: number; enabled: boolean; health: Health }

/** One API call; a non-2xx answer becomes the API's `error CODE: message`. */
/** The API base URL and the bearer token every call carries. */
interface Target { readonly base: string; readonly token: string | undefined }

async function call(api: Target, method: string, path: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    const headers: Record<string, string> = api.token ? { authorization: `Bearer ${api.token}` } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    res = await fetch(`${api.base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (cause) {
    throw new Error(`cannot reach the cvcore API at ${api.base} (${(cause as Error).message}); is the core running? (--api URL)`);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  const json = text ? JSON.parse(text) as unknown : null;
  if (!res.ok) {
    const e = (json ?? {}) as { code?: string; message?: string };
    process.stderr.write(`error ${e.code ?? res.status}: ${e.message ?? text}\n`);
    throw Object.assign(new Error('api'), { reported: true });
  }
  return json;
}

const out = (s: string): void => { process.stdout.write(s + '\n'); };

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export const camerasCommand: Command = {
  name: 'cameras',
  summary: 'list, add, remove cameras of a running core and show their health (through its HTTP API)',
  usage: USAGE,
  async run(args) {
    try {
      const { values, positionals } = parseArgs({
        args, strict: true, allowPositionals: true,
        options: {
          api: { type: 'string', default: DEFAULT_API },
          token: { type: 'string', default: process.env['CVCORE_TOKEN'] },
          json: { type: 'boolean', default: false },
          id: { type: 'string' }, url: { type: 'string' }, name: { type: 'string' }, fps: { type: 'string' },
          width: { type: 'string' }, height: { type: 'string' }, transport: { type: 'string' },
          department: { type: 'string' }, district: { type: 'string' }, disabled: { type: 'boolean', default: false },
          file: { type: 'string' },
        },
      });
      const api: Target = { base: values.api.replace(/\/+$/, ''), token: values.token };
      const [sub, target] = positionals;
      switch (sub) {
        case 'list': {
          const { cameras } = await call(api, 'GET', '/api/v1/cameras') as { cameras: View[] };
          if (values.json) { out(JSON.stringify(cameras, null, 2)); return 0; }
          out(table([['ID', 'STATE', 'FPS', 'SIZE', 'DEPARTMENT', 'DISTRICT', 'URL'],
            ...cameras.map((c) => [c.id, c.enabled ? c.health.state : 'disabled', String(c.fps), `${c.width}x${c.height}`, c.department, c.district, c.url])]));
          return 0;
        }
        case 'health': {
          const cams = target
            ? [await call(api, 'GET', `/api/v1/cameras/${encodeURIComponent(target)}`) as View]
            : (await call(api, 'GET', '/api/v1/cameras') as { cameras: View[] }).cameras;
          if (values.json) { out(JSON.stringify(cams.map((c) => ({ id: c.id, ...c.health })), null, 2)); return 0; }
          out(table([['ID', 'STATE', 'FPS', 'DECODED', 'DROPPED', 'SKIPPED', 'QUEUE', 'RESTARTS', 'PROBLEM'],
            ...cams.map((c) => { const h = c.health; return [c.id, h.state, h.fps.toFixed(1), String(h.framesDecoded), String(h.framesDropped), String(h.framesSkipped ?? 0), String(h.queueDepth), String(h.restarts), h.code ? `${h.code}: ${h.reason ?? ''}` : '-']; })]));
          return cams.every((c) => !c.enabled || c.health.state === 'live') ? 0 : 1;
        }
        case 'add': {
          let body: Record<string, unknown>;
          if (values.file) {
            body = JSON.parse(values.file === '-' ? await new Response(process.stdin as unknown as ReadableStream).text() : await readFile(values.file, 'utf8')) as Record<string, unknown>;
          } else {
            if (!values.id || !values.url) { process.stderr.write(`cameras add needs --id and --url (or --file)\nusage: ${USAGE}\n`); return 2; }
            const num = (k: 'fps' | 'width' | 'height'): Record<string, number> => (values[k] !== undefined ? { [k]: Number(values[k]) } : {});
            body = {
              id: values.id, url: values.url, ...num('fps'), ...num('width'), ...num('height'),
              ...(values.name !== undefined ? { name: values.name } : {}),
              ...(values.transport !== undefined ? { transport: values.transport } : {}),
              ...(values.department !== undefined ? { department: values.department } : {}),
              ...(values.district !== undefined ? { district: values.district } : {}),
              ...(values.disabled ? { enabled: false } : {}),
            };
          }
          const view = await call(api, 'POST', '/api/v1/cameras', body) as View;
          out(`added ${view.id} (${view.url}), ${view.health.state}`);
          return 0;
        }
        case 'remove': {
          if (!target) { process.stderr.write(`cameras remove needs an ID\nusage: ${USAGE}\n`); return 2; }
          await call(api, 'DELETE', `/api/v1/cameras/${encodeURIComponent(target)}`);
          out(`removed ${target}`);
          return 0;
        }
        default:
          process.stderr.write(`usage: ${USAGE}\n`);
          return 2;
      }
    } catch (err) {
      if ((err as { reported?: boolean }).reported) return 2;
      return reportError(err);
    }
  },
};
