/**
 * `cvcore erase`: an admin erases one person's data through the HTTP API (POST /api/v1/erasures), by track ids or
 * by a face photo, within the token's departments. `--dry-run` prints what would go and changes nothing.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { DEFAULT_API, answer, apiTarget, reportApiCommandError } from '../http.js';

interface Receipt {
  id: string; dryRun: boolean; reason: string; caseRef: string;
  match: { by: string; threshold?: number; matches?: number };
  counts: Record<string, number>;
  tracks: string[]; notFound: string[]; alarms: string[];
  alarmFrames: { blanked: string[]; deleted: string[] };
  watchlistEntries: Array<{ list: string; entry: string }>;
  watchlistEntriesNotFound: Array<{ list: string; entry: string }>;
  watchlists: string; recordings: string;
}

export const eraseCommand: Command = {
  name: 'erase',
  summary: 'erase one person\'s data (records, faces, frames, alarms, watch-list entries) by track ids or a face photo (admins, through the HTTP API)',
  usage: 'cvcore erase (--track ID [--track ID ...] [--entry LIST/ENTRY ...] | --face photo.jpg [--threshold 0..1]) --reason R --case REF [--dry-run] [--redact-audit] [--json] [--api URL] [--token T]\n'
    + '  --dry-run lists what would be erased and changes nothing; --api defaults to $CVCORE_API or ' + DEFAULT_API + ', --token to $CVCORE_TOKEN',
  async run(args) {
    try {
      const { values } = parseArgs({
        args, strict: true, allowPositionals: false,
        options: {
          api: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean', default: false },
          track: { type: 'string', multiple: true }, entry: { type: 'string', multiple: true }, face: { type: 'string' }, threshold: { type: 'string' },
          reason: { type: 'string' }, case: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, 'redact-audit': { type: 'boolean', default: false },
        },
      });
      const tracks = values.track ?? [];
      const entries = (values.entry ?? []).map((e) => {
        const i = e.indexOf('/');
        if (i <= 0 || i === e.length - 1) throw new RangeError(`--entry must be LIST/ENTRY (got "${e}")`);
        return { list: e.slice(0, i), entry: e.slice(i + 1) };
      });
      if ((values.face === undefined) === (tracks.length === 0 && entries.length === 0)) throw new RangeError('give either --track (and/or --entry) or --face');
      if (values.face !== undefined && entries.length > 0) throw new RangeError('--entry goes with --track; with --face, entries whose photo matches are found');
      if (values.threshold !== undefined && values.face === undefined) throw new RangeError('--threshold applies to --face only');
      if (!values.reason) throw new RangeError('--reason is required (it goes into the audit trail)');
      if (!values.case) throw new RangeError('--case is required (the request or case reference)');
      const target = apiTarget(values);
      if (typeof target === 'string') { process.stderr.write(`${target}\n`); return 2; }
      const { api, headers } = target;
      let res: Response;
      if (values.face !== undefined) {
        const form = new FormData();
        form.append('reason', values.reason);
        form.append('caseRef', values.case);
        form.append('dryRun', String(values['dry-run']));
        form.append('redactAudit', String(values['redact-audit']));
        if (values.threshold !== undefined) form.append('threshold', values.threshold);
        form.append('photo', new Blob([await readFile(values.face)]), basename(values.face));
        res = await fetch(`${api}/api/v1/erasures`, { method: 'POST', body: form, headers });
      } else {
        res = await fetch(`${api}/api/v1/erasures`, {
          method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ trackIds: tracks, watchlistEntries: entries, reason: values.reason, caseRef: values.case, dryRun: values['dry-run'], redactAudit: values['redact-audit'] }),
        });
      }
      const r = await answer(res) as Receipt;
      const out = (s: string): boolean => process.stdout.write(s + '\n');
      if (values.json) {
        out(JSON.stringify(r, null, 2));
        return 0;
      }
      out(`${r.dryRun ? 'dry run (nothing changed): would erase' : 'erased'} ${r.id}  case ${r.caseRef}${r.match.by === 'face' ? `  (face, threshold ${r.match.threshold}, ${r.match.matches} track(s) matched)` : ''}`);
      for (const [k, n] of Object.entries(r.counts)) out(`  ${k.padEnd(20)} ${n}`);
      for (const t of r.tracks) out(`  track   ${t}`);
      for (const t of r.notFound) out(`  not found (missing or outside your departments)  ${t}`);
      for (const f of r.alarmFrames.blanked) out(`  frame   ${f}  (person blanked)`);
      for (const f of r.alarmFrames.deleted) out(`  frame   ${f}  (deleted)`);
      for (const a of r.alarms) out(`  alarm   ${a}`);
      for (const e of r.watchlistEntries) out(`  entry   ${e.list}/${e.entry}`);
      for (const e of r.watchlistEntriesNotFound) out(`  entry not found  ${e.list}/${e.entry}`);
      if (r.watchlists === 'unavailable') out('  watch-lists: this core has none');
      out(`  recordings: ${r.recordings}`);
      return 0;
    } catch (err) {
      return reportApiCommandError(err, this.usage);
    }
  },
};
