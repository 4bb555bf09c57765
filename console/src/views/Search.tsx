/**
 * Attribute search: time range, cameras, class, vehicle type and colour, plate (with wildcards) and plate colour,
 * gender, age band and clothing colours; results as a
 * grid of best shots, paged with the API's cursors (the cursors already seen make "previous" possible).
 * The filters live in the URL hash so a search can be bookmarked and the back button returns to it.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, filterParams, type SearchFilters } from '../api';
import { useSession } from '../context';
import { label } from '../i18n';
import { trackHref } from '../route';
import {
  AGE_BANDS, CLASSES, CLOTHING_COLOURS, COLOURS, displayPlate, fromLocalInput, GENDERS, PLATE_COLOURS, toLocalInput, valueLabel, VEHICLE_TYPES,
} from '../filters';
import { CameraPicker } from '../components/CameraPicker';
import type { SearchPage } from '../types';

const PAGE_SIZE = 24;

function filtersFrom(q: URLSearchParams): SearchFilters {
  const num = (k: string): number | undefined => (q.get(k) ? Number(q.get(k)) : undefined);
  const f: SearchFilters = { limit: PAGE_SIZE };
  const cams = q.get('camera');
  if (cams) f.cameras = cams.split(',');
  const cls = q.get('class');
  if (cls) f.classes = cls.split(',');
  const from = num('from'); if (from !== undefined) f.from = from;
  const to = num('to'); if (to !== undefined) f.to = to;
  for (const k of ['colour', 'vehicleType', 'gender', 'ageBand', 'plate', 'plateColour', 'upperColour', 'lowerColour'] as const) { const v = q.get(k); if (v) f[k] = v; }
  return f;
}

function hashFor(f: SearchFilters): string {
  return `#/search?${filterParams(f)}`;
}

function Select({ name, value, options, onChange }: { name: string; value: string; options: readonly string[]; onChange: (v: string) => void }) {
  const { t, lang } = useSession();
  return (
    <select name={name} data-testid={`f-${name}`} value={value} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
      <option value="">{t('any')}</option>
      {options.map((o) => <option value={o}>{valueLabel(lang, o)}</option>)}
    </select>
  );
}

export function SearchView({ query }: { query: URLSearchParams }) {
  const { client, t, fmt, cameras } = useSession();
  const applied = filtersFrom(query);
  const [form, setForm] = useState<SearchFilters>(applied);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [pageNo, setPageNo] = useState(0);
  const [page, setPage] = useState<SearchPage | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Bumped by "Search" with unchanged filters, so the button always asks the API again.
  const [refresh, setRefresh] = useState(0);
  const key = query.toString();

  // A new query (hash) starts at page one.
  useEffect(() => { setForm(filtersFrom(query)); setCursors([undefined]); setPageNo(0); }, [key]);

  useEffect(() => {
    let stale = false;
    setBusy(true);
    setError(null);
    const cursor = cursors[pageNo];
    client.search({ ...applied, ...(cursor ? { cursor } : {}) })
      .then((p) => { if (!stale) setPage(p); })
      .catch((err: unknown) => { if (!stale) { setPage(null); setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)); } })
      .finally(() => { if (!stale) setBusy(false); });
    return () => { stale = true; };
  }, [key, pageNo, client, refresh]);

  const set = (patch: Partial<SearchFilters>): void => setForm({ ...form, ...patch });
  const submit = (e: Event): void => {
    e.preventDefault();
    const target = hashFor(form);
    if (location.hash === target) { setCursors([undefined]); setPageNo(0); setRefresh(refresh + 1); } else location.hash = target;
  };
  const next = (): void => {
    if (!page?.nextCursor) return;
    const c = cursors.slice(0, pageNo + 1);
    c.push(page.nextCursor);
    setCursors(c);
    setPageNo(pageNo + 1);
  };
  const camName = (id: string): string => cameras.find((c) => c.id === id)?.name ?? id;

  return (
    <section class="search">
      <form class="card filters" onSubmit={submit} data-testid="search-form">
        <div class="row">
          <label>{t('from')}<input type="datetime-local" data-testid="f-from" value={toLocalInput(form.from)} onInput={(e) => set({ from: fromLocalInput((e.currentTarget as HTMLInputElement).value) })} /></label>
          <label>{t('to')}<input type="datetime-local" data-testid="f-to" value={toLocalInput(form.to)} onInput={(e) => set({ to: fromLocalInput((e.currentTarget as HTMLInputElement).value) })} /></label>
          <label>{t('cls')}<Select name="class" value={form.classes?.[0] ?? ''} options={CLASSES} onChange={(v) => set({ classes: v ? [v] : [] })} /></label>
          <label>{t('vehicleType')}<Select name="vehicleType" value={form.vehicleType ?? ''} options={VEHICLE_TYPES} onChange={(v) => set({ vehicleType: v || undefined })} /></label>
          <label>{t('colour')}<Select name="colour" value={form.colour ?? ''} options={COLOURS} onChange={(v) => set({ colour: v || undefined })} /></label>
          <label>{t('gender')}<Select name="gender" value={form.gender ?? ''} options={GENDERS} onChange={(v) => set({ gender: v || undefined })} /></label>
          <label>{t('ageBand')}<Select name="ageBand" value={form.ageBand ?? ''} options={AGE_BANDS} onChange={(v) => set({ ageBand: v || undefined })} /></label>
        </div>
        <div class="row">
          <label>{t('plate')}<input type="search" name="plate" data-testid="f-plate" placeholder={t('platePlaceholder')} value={form.plate ?? ''} autocomplete="off" spellcheck={false}
            onInput={(e) => set({ plate: (e.currentTarget as HTMLInputElement).value.trim() || undefined })} /></label>
          <label>{t('plateColour')}<Select name="plateColour" value={form.plateColour ?? ''} options={PLATE_COLOURS} onChange={(v) => set({ plateColour: v || undefined })} /></label>
          <label>{t('upperColour')}<Select name="upperColour" value={form.upperColour ?? ''} options={CLOTHING_COLOURS} onChange={(v) => set({ upperColour: v || undefined })} /></label>
          <label>{t('lowerColour')}<Select name="lowerColour" value={form.lowerColour ?? ''} options={CLOTHING_COLOURS} onChange={(v) => set({ lowerColour: v || undefined })} /></label>
        </div>
        <CameraPicker selected={new Set(form.cameras ?? [])} onChange={(s) => set({ cameras: [...s] })} />
        <button type="submit" data-testid="search-submit" disabled={busy}>{busy ? t('searching') : t('search')}</button>
      </form>

      {error && <p class="error" role="alert">{t('error')}: {error}</p>}
      {page && page.records.length === 0 && !busy && <p class="notice" data-testid="no-results">{t('noResults')}</p>}
      {page && page.records.length > 0 && (
        <ul class="grid" data-testid="results">
          {page.records.map((r) => (
            <li class="result" data-testid="result">
              <a href={trackHref(r.id)}>
                <img src={client.thumbnailUrl(r.id)} alt={`${r.cls} ${r.cameraId}`} loading="lazy" width="160" height="160" />
                <span class="meta"><b>{label(t, 'cls_', r.cls)}</b> · {camName(r.cameraId)}</span>
                {typeof r.attributes['plate'] === 'string' && (
                  <span class="meta" data-testid="result-plate"><b class="plate">{displayPlate(r.attributes['plate'])}</b>
                    {r.plateMatch && r.plateMatch !== 'exact' && <> · <span class={`match-${r.plateMatch}`}>{label(t, 'plateMatch_', r.plateMatch)}</span></>}</span>
                )}
                <span class="meta"><time dateTime={new Date(r.start).toISOString()}>{fmt.dateTime(r.start)}</time></span>
              </a>
            </li>
          ))}
        </ul>
      )}
      <div class="pager">
        <button disabled={pageNo === 0 || busy} onClick={() => setPageNo(pageNo - 1)} data-testid="prev">{t('previous')}</button>
        <span>{t('page')} {pageNo + 1}</span>
        <button disabled={!page?.nextCursor || busy} onClick={next} data-testid="next">{t('next')}</button>
      </div>
    </section>
  );
}
