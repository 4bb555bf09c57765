/**
 * `cvcore watchlist`: watch-lists and the alarm log from a terminal, through the HTTP API (so the same token,
 * scope, audit trail and rate limit apply as in the console). Errors print the API's code and message and exit 2.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { displayPlate } from '../../common/plates.js';
import type { Command } from '../command.js';
import { DEFAULT_API, answer, apiTarget, reportApiCommandError } from '../http.js';

type Json = Record<string, unknown>;

interface ListView { id: string; name: string; department: string; kind: string; entries: number; note: string }
interface EntryView {
  id: string; kind: 'face' | 'plate'; label: string; threshold?: number; plate?: string; match?: string; photos?: unknown[];
  expiresAt: number | null; matches: number; lastMatchAt: number | null;
}
interface AlarmView {
  alarm: { id: string; kind: string; camera: string; at: number; department: string; list?: string; entry?: string; similarity?: number | null; plate?: string | null; rule?: string; zone?: string; reason?: string };
  state: string; handledBy: string | null;
}

const SUBCOMMANDS = 'lists | create | entries | add-face | add-plate | remove | delete | matches | alarms | ack | dismiss';


const time = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString());

function alarmLine(a: AlarmView): string {
  const x = a.alarm;
  const what = x.kind === 'watchlist'
    ? `list=${x.list} entry=${x.entry}${x.similarity !== null && x.similarity !== undefined ? ` similarity=${x.similarity.toFixed(3)}` : ''}${x.plate ? ` plate=${displayPlate(x.plate)}` : ''}`
    : x.kind === 'frequency' ? `rule=${x.rule}` : `zone=${x.zone} reason=${x.reason}`;
  return `${time(x.at)}  ${x.kind.padEnd(9)} ${a.state.padEnd(12)} ${x.camera.padEnd(12)} ${what}  ${x.id}`;
}

function entryLine(e: EntryView): string {
  const what = e.kind === 'face' ? `face  photos=${e.photos?.length ?? 0} threshold=${e.threshold}` : `plate ${displayPlate(e.plate ?? '')} ${e.match}`;
  return `${e.id}  ${e.label.padEnd(20)} ${what}  expires=${time(e.expiresAt)} matches=${e.matches} last=${time(e.lastMatchAt)}`;
}

export const watchlistCommand: Command = {
  name: 'watchlist',
  summary: 'watch-lists (faces, plates) and their alarms through the HTTP API',
  usage: `cvcore watchlist <${SUBCOMMANDS}> [--api URL] [--token T] [--json]\n`
    + '  lists\n'
    + '  create --name N --department D --kind face|plate [--note T]\n'
    + '  entries LIST [--limit n] [--cursor c]\n'
    + '  add-face LIST --label L --photo FILE [--photo FILE ...] [--threshold 0..1] [--expires ISO] [--note T]\n'
    + '  add-plate LIST --label L --plate P [--fuzzy] [--expires ISO] [--note T]\n'
    + '  remove LIST ENTRY | delete LIST | matches LIST ENTRY [--limit n] [--cursor c]\n'
    + '  alarms [--kind watchlist|frequency|stranger] [--state open|acknowledged|dismissed] [--camera C] [--from t] [--to t] [--limit n] [--cursor c]\n'
    + '  ack ID [--note T] | dismiss ID [--note T]\n'
    + `  --api defaults to $CVCORE_API or ${DEFAULT_API}, --token to $CVCORE_TOKEN`,
  async run(args) {
    try {
      const { values, positionals } = parseArgs({
        args, strict: true, allowPositionals: true,
        options: {
          api: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean', default: false },
          name: { type: 'string' }, department: { type: 'string' }, kind: { type: 'string' }, note: { type: 'string' },
          label: { type: 'string' }, photo: { type: 'string', multiple: true }, threshold: { type: 'string' }, expires: { type: 'string' },
          plate: { type: 'string' }, fuzzy: { type: 'boolean', default: false },
          state: { type: 'string' }, camera: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' },
        },
      });
      const [sub, ...rest] = positionals;
      if (!sub) {
        process.stderr.write(`usage: ${this.usage}\n`);
        return 2;
      }
      const target = apiTarget(values);
      if (typeof target === 'string') { process.stderr.write(`${target}\n`); return 2; }
      const { api, headers } = target;
      const out = (s: string): boolean => process.stdout.write(s + '\n');
      const print = (body: unknown, text: () => void): void => { if (values.json) out(JSON.stringify(body, null, 2)); else text(); };
      const need = (n: number, names: string): string[] => {
        if (rest.length !== n) throw new RangeError(`watchlist ${sub} takes ${names}`);
        return rest;
      };
      const required = (flag: 'name' | 'department' | 'kind' | 'label' | 'plate'): string => {
        const v = values[flag];
        if (v === undefined) throw new RangeError(`watchlist ${sub} needs --${flag}`);
        return v;
      };
      const send = async (method: string, path: string, body?: Json): Promise<unknown> => answer(await fetch(api + path, {
        method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
      }));
      const page = (): string => {
        const qs = new URLSearchParams();
        if (values.limit !== undefined) qs.set('limit', values.limit);
        if (values.cursor !== undefined) qs.set('cursor', values.cursor);
        return qs.size ? `?${qs}` : '';
      };
      const enc = encodeURIComponent;

      switch (sub) {
        case 'lists': {
          need(0, 'no arguments');
          const body = await send('GET', '/api/v1/watchlists') as { lists: ListView[] };
          print(body, () => {
            if (body.lists.length === 0) out('no watch-lists');
            for (const l of body.lists) out(`${l.id}  ${l.kind.padEnd(5)} ${l.department.padEnd(16)} ${String(l.entries).padStart(5)} entries  ${l.name}`);
          });
          return 0;
        }
        case 'create': {
          need(0, 'no arguments (--name, --department, --kind)');
          const body = await send('POST', '/api/v1/watchlists', { name: required('name'), department: required('department'), kind: required('kind'), ...(values.note !== undefined ? { note: values.note } : {}) }) as ListView;
          print(body, () => out(`created ${body.kind} list ${body.id} (${body.name}, ${body.department})`));
          return 0;
        }
        case 'entries': {
          const [list] = need(1, 'LIST');
          const body = await send('GET', `/api/v1/watchlists/${enc(list!)}/entries${page()}`) as { entries: EntryView[]; nextCursor: string | null };
          print(body, () => {
            if (body.entries.length === 0) out('no entries on this page');
            for (const e of body.entries) out(entryLine(e));
            if (body.nextCursor) out(`more: add --cursor ${body.nextCursor}`);
          });
          return 0;
        }
        case 'add-face': {
          const [list] = need(1, 'LIST (--label, --photo)');
          const photos = values.photo ?? [];
          if (photos.length === 0) throw new RangeError('watchlist add-face needs --photo FILE (up to 5)');
          const form = new FormData();
          form.append('label', required('label'));
          if (values.note !== undefined) form.append('note', values.note);
          if (values.threshold !== undefined) form.append('threshold', values.threshold);
          if (values.expires !== undefined) form.append('expiresAt', values.expires);
          for (const f of photos) form.append('photo', new Blob([await readFile(f)]), basename(f));
          const body = await answer(await fetch(`${api}/api/v1/watchlists/${enc(list!)}/entries`, { method: 'POST', body: form, headers })) as EntryView;
          print(body, () => out(`added ${entryLine(body)}`));
          return 0;
        }
        case 'add-plate': {
          const [list] = need(1, 'LIST (--label, --plate)');
          const body = await send('POST', `/api/v1/watchlists/${enc(list!)}/entries`, {
            label: required('label'), plate: required('plate'), match: values.fuzzy ? 'fuzzy' : 'exact',
            ...(values.note !== undefined ? { note: values.note } : {}), ...(values.expires !== undefined ? { expiresAt: values.expires } : {}),
          }) as EntryView;
          print(body, () => out(`added ${entryLine(body)}`));
          return 0;
        }
        case 'remove': {
          const [list, entry] = need(2, 'LIST ENTRY');
          await send('DELETE', `/api/v1/watchlists/${enc(list!)}/entries/${enc(entry!)}`);
          print({ removed: entry }, () => out(`removed entry ${entry} from ${list}`));
          return 0;
        }
        case 'delete': {
          const [list] = need(1, 'LIST');
          await send('DELETE', `/api/v1/watchlists/${enc(list!)}`);
          print({ deleted: list }, () => out(`deleted list ${list}`));
          return 0;
        }
        case 'matches': {
          const [list, entry] = need(2, 'LIST ENTRY');
          const body = await send('GET', `/api/v1/watchlists/${enc(list!)}/entries/${enc(entry!)}/matches${page()}`) as { alarms: AlarmView[]; nextCursor: string | null };
          print(body, () => {
            if (body.alarms.length === 0) out('no matches on this page');
            for (const a of body.alarms) out(alarmLine(a));
            if (body.nextCursor) out(`more: add --cursor ${body.nextCursor}`);
          });
          return 0;
        }
        case 'alarms': {
          need(0, 'no arguments (filters as flags)');
          const qs = new URLSearchParams();
          for (const k of ['kind', 'state', 'camera', 'from', 'to', 'limit', 'cursor'] as const) if (values[k] !== undefined) qs.set(k, values[k]);
          const body = await send('GET', `/api/v1/alarms${qs.size ? `?${qs}` : ''}`) as { alarms: AlarmView[]; nextCursor: string | null };
          print(body, () => {
            if (body.alarms.length === 0) out('no alarms on this page');
            for (const a of body.alarms) out(alarmLine(a));
            if (body.nextCursor) out(`more: add --cursor ${body.nextCursor}`);
          });
          return 0;
        }
        case 'ack':
        case 'dismiss': {
          const [id] = need(1, 'ID');
          const body = await send('POST', `/api/v1/alarms/${enc(id!)}/${sub}`, values.note !== undefined ? { note: values.note } : {}) as AlarmView;
          print(body, () => out(`${body.state} by ${body.handledBy ?? '-'}: ${alarmLine(body)}`));
          return 0;
        }
        default:
          throw new RangeError(`unknown subcommand "${sub}" (${SUBCOMMANDS})`);
      }
    } catch (err) {
      return reportApiCommandError(err, this.usage);
    }
  },
};
