/**
 * `cvcore search`: the investigator's queries from a terminal, through the HTTP API (so the same token, scope,
 * audit trail and rate limit apply as in any other client). Attribute search by default; `--face <image>`
 * uploads a photo for face search instead.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { displayPlate } from '../../common/plates.js';
import type { Command } from '../command.js';
import { DEFAULT_API, answer, apiTarget, reportApiCommandError } from '../http.js';

/** The API a command asks when neither --api nor CVCORE_API says (cli/http.ts). */
export const SEARCH_DEFAULT_API = DEFAULT_API;

interface Summary {
  id: string; cameraId: string; cls: string; start: number; end: number;
  attributes: Record<string, string | number>; thumbnailUrl?: string; plateMatch?: string;
}

/** Maps `--flag` names to the API's query keys. */
const QUERY_FLAGS = {
  camera: 'camera', class: 'class', from: 'from', to: 'to', colour: 'colour', 'vehicle-type': 'vehicleType', gender: 'gender',
  'age-band': 'ageBand', plate: 'plate', 'plate-colour': 'plateColour', 'upper-colour': 'upperColour', 'lower-colour': 'lowerColour',
  limit: 'limit', cursor: 'cursor',
} as const;

function line(r: Summary, similarity?: number): string {
  // Plates in the form people read them (鲁B·12345); searches take either form.
  const attrs = Object.entries(r.attributes).map(([k, v]) => `${k}=${k === 'plate' && typeof v === 'string' ? displayPlate(v) : v}`).join(' ');
  const sim = similarity === undefined ? r.plateMatch === undefined ? '' : `${r.plateMatch.padEnd(9)} ` : `${similarity.toFixed(3)}  `;
  return `${sim}${new Date(r.start).toISOString()}  ${r.cameraId.padEnd(12)} ${r.cls.padEnd(10)} ${(attrs || '-').padEnd(28)} ${r.id}`;
}


export const searchCommand: Command = {
  name: 'search',
  summary: 'search track records (attributes, or a face photo) through the HTTP API',
  usage: 'cvcore search [--api URL] [--token T] [--camera ids] [--class c] [--from t] [--to t] [--colour c] [--vehicle-type t] [--gender g] '
    + '[--age-band b] [--plate P [--no-fuzzy]] [--plate-colour c] [--upper-colour c] [--lower-colour c] [--limit n] [--cursor c] [--json] | --face <image file> [--k n] [--camera ids] [--from t] [--to t] [--json]\n'
    + '  plates: 鲁B12345 or 鲁B·12345, * any run and ? one character (鲁B*23*); without wildcards plates one character off follow\n'
    + '  the exact ones unless --no-fuzzy\n'
    + '  times: epoch ms or ISO (2026-11-24T14:00:00Z); lists comma-separated; --api defaults to $CVCORE_API or ' + SEARCH_DEFAULT_API
    + ', --token to $CVCORE_TOKEN',
  async run(args) {
    try {
      const { values } = parseArgs({
        args, strict: true, allowPositionals: false,
        options: {
          api: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean', default: false },
          face: { type: 'string' }, k: { type: 'string' }, 'no-fuzzy': { type: 'boolean', default: false },
          ...Object.fromEntries(Object.keys(QUERY_FLAGS).map((f) => [f, { type: 'string' as const }])),
        },
      });
      const target = apiTarget(values);
      if (typeof target === 'string') { process.stderr.write(`${target}\n`); return 2; }
      const { api, headers } = target;
      const flags = values as Record<string, string | boolean | undefined>;
      const out = (s: string): boolean => process.stdout.write(s + '\n');

      if (values.face !== undefined) {
        if (values['no-fuzzy']) throw new RangeError('--no-fuzzy applies to --plate only');
        for (const f of ['class', 'colour', 'vehicle-type', 'gender', 'age-band', 'plate', 'plate-colour', 'upper-colour', 'lower-colour', 'limit', 'cursor']) {
          if (flags[f] !== undefined) throw new RangeError(`--${f} does not apply to --face (use --k, --camera, --from, --to)`);
        }
        const qs = new URLSearchParams();
        for (const [flag, key] of [['k', 'k'], ['camera', 'camera'], ['from', 'from'], ['to', 'to']] as const) {
          const v = flags[flag];
          if (typeof v === 'string') qs.set(key, v);
        }
        const bytes = await readFile(values.face);
        const form = new FormData();
        form.append('image', new Blob([bytes]), basename(values.face));
        const body = await answer(await fetch(`${api}/api/v1/faces/search${qs.size ? `?${qs}` : ''}`, { method: 'POST', body: form, headers })) as {
          face: { quality: number }; matches: { record: Summary; similarity: number }[];
        };
        if (values.json) out(JSON.stringify(body, null, 2));
        else {
          out(`face found (quality ${body.face.quality.toFixed(2)}); ${body.matches.length} match(es), most similar first:`);
          for (const m of body.matches) out(line(m.record, m.similarity));
        }
        return 0;
      }

      if (flags['k'] !== undefined) throw new RangeError('--k applies to --face only (use --limit)');
      const qs = new URLSearchParams();
      for (const [flag, key] of Object.entries(QUERY_FLAGS)) {
        const v = flags[flag];
        if (typeof v === 'string') qs.set(key, v);
      }
      if (values['no-fuzzy']) {
        if (flags['plate'] === undefined) throw new RangeError('--no-fuzzy applies to --plate only');
        qs.set('plateFuzzy', 'false');
      }
      const page = await answer(await fetch(`${api}/api/v1/search${qs.size ? `?${qs}` : ''}`, { headers })) as { records: Summary[]; nextCursor: string | null };
      if (values.json) out(JSON.stringify(page, null, 2));
      else {
        if (page.records.length === 0) out('no records on this page');
        for (const r of page.records) out(line(r));
        if (page.nextCursor) out(`more: add --cursor ${page.nextCursor}`);
      }
      return 0;
    } catch (err) {
      return reportApiCommandError(err, this.usage);
    }
  },
};
