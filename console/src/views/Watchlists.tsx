/**
 * Watch-lists (investigators and admins): the caller's lists, creating one for one of the caller's departments,
 * renaming and deleting; a list's entries with their photos, threshold, expiry and matches; adding a face entry
 * (1..5 photos, multipart) or a plate entry; editing an entry's label, note, threshold and expiry in place; removing
 * an entry; an entry's history of matches. The API's typed errors (no face, several faces, a bad field or plate) are
 * said in plain words, in the chosen language.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type EntryPatch } from '../api';
import { useSession } from '../context';
import { displayPlate, fromLocalDate, toLocalDate } from '../filters';
import type { Key, Translate } from '../i18n';
import { listHref } from '../route';
import { AlarmCard } from '../components/AlarmCard';
import { LIST_KINDS, type AlarmView, type ListKind, type WatchEntry, type WatchList } from '../types';

const MAX_PHOTOS = 5;
/** The store's calibrated default (watchlist/store.ts DEFAULT_FACE_THRESHOLD): the same face 0.84..0.99, others at most 0.38. */
const DEFAULT_THRESHOLD = 0.6;

interface Problem { text: string; detail?: string; code: string; field?: string }

/**
 * The API's error in plain words. WATCHLIST_MANY_FACES says which photo and how many only in its message, so
 * the numbers are read from it (`photo 2 of 3 holds 4 faces`) to say it in the chosen language; the message stays
 * as detail.
 */
const photoOf = (message: string): string | undefined => /photo\s+(\d+)/i.exec(message)?.[1];
/** WATCHLIST_BAD_ENTRY names its field first in the message (`expiresAt: must be in the future (…)`). */
const fieldOf = (message: string): string | undefined => /^(\w+):/.exec(message)?.[1];
const FIELD_PROBLEMS: Partial<Record<string, Key>> = { label: 'wlBadLabel', note: 'wlBadNote', threshold: 'wlBadThreshold', expiresAt: 'wlBadExpiry' };

export function entryProblem(t: Translate, err: unknown): Problem {
  if (!(err instanceof ApiError)) return { text: String(err), code: 'ERROR' };
  const detail = err.message;
  const plain = (key: Key): Problem => ({ text: t(key), detail, code: err.code });
  switch (err.code) {
    case 'WATCHLIST_NO_FACE': {
      const photo = photoOf(detail);
      return photo ? { text: t('wlNoFaceIn').replace('{photo}', photo), detail, code: err.code } : plain('wlNoFace');
    }
    case 'WATCHLIST_MANY_FACES': {
      const photo = photoOf(detail);
      const count = /(\d+)\s*faces/i.exec(detail)?.[1];
      return photo && count
        ? { text: t('wlManyFacesIn').replace('{photo}', photo).replace('{count}', count), detail, code: err.code }
        : plain('wlManyFaces');
    }
    case 'WATCHLIST_BAD_ENTRY': {
      const field = fieldOf(detail);
      return { ...plain(FIELD_PROBLEMS[field ?? ''] ?? 'wlBadEntry'), ...(field ? { field } : {}) };
    }
    case 'WATCHLIST_BAD_PLATE': return plain('wlBadPlate');
    case 'WATCHLIST_KIND_MISMATCH': return plain('wlKindMismatch');
    case 'API_NOT_FOUND': return plain('wlNotFound');
    case 'API_FORBIDDEN': return plain('wlForbidden');
    case 'API_WATCHLIST_UNAVAILABLE': return plain('wlUnavailable');
    default:
      if (err.status === 413) return plain('tooLarge');
      if (err.status === 415) return plain('notImage');
      return { text: `${err.code}: ${err.message}`, code: err.code };
  }
}

/** A form's submit: busy while the action runs, and the API's typed error, in plain words, as its problem line. */
function useSubmit(): { busy: boolean; problem: Problem | null; setProblem: (p: Problem | null) => void; run: (action: () => Promise<void>) => Promise<void> } {
  const { t } = useSession();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const run = async (action: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setProblem(null);
    try {
      await action();
    } catch (err) {
      setProblem(entryProblem(t, err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, problem, setProblem, run };
}

function ProblemLine({ p, testid }: { p: Problem | null; testid: string }) {
  if (!p) return null;
  return <p class="error" role="alert" data-testid={testid} data-code={p.code} data-field={p.field}>{p.text}{p.detail && p.detail !== p.text && <small class="detail"> ({p.detail})</small>}</p>;
}

/** A button that asks once more before doing something that cannot be undone (no window.confirm: it blocks). */
function ConfirmButton({ label, confirm, onConfirm, testid }: { label: string; confirm: string; onConfirm: () => void; testid: string }) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return undefined;
    const timer = setTimeout(() => setArmed(false), 4000);
    return () => clearTimeout(timer);
  }, [armed]);
  return (
    <button class={armed ? 'danger' : 'secondary'} data-testid={testid} onClick={() => { if (armed) { setArmed(false); onConfirm(); } else setArmed(true); }}>
      {armed ? confirm : label}
    </button>
  );
}

export function WatchlistsView({ list, entry }: { list: string | null; entry: string | null }) {
  const { client, t } = useSession();
  const [lists, setLists] = useState<WatchList[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [version, setVersion] = useState(0);
  const reload = (): void => setVersion((v) => v + 1);

  useEffect(() => {
    let stale = false;
    client.watchlists()
      .then(({ lists: l }) => { if (!stale) { setLists(l); setProblem(null); } })
      .catch((err: unknown) => { if (!stale) setProblem(entryProblem(t, err)); });
    return () => { stale = true; };
  }, [client, version]);

  const current = lists?.find((l) => l.id === list) ?? null;
  return (
    <section class="watchlists">
      <div class="wl-side">
        <div class="card">
          <h2>{t('myWatchlists')}</h2>
          <ProblemLine p={problem} testid="wl-error" />
          {lists && lists.length === 0 && <p class="hint" data-testid="wl-none">{t('noWatchlists')}</p>}
          {lists && lists.length > 0 && (
            <table data-testid="wl-lists">
              <thead><tr><th>{t('name')}</th><th>{t('department')}</th><th>{t('kind')}</th><th>{t('entries')}</th></tr></thead>
              <tbody>
                {lists.map((l) => (
                  <tr class={l.id === list ? 'selected' : ''} data-testid="wl-list" data-id={l.id}>
                    <td><a href={listHref(l.id)}>{l.name}</a></td>
                    <td>{l.department}</td>
                    <td>{t(`listKind_${l.kind}` as Key)}</td>
                    <td>{l.entries}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <CreateList onCreated={(l) => { reload(); location.hash = listHref(l.id); }} />
      </div>
      <div class="wl-main">
        {list && lists && !current && <p class="notice" data-testid="wl-missing">{t('wlNotFound')}</p>}
        {current && <ListDetail key={current.id} list={current} entry={entry} onChanged={reload} />}
        {!list && lists && lists.length > 0 && <p class="notice">{t('pickList')}</p>}
      </div>
    </section>
  );
}

function CreateList({ onCreated }: { onCreated: (l: WatchList) => void }) {
  const { client, t, departments } = useSession();
  const [name, setName] = useState('');
  const [department, setDepartment] = useState(departments[0] ?? '');
  const [kind, setKind] = useState<ListKind>('face');
  const [note, setNote] = useState('');
  const { busy, problem, run } = useSubmit();

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      const l = await client.createWatchlist({ name: name.trim(), department, kind, ...(note.trim() ? { note: note.trim() } : {}) });
      setName('');
      setNote('');
      onCreated(l);
    });
  };

  return (
    <form class="card form" onSubmit={(e) => void submit(e)} data-testid="wl-create">
      <h2>{t('newList')}</h2>
      <label>{t('name')}<input required maxLength={100} value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} data-testid="wl-name" /></label>
      <label>{t('department')}
        <select value={department} onChange={(e) => setDepartment((e.currentTarget as HTMLSelectElement).value)} data-testid="wl-department">
          {departments.map((d) => <option value={d}>{d}</option>)}
        </select>
      </label>
      <label>{t('kind')}
        <select value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as ListKind)} data-testid="wl-kind">
          {LIST_KINDS.map((k) => <option value={k}>{t(`listKind_${k}` as Key)}</option>)}
        </select>
      </label>
      <label>{t('note')}<input maxLength={500} value={note} onInput={(e) => setNote((e.currentTarget as HTMLInputElement).value)} /></label>
      <button type="submit" disabled={busy || !name.trim() || !department} data-testid="wl-create-submit">{t('create')}</button>
      <ProblemLine p={problem} testid="wl-create-error" />
    </form>
  );
}

function ListDetail({ list, entry, onChanged }: { list: WatchList; entry: string | null; onChanged: () => void }) {
  const { client, t, fmt } = useSession();
  const [entries, setEntries] = useState<WatchEntry[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(list.name);
  const [version, setVersion] = useState(0);
  const reload = (): void => { setVersion((v) => v + 1); onChanged(); };

  useEffect(() => {
    let stale = false;
    client.entries(list.id, { limit: 50 })
      .then((p) => { if (!stale) { setEntries(p.entries); setCursor(p.nextCursor); } })
      .catch((err: unknown) => { if (!stale) setProblem(entryProblem(t, err)); });
    return () => { stale = true; };
  }, [client, list.id, version]);

  const more = async (): Promise<void> => {
    if (!cursor) return;
    try {
      const p = await client.entries(list.id, { limit: 50, cursor });
      setEntries((e) => [...(e ?? []), ...p.entries]);
      setCursor(p.nextCursor);
    } catch (err) { setProblem(entryProblem(t, err)); }
  };
  const rename = async (): Promise<void> => {
    try {
      await client.updateWatchlist(list.id, { name: name.trim() });
      setRenaming(false);
      onChanged();
    } catch (err) { setProblem(entryProblem(t, err)); }
  };
  const remove = async (): Promise<void> => {
    try {
      await client.deleteWatchlist(list.id);
      location.hash = '#/watchlists';
      onChanged();
    } catch (err) { setProblem(entryProblem(t, err)); }
  };
  const replaceEntry = (next: WatchEntry): void => setEntries((es) => (es ?? []).map((x) => (x.id === next.id ? next : x)));
  const removeEntry = async (id: string): Promise<void> => {
    try {
      await client.removeEntry(list.id, id);
      if (entry === id) location.hash = listHref(list.id);
      reload();
    } catch (err) { setProblem(entryProblem(t, err)); }
  };

  const open = entries?.find((e) => e.id === entry) ?? null;
  return (
    <>
      <div class="card" data-testid="wl-detail">
        <div class="row">
          {renaming
            ? <>
                <input value={name} maxLength={100} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} data-testid="wl-rename-input" />
                <button disabled={!name.trim()} onClick={() => void rename()} data-testid="wl-rename-save">{t('save')}</button>
                <button class="secondary" onClick={() => { setRenaming(false); setName(list.name); }}>{t('cancel')}</button>
              </>
            : <h2 class="grow" data-testid="wl-title">{list.name} <small class="hint">{list.department} · {t(`listKind_${list.kind}` as Key)} · {list.entries === 1 ? t('oneEntry') : t('nEntries').replace('{n}', String(list.entries))}</small></h2>}
          {!renaming && <button class="secondary" onClick={() => setRenaming(true)} data-testid="wl-rename">{t('rename')}</button>}
          <ConfirmButton label={t('deleteList')} confirm={t('confirmDelete')} onConfirm={() => void remove()} testid="wl-delete" />
        </div>
        {list.note && <p class="hint">{list.note}</p>}
        <small class="hint">{t('createdBy')} {list.createdBy} · {fmt.dateTime(list.createdAt)}</small>
        <ProblemLine p={problem} testid="wl-detail-error" />
      </div>
      {list.kind === 'face' ? <AddFaceEntry list={list} onAdded={reload} /> : <AddPlateEntry list={list} onAdded={reload} />}
      <div class="card">
        <h2>{t('entries')}</h2>
        {entries && entries.length === 0 && <p class="hint" data-testid="wl-no-entries">{t('noEntries')}</p>}
        <ul class="entries" data-testid="wl-entries">
          {(entries ?? []).map((e) => <EntryRow key={e.id} e={e} open={e.id === entry} onRemove={() => void removeEntry(e.id)} onEdited={replaceEntry} />)}
        </ul>
        {cursor && <div class="pager"><button onClick={() => void more()}>{t('more')}</button></div>}
      </div>
      {open && <EntryHistory key={open.id} e={open} listName={list.name} />}
    </>
  );
}

function EntryRow({ e, open, onRemove, onEdited }: { e: WatchEntry; open: boolean; onRemove: () => void; onEdited: (next: WatchEntry) => void }) {
  const { client, t, fmt } = useSession();
  const [editing, setEditing] = useState(false);
  const expired = e.expiresAt !== null && e.expiresAt <= Date.now();
  return (
    <li class={`entry${open ? ' selected' : ''}${expired ? ' expired' : ''}`} data-testid="wl-entry" data-id={e.id}>
      {e.kind === 'face'
        ? <div class="photos" data-testid="wl-entry-photos">
            {(e.photoUrls ?? []).map((u, i) => <img src={client.withToken(u)} alt={`${e.label} ${i + 1}`} loading="lazy" />)}
            {!(e.photoUrls ?? []).length && <span class="nosnap">{t('noImage')}</span>}
          </div>
        : <div class="plate big" data-testid="wl-entry-plate">{displayPlate(e.plate)}</div>}
      {editing
        ? <EditEntry e={e} onSaved={(next) => { setEditing(false); onEdited(next); }} onCancel={() => setEditing(false)} />
        : <dl>
        <dt>{t('entryLabel')}</dt><dd data-testid="wl-entry-label"><b>{e.label}</b></dd>
        {e.note && <><dt>{t('note')}</dt><dd data-testid="wl-entry-note">{e.note}</dd></>}
        {e.kind === 'face'
          ? <><dt>{t('thresholdLabel')}</dt><dd data-testid="wl-entry-threshold">{e.threshold.toFixed(2)}</dd></>
          : <><dt>{t('plateMatchMode')}</dt><dd>{t(`plateMode_${e.match}` as Key)}</dd></>}
        <dt>{t('expires')}</dt><dd data-testid="wl-entry-expires">{e.expiresAt === null ? t('never') : fmt.date(e.expiresAt)}{expired && <span class="badge expired-badge"> {t('expired')}</span>}</dd>
        <dt>{t('matches')}</dt><dd data-testid="wl-entry-matches">{e.matches}{e.lastMatchAt !== null && <small> · {t('lastMatch')} {fmt.dateTime(e.lastMatchAt)}</small>}</dd>
      </dl>}
      <div class="entry-actions">
        {!editing && <button class="secondary" onClick={() => setEditing(true)} data-testid="wl-entry-edit">{t('editEntry')}</button>}
        <a class="button secondary" href={open ? listHref(e.list) : listHref(e.list, e.id)} data-testid="wl-entry-history">{open ? t('hideHistory') : t('history')}</a>
        <ConfirmButton label={t('removeEntry')} confirm={t('confirmRemove')} onConfirm={onRemove} testid="wl-entry-remove" />
      </div>
    </li>
  );
}

/**
 * An entry's label, note, threshold (face entries) and expiry, edited in place. Only what changed is sent, so an
 * entry that has already expired can be relabelled without touching its date. The date input has no lower bound:
 * an expired entry's own date must show, and a past date is the API's to refuse (WATCHLIST_BAD_ENTRY, expiresAt),
 * said in words by entryProblem as the add form's errors are.
 */
function EditEntry({ e, onSaved, onCancel }: { e: WatchEntry; onSaved: (next: WatchEntry) => void; onCancel: () => void }) {
  const { client, t } = useSession();
  const [label, setLabel] = useState(e.label);
  const [note, setNote] = useState(e.note);
  const [threshold, setThreshold] = useState(e.kind === 'face' ? e.threshold : DEFAULT_THRESHOLD);
  const initialExpires = e.expiresAt === null ? '' : toLocalDate(e.expiresAt);
  const [expires, setExpires] = useState(initialExpires);
  const { busy, problem, run } = useSubmit();

  const submit = async (ev: Event): Promise<void> => {
    ev.preventDefault();
    const patch: EntryPatch = {};
    if (label.trim() !== e.label) patch.label = label.trim();
    if (note.trim() !== e.note) patch.note = note.trim();
    if (e.kind === 'face' && threshold !== e.threshold) patch.threshold = threshold;
    if (expires !== initialExpires) patch.expiresAt = fromLocalDate(expires);
    if (Object.keys(patch).length === 0) { onCancel(); return; }
    await run(async () => {
      onSaved(await client.updateEntry(e.list, e.id, patch));
    });
  };

  return (
    <form class="form edit-entry" onSubmit={(ev) => void submit(ev)} data-testid="wl-edit">
      <h3>{t('editEntryTitle')}</h3>
      <label>{t('entryLabel')}<input required maxLength={128} value={label} onInput={(ev) => setLabel((ev.currentTarget as HTMLInputElement).value)} data-testid="wl-edit-label" /></label>
      <label>{t('note')}<input maxLength={1000} value={note} onInput={(ev) => setNote((ev.currentTarget as HTMLInputElement).value)} data-testid="wl-edit-note" /></label>
      {e.kind === 'face' && (
        <label>{t('thresholdLabel')} <b data-testid="wl-edit-threshold-value">{threshold.toFixed(2)}</b>
          <input type="range" min="0" max="1" step="0.01" value={threshold} onInput={(ev) => setThreshold(Number((ev.currentTarget as HTMLInputElement).value))} data-testid="wl-edit-threshold" />
        </label>
      )}
      <label>{t('expires')}
        <span class="row">
          <input type="date" value={expires} onInput={(ev) => setExpires((ev.currentTarget as HTMLInputElement).value)} data-testid="wl-edit-expires" />
          <button type="button" class="secondary" disabled={!expires} onClick={() => setExpires('')} data-testid="wl-edit-never">{t('neverExpires')}</button>
        </span>
      </label>
      {!expires && <small class="hint" data-testid="wl-edit-never-hint">{t('expiresEmptyHint')}</small>}
      <div class="row">
        <button type="submit" disabled={busy || !label.trim()} data-testid="wl-edit-save">{busy ? t('saving') : t('save')}</button>
        <button type="button" class="secondary" onClick={onCancel} data-testid="wl-edit-cancel">{t('cancel')}</button>
      </div>
      <ProblemLine p={problem} testid="wl-edit-error" />
    </form>
  );
}

function AddFaceEntry({ list, onAdded }: { list: WatchList; onAdded: () => void }) {
  const { client, t } = useSession();
  const [label, setLabel] = useState('');
  const [note, setNote] = useState('');
  const [threshold, setThreshold] = useState(DEFAULT_THRESHOLD);
  const [expires, setExpires] = useState('');
  const [photos, setPhotos] = useState<File[]>([]);
  const [previews, setPreviews] = useState<string[]>([]);
  const { busy, problem, setProblem, run } = useSubmit();
  const [inputKey, setInputKey] = useState(0);

  useEffect(() => () => previews.forEach((u) => URL.revokeObjectURL(u)), [previews]);
  const choose = (files: FileList | null | undefined): void => {
    const all = [...(files ?? [])];
    setProblem(all.length > MAX_PHOTOS ? { text: t('tooManyPhotos'), code: 'CONSOLE_TOO_MANY_PHOTOS' } : null);
    const kept = all.slice(0, MAX_PHOTOS);
    setPhotos(kept);
    setPreviews(kept.map((f) => URL.createObjectURL(f)));
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      await client.addFaceEntry(list.id, { label: label.trim(), note: note.trim(), threshold, expiresAt: fromLocalDate(expires), photos });
      setLabel(''); setNote(''); setExpires(''); setPhotos([]); setPreviews([]); setInputKey((k) => k + 1);
      onAdded();
    });
  };

  return (
    <form class="card form add-entry" onSubmit={(e) => void submit(e)} data-testid="wl-add-face">
      <h2>{t('addFaceEntry')}</h2>
      <div class="row">
        <label>{t('entryLabel')}<input required maxLength={100} value={label} onInput={(e) => setLabel((e.currentTarget as HTMLInputElement).value)} data-testid="wl-entry-label-input" /></label>
        <label>{t('note')}<input maxLength={500} value={note} onInput={(e) => setNote((e.currentTarget as HTMLInputElement).value)} data-testid="wl-entry-note-input" /></label>
        <label>{t('thresholdLabel')} <b data-testid="wl-threshold-value">{threshold.toFixed(2)}</b>
          <input type="range" min="0" max="1" step="0.01" value={threshold} onInput={(e) => setThreshold(Number((e.currentTarget as HTMLInputElement).value))} data-testid="wl-threshold" />
        </label>
        <label>{t('expires')}<input type="date" value={expires} min={toLocalDate(Date.now())} onInput={(e) => setExpires((e.currentTarget as HTMLInputElement).value)} data-testid="wl-expires" /></label>
      </div>
      <label class="drop small">
        <span>{t('choosePhotos')}</span>
        <input key={inputKey} type="file" accept="image/jpeg,image/png" multiple onChange={(e) => choose((e.currentTarget as HTMLInputElement).files)} data-testid="wl-photos" />
        <span class="button">{t('choosePhotosButton')}</span>
      </label>
      {previews.length > 0 && <div class="photos">{previews.map((u, i) => <img src={u} alt={photos[i]?.name ?? ''} title={`${i + 1}: ${photos[i]?.name ?? ''}`} />)}</div>}
      <p class="hint">{t('photosHint')}</p>
      <button type="submit" disabled={busy || !label.trim() || photos.length === 0} data-testid="wl-add-submit">{busy ? t('uploading') : t('addEntry')}</button>
      <ProblemLine p={problem} testid="wl-entry-error" />
    </form>
  );
}

function AddPlateEntry({ list, onAdded }: { list: WatchList; onAdded: () => void }) {
  const { client, t } = useSession();
  const [label, setLabel] = useState('');
  const [plate, setPlate] = useState('');
  const [match, setMatch] = useState<'exact' | 'fuzzy'>('exact');
  const [note, setNote] = useState('');
  const [expires, setExpires] = useState('');
  const { busy, problem, run } = useSubmit();

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      await client.addPlateEntry(list.id, { label: label.trim(), plate: plate.trim(), match, ...(note.trim() ? { note: note.trim() } : {}), expiresAt: fromLocalDate(expires) });
      setLabel(''); setPlate(''); setNote(''); setExpires('');
      onAdded();
    });
  };

  return (
    <form class="card form add-entry" onSubmit={(e) => void submit(e)} data-testid="wl-add-plate">
      <h2>{t('addPlateEntry')}</h2>
      <div class="row">
        <label>{t('entryLabel')}<input required maxLength={100} value={label} onInput={(e) => setLabel((e.currentTarget as HTMLInputElement).value)} data-testid="wl-entry-label-input" /></label>
        <label>{t('plate')}<input required maxLength={12} placeholder="鲁B12345" value={plate} onInput={(e) => setPlate((e.currentTarget as HTMLInputElement).value)} data-testid="wl-plate" /></label>
        <label>{t('plateMatchMode')}
          <select value={match} onChange={(e) => setMatch((e.currentTarget as HTMLSelectElement).value as 'exact' | 'fuzzy')} data-testid="wl-plate-match">
            <option value="exact">{t('plateMode_exact')}</option>
            <option value="fuzzy">{t('plateMode_fuzzy')}</option>
          </select>
        </label>
        <label>{t('note')}<input maxLength={500} value={note} onInput={(e) => setNote((e.currentTarget as HTMLInputElement).value)} /></label>
        <label>{t('expires')}<input type="date" value={expires} min={toLocalDate(Date.now())} onInput={(e) => setExpires((e.currentTarget as HTMLInputElement).value)} /></label>
      </div>
      <button type="submit" disabled={busy || !label.trim() || !plate.trim()} data-testid="wl-add-submit">{t('addEntry')}</button>
      <ProblemLine p={problem} testid="wl-entry-error" />
    </form>
  );
}

function EntryHistory({ e, listName }: { e: WatchEntry; listName: string }) {
  const { client, t } = useSession();
  const [alarms, setAlarms] = useState<AlarmView[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  useEffect(() => {
    let stale = false;
    client.entryMatches(e.matchesUrl)
      .then((p) => { if (!stale) { setAlarms(p.alarms); setCursor(p.nextCursor); } })
      .catch((err: unknown) => { if (!stale) setProblem(entryProblem(t, err)); });
    return () => { stale = true; };
  }, [client, e.matchesUrl]);

  const more = async (): Promise<void> => {
    if (!cursor) return;
    try {
      const p = await client.entryMatches(e.matchesUrl, cursor);
      setAlarms((a) => [...(a ?? []), ...p.alarms]);
      setCursor(p.nextCursor);
    } catch (err) { setProblem(entryProblem(t, err)); }
  };

  return (
    <div class="card" data-testid="wl-history">
      <h2>{t('matchHistory')}: {e.label}</h2>
      <ProblemLine p={problem} testid="wl-history-error" />
      {alarms && alarms.length === 0 && <p class="hint" data-testid="wl-history-none">{t('noMatchesYet')}</p>}
      <ul class="alarms">{(alarms ?? []).map((v) => <AlarmCard key={v.alarm.id} view={v} listName={listName} />)}</ul>
      {cursor && <div class="pager"><button onClick={() => void more()}>{t('more')}</button></div>}
    </div>
  );
}
