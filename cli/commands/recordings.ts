/**
 * `cvcore recordings`: a camera's recorded segments and gaps, a clip saved to a file, and legal holds, through the
 * HTTP API (the same token, scope and audit trail as the console). Times are ISO dates or epoch ms.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { ApiError } from '../../common/errors.js';
import type { Command } from '../command.js';
import { DEFAULT_API, answer, apiTarget, reportApiCommandError } from '../http.js';

interface SegmentView { start: number; end: number; file: string; bytes: number; held?: boolean }
interface GapView { from: number; to: number; reason: string }
interface HoldView { id: string; cameraIds: string[]; from: number; to: number; trackIds: string[]; reason: string; createdBy: string; createdAt: number; releasedBy: string | null; releasedAt: number | null }

const iso = (t: number): string => new Date(t).toISOString();
const dur = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** An ISO date or epoch ms, as epoch ms; a RangeError naming the option otherwise. */
export function parseWhen(v: string | undefined, option: string): number {
  if (v === undefined) throw new RangeError(`--${option} is required (ISO date or epoch ms)`);
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new RangeError(`--${option}: "${v}" is not an ISO date or epoch ms`);
  return t;
}

export const recordingsCommand: Command = {
  name: 'recordings',
  summary: 'a camera\'s recorded segments and gaps, clips, legal holds (through the HTTP API)',
  usage: 'cvcore recordings CAMERA --from T --to T            segments and gaps\n'
    + '       cvcore recordings clip CAMERA --from T --to T -o FILE   one MP4 (stream copy, from the keyframe at or before --from)\n'
    + '       cvcore recordings hold add (--camera C ... --from T --to T | --track ID ...) --reason TEXT\n'
    + '       cvcore recordings hold list [--active | --released]\n'
    + '       cvcore recordings hold release ID\n'
    + `  [--api URL] [--token T] [--json]; T is an ISO date or epoch ms; --api defaults to $CVCORE_API or ${DEFAULT_API}, --token to $CVCORE_TOKEN`,
  async run(args) {
    try {
      const { values, positionals } = parseArgs({
        args, strict: true, allowPositionals: true,
        options: {
          api: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean', default: false },
          from: { type: 'string' }, to: { type: 'string' }, output: { type: 'string', short: 'o' },
          camera: { type: 'string', multiple: true }, track: { type: 'string', multiple: true }, reason: { type: 'string' },
          active: { type: 'boolean', default: false }, released: { type: 'boolean', default: false },
        },
      });
      if (positionals.length === 0) {
        process.stderr.write(`usage: ${this.usage}\n`);
        return 2;
      }
      const target = apiTarget(values);
      if (typeof target === 'string') { process.stderr.write(`${target}\n`); return 2; }
      const { api, headers } = target;
      const out = (s: string): boolean => process.stdout.write(s + '\n');
      const enc = encodeURIComponent;
      const [first, ...rest] = positionals;

      if (first === 'clip') {
        const cam = rest[0];
        if (!cam || !values.output) throw new RangeError('clip needs CAMERA and -o FILE');
        const from = parseWhen(values.from, 'from');
        const to = parseWhen(values.to, 'to');
        const res = await fetch(`${api}/api/v1/cameras/${enc(cam)}/clip?from=${from}&to=${to}`, { headers });
        if (!res.ok || !res.body) { await answer(res); throw new ApiError(res.status, `HTTP_${res.status}`, 'no clip'); }
        await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(values.output));
        const info = { file: values.output, bytes: Number(res.headers.get('content-length')), start: Number(res.headers.get('x-clip-start')), end: Number(res.headers.get('x-clip-end')), sha256: res.headers.get('x-clip-sha256'), spans: JSON.parse(res.headers.get('x-clip-spans') ?? '[]') as unknown };
        if (values.json) out(JSON.stringify(info));
        else out(`${info.file}: ${info.bytes} bytes, ${iso(info.start)} .. ${iso(info.end)} (${dur(info.end - info.start)}), sha256 ${info.sha256}`);
        return 0;
      }

      if (first === 'hold') {
        const [verb, id] = rest;
        if (verb === 'add') {
          const body: Record<string, unknown> = { reason: values.reason };
          if (values.camera?.length) body['cameraIds'] = values.camera;
          if (values.track?.length) body['trackIds'] = values.track;
          if (values.from !== undefined) body['from'] = parseWhen(values.from, 'from');
          if (values.to !== undefined) body['to'] = parseWhen(values.to, 'to');
          if (!values.reason) throw new RangeError('hold add needs --reason');
          const h = await answer(await fetch(`${api}/api/v1/holds`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) })) as HoldView;
          out(values.json ? JSON.stringify(h) : `hold ${h.id} on ${h.cameraIds.join(',')} ${iso(h.from)} .. ${iso(h.to)}`);
          return 0;
        }
        if (verb === 'list') {
          const q = values.active ? '?active=true' : values.released ? '?active=false' : '';
          const { holds } = await answer(await fetch(`${api}/api/v1/holds${q}`, { headers })) as { holds: HoldView[] };
          if (values.json) out(JSON.stringify(holds));
          else for (const h of holds) out(`${h.id}  ${h.releasedAt === null ? 'active  ' : 'released'}  ${h.cameraIds.join(',')}  ${iso(h.from)} .. ${iso(h.to)}  by ${h.createdBy}  ${h.reason}`);
          return 0;
        }
        if (verb === 'release' && id) {
          const h = await answer(await fetch(`${api}/api/v1/holds/${enc(id)}`, { method: 'DELETE', headers })) as HoldView;
          out(values.json ? JSON.stringify(h) : `hold ${h.id} released by ${h.releasedBy}`);
          return 0;
        }
        throw new RangeError('hold add | list | release ID');
      }

      const cam = first!;
      const from = parseWhen(values.from, 'from');
      const to = parseWhen(values.to, 'to');
      const a = await answer(await fetch(`${api}/api/v1/cameras/${enc(cam)}/recordings?from=${from}&to=${to}`, { headers })) as { segments: SegmentView[]; gaps: GapView[] };
      if (values.json) { out(JSON.stringify(a)); return 0; }
      const rows = [
        ...a.segments.map((s) => ({ at: s.start, line: `${iso(s.start)}  ${dur(s.end - s.start).padStart(8)}  segment ${s.file} ${s.bytes} bytes${s.held ? ' (held)' : ''}` })),
        ...a.gaps.map((g) => ({ at: g.from, line: `${iso(g.from)}  ${dur(g.to - g.from).padStart(8)}  gap (${g.reason})` })),
      ].sort((x, y) => x.at - y.at);
      for (const r of rows) out(r.line);
      out(`${a.segments.length} segment(s), ${a.gaps.length} gap(s)`);
      return 0;
    } catch (err) {
      if (err instanceof RangeError) {
        process.stderr.write(`${err.message}\nusage: ${this.usage}\n`);
        return 2;
      }
      return reportApiCommandError(err, this.usage);
    }
  },
};
