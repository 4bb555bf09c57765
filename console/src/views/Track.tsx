/**
 * One track: its best shot, camera, time span, plate (display form, its crop, colour and confidence), clothing
 * colours, the other attributes, the track's recorded clip with its box drawn over the video (investigators and
 * admins, where the camera records), and the camera's live view where it is live.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { useSession } from '../context';
import { label } from '../i18n';
import { displayPlate, valueLabel } from '../filters';
import { LiveButton } from '../components/LivePlayer';
import { ClipPlayer, type ClipTrack } from '../components/ClipPlayer';
import type { TrackSummary } from '../types';

export function TrackView({ id }: { id: string }) {
  const { client, t, fmt, cameras, lang, can } = useSession();
  const [track, setTrack] = useState<TrackSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stale = false;
    setTrack(null);
    setError(null);
    client.track(id).then((r) => { if (!stale) setTrack(r); })
      .catch((err: unknown) => { if (!stale) setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)); });
    return () => { stale = true; };
  }, [id, client]);

  // One object per loaded track: the player reads it on every frame.
  const clipTrack = useMemo<ClipTrack | undefined>(() => (track ? {
    start: track.start, end: track.end, trajectory: track.trajectory ?? [], frame: track.frame ?? null, label: label(t, 'cls_', track.cls),
  } : undefined), [track, t]);

  const back = <a href="#" onClick={(e) => { e.preventDefault(); history.back(); }} class="back">← {t('back')}</a>;
  if (error) return <section>{back}<p class="error" role="alert">{t('error')}: {error}</p></section>;
  if (!track) return <section>{back}<p>{t('loading')}</p></section>;
  const cam = cameras.find((c) => c.id === track.cameraId);
  const a = track.attributes ?? {};
  // Shown in their own rows; the rest stay chips.
  const OWN_ROWS = new Set(['plate', 'plateRaw', 'plateColour', 'plateConfidence', 'plateRows', 'upperColour', 'lowerColour', 'upperColourConfidence', 'lowerColourConfidence']);
  const attrs = Object.entries(a).filter(([k]) => !OWN_ROWS.has(k));
  const plate = typeof a['plate'] === 'string' ? displayPlate(a['plate']) : typeof a['plateRaw'] === 'string' ? a['plateRaw'] : null;
  const pct = (v: unknown): string => (typeof v === 'number' ? ` (${fmt.percent(v)})` : '');
  return (
    <section class="track card" data-testid="track">
      {back}
      <h2>{t('track')} <code>{track.id}</code></h2>
      <div class="track-body">
        <div class="shots">
          {track.hasThumbnail !== false && <img src={client.thumbnailUrl(track.id)} alt={track.cls} data-testid="track-thumbnail" />}
          {track.hasPlateCrop && <img class="plate-crop" src={client.plateUrl(track.id)} alt={plate ?? t('plate')} data-testid="track-plate-crop" />}
        </div>
        <dl>
          <dt>{t('cls')}</dt><dd>{label(t, 'cls_', track.cls)}</dd>
          <dt>{t('camera')}</dt><dd data-testid="track-camera">{cam?.name ?? track.cameraId} <small>{track.cameraId}</small></dd>
          <dt>{t('department')}</dt><dd>{track.department} · {track.district}</dd>
          <dt>{t('timeSpan')}</dt><dd><time>{fmt.dateTime(track.start)}</time> – <time>{fmt.time(track.end)}</time> ({fmt.duration(track.end - track.start)})</dd>
          <dt>{t('hits')}</dt><dd>{track.hits}</dd>
          <dt>{t('score')}</dt><dd>{fmt.percent(track.score)}</dd>
          {plate !== null && <>
            <dt>{t('plate')}</dt>
            <dd data-testid="track-plate"><b class="plate">{plate}</b>{typeof a['plateColour'] === 'string' && <> · {valueLabel(lang, a['plateColour'])}</>}</dd>
            {typeof a['plateConfidence'] === 'number' && <><dt>{t('plateConfidence')}</dt><dd>{fmt.percent(a['plateConfidence'])}</dd></>}
          </>}
          {typeof a['upperColour'] === 'string' && <><dt>{t('upperColour')}</dt><dd data-testid="track-upper">{valueLabel(lang, a['upperColour'])}{pct(a['upperColourConfidence'])}</dd></>}
          {typeof a['lowerColour'] === 'string' && <><dt>{t('lowerColour')}</dt><dd data-testid="track-lower">{valueLabel(lang, a['lowerColour'])}{pct(a['lowerColourConfidence'])}</dd></>}
          <dt>{t('attributes')}</dt>
          <dd>{attrs.length ? attrs.map(([k, v]) => <span class="chip">{k}: {valueLabel(lang, String(v))}</span>) : <span class="hint">{t('noAttributes')}</span>}</dd>
        </dl>
      </div>
      {can.clips && (
        <div class="track-clip" data-testid="track-clip">
          <h3>{t('clip')}</h3>
          {track.clipRef && clipTrack
            ? <ClipPlayer clipRef={track.clipRef} track={clipTrack} />
            : <p class="hint" data-testid="track-no-clip">{t('noClip')}</p>}
        </div>
      )}
      {cam && <LiveButton cameraId={cam.id} live={cam.health.state === 'live'} />}
    </section>
  );
}
