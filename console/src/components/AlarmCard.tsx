/**
 * One alarm as the feed and an entry's history show it: kind, camera, time and state; for a face watch-list
 * alarm the live face crop beside the list photo with the similarity; for a frequency alarm the appearance
 * count; for a stranger alarm the zone and reason. The snapshot opens on click (it is a scoped, audited API
 * image, so it is fetched only when asked for), and so does the alarm's recorded clip ("play clip", where the
 * camera records and the token may see clips). Acknowledge and dismiss take an optional note.
 */
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { useSession } from '../context';
import { ClipPlayer } from './ClipPlayer';
import { displayPlate } from '../filters';
import type { Key } from '../i18n';
import type { AlarmView } from '../types';

/** `7d`, `10m`, `90s`: a rule's window as its configuration writes it. */
export function shortDuration(ms: number): string {
  const units: [number, string][] = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'm'], [1_000, 's']];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}

export interface AlarmCardProps {
  view: AlarmView;
  /** The list's name where the caller may read it (the alarm carries only the list's id). */
  listName?: string | undefined;
  /** Shown with a highlight: it arrived over the live feed while the page was open. */
  fresh?: boolean;
  /** Called with the API's answer after acknowledging or dismissing; omitted: no buttons (read-only history). */
  onHandled?: (v: AlarmView) => void;
}

export function AlarmCard({ view, listName, fresh, onHandled }: AlarmCardProps) {
  const { client, t, fmt, cameras, can } = useSession();
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [showSnapshot, setShowSnapshot] = useState(false);
  const [showClip, setShowClip] = useState(false);
  const a = view.alarm;
  const clipRef = can.clips ? view.clipRef ?? a.clipRef ?? null : null;
  const camName = cameras.find((c) => c.id === a.camera)?.name ?? a.camera;

  const act = async (action: 'ack' | 'dismiss'): Promise<void> => {
    if (!onHandled) return;
    setBusy(true);
    setError(null);
    try {
      onHandled(await client.handleAlarm(a.id, action, note));
      setNote('');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'WATCHLIST_ALARM_FINAL') setError(t('alarmFinal'));
      else setError(err instanceof ApiError ? (err.status === 404 ? t('alarmGone') : `${err.code}: ${err.message}`) : String(err));
    } finally {
      setBusy(false);
    }
  };

  let detail;
  if (a.kind === 'watchlist' && a.entryKind === 'face') {
    detail = (
      <div class="pair" data-testid="alarm-faces">
        <figure>
          {view.faceUrl ? <img src={client.withToken(view.faceUrl)} alt={t('liveFace')} data-testid="alarm-face" /> : <span class="nosnap">{t('noImage')}</span>}
          <figcaption>{t('liveFace')}</figcaption>
        </figure>
        <figure>
          {view.entryPhotoUrl ? <img src={client.withToken(view.entryPhotoUrl)} alt={t('listPhoto')} data-testid="alarm-entry-photo" /> : <span class="nosnap">{t('noImage')}</span>}
          <figcaption>{t('listPhoto')}</figcaption>
        </figure>
        <div class="similarity">
          <b data-testid="alarm-similarity">{a.similarity !== null ? fmt.percent(a.similarity) : '—'}</b>
          <small>{t('similarity')}{a.threshold !== null ? ` (${t('threshold')} ${fmt.percent(a.threshold)})` : ''}</small>
        </div>
      </div>
    );
  } else if (a.kind === 'watchlist') {
    detail = (
      <div class="alarm-facts">
        <span class="plate">{a.plate ? displayPlate(a.plate) : '—'}</span>
        {a.plateEdits !== null && <small> · {a.plateEdits === 0 ? t('plateMatch_exact') : t('plateMatch_fuzzy')}</small>}
      </div>
    );
  } else if (a.kind === 'frequency') {
    detail = (
      <div class="alarm-facts" data-testid="alarm-count">
        <b>{a.count}</b> {t('appearances')} · {t('within')} {shortDuration(a.windowMs)} ({t('atLeast')} {a.minCount}) · {t('rule')} <code>{a.rule}</code>
      </div>
    );
  } else {
    detail = (
      <div class="alarm-facts" data-testid="alarm-zone">
        {t('zone')} <b>{a.zone}</b> · {t(`reason_${a.reason}` as Key)}
        {a.reason === 'unknown_face' && a.similarity !== null && <small> · {t('bestAllowed')} {fmt.percent(a.similarity)}</small>}
        {a.dwellMs > 0 && <small> · {t('dwell')} {fmt.duration(a.dwellMs)}</small>}
      </div>
    );
  }

  return (
    <li class={`alarm kind-${a.kind} state-${view.state}${fresh ? ' fresh' : ''}`} data-testid="alarm" data-id={a.id} data-kind={a.kind} data-state={view.state}>
      <button class="snap" type="button" disabled={!view.snapshotUrl} title={t('snapshot')} onClick={() => setShowSnapshot(true)} data-testid="alarm-snapshot-open">
        {view.snapshotUrl ? <img src={client.withToken(view.snapshotUrl)} alt={t('snapshot')} loading="lazy" /> : <span class="nosnap">{t('noSnapshot')}</span>}
      </button>
      <div class="alarm-body">
        <div>
          <span class={`badge kind-${a.kind}`}>{t(`kind_${a.kind}` as Key)}</span>
          <span class={`badge alarm-state-${view.state}`} data-testid="alarm-state">{t(`alarmState_${view.state}` as Key)}</span>
          <b>{camName}</b> <small>{a.camera}{a.district ? ` · ${a.district}` : ''}</small>
        </div>
        <small>{fmt.dateTime(a.at)}{a.kind === 'watchlist' && <> · {t('list')} {listName ?? a.list} · {t('entry')} {view.entryLabel ? <b data-testid="alarm-entry-label">{view.entryLabel}</b> : <code>{a.entry}</code>}</>}</small>
        {detail}
        {clipRef && (showClip
          ? <ClipPlayer clipRef={clipRef} onClose={() => setShowClip(false)} />
          : <div><button type="button" class="secondary" onClick={() => setShowClip(true)} data-testid="alarm-play-clip">{t('playClip')}</button></div>)}
        {view.state !== 'open' && view.handledAt !== null && (
          <small class="handled" data-testid="alarm-handled">
            {t(`alarmState_${view.state}` as Key)}: {view.handledBy ?? '—'} · {fmt.dateTime(view.handledAt)}{view.handledNote ? ` · “${view.handledNote}”` : ''}
          </small>
        )}
        {onHandled && view.state !== 'dismissed' && (
          <div class="row actions">
            <input type="text" placeholder={t('notePlaceholder')} value={note} maxLength={500} onInput={(e) => setNote((e.currentTarget as HTMLInputElement).value)} data-testid="alarm-note" />
            {view.state === 'open' && <button disabled={busy} onClick={() => void act('ack')} data-testid="alarm-ack">{t('acknowledge')}</button>}
            <button class="secondary" disabled={busy} onClick={() => void act('dismiss')} data-testid="alarm-dismiss">{t('dismiss')}</button>
          </div>
        )}
        {error && <small class="error" role="alert">{error}</small>}
      </div>
      {showSnapshot && view.snapshotUrl && (
        <div class="lightbox" role="dialog" onClick={() => setShowSnapshot(false)} data-testid="alarm-snapshot">
          <img src={client.withToken(view.snapshotUrl)} alt={t('snapshot')} />
          <span class="hint">{t('clickToClose')}</span>
        </div>
      )}
    </li>
  );
}
