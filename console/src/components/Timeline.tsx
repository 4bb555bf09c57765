/**
 * Recording timelines, one bar per camera over the last 1, 6 or 24 hours: recorded spans (adjacent segments
 * merged) and the gaps the recordings index reports, coloured by reason. Clicking a point on a bar plays 60 s of
 * that camera from there in the shared clip player. Read again every minute while the page is visible, so the newest
 * segments appear (each read is a line in the audit trail, so not more often).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, clipPath } from '../api';
import { useSession } from '../context';
import type { Key } from '../i18n';
import { GAP_REASONS, type Camera, type Gap, type RecordingsAnswer } from '../types';
import { ClipPlayer } from './ClipPlayer';

export const TIMELINE_HOURS = [1, 6, 24] as const;
const REFRESH_MS = 60_000;
const CLIP_MS = 60_000;
/** Segments this close are one recorded span on the bar (a segment's end and the next one's start differ by a frame). */
const JOIN_MS = 1_500;
const W = 1000;
const H = 18;

/** Contiguous recorded spans from the segments (sorted by start), merging those that touch. */
export function recordedSpans(segments: readonly { start: number; end: number }[]): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (const s of [...segments].sort((a, b) => a.start - b.start)) {
    const last = out[out.length - 1];
    if (last && s.start - last.end <= JOIN_MS) last.end = Math.max(last.end, s.end);
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}

export function RecordingTimelines({ cameras }: { cameras: readonly Camera[] }) {
  const { t, fmt } = useSession();
  const [hours, setHours] = useState<(typeof TIMELINE_HOURS)[number]>(1);
  const [now, setNow] = useState(() => Date.now());
  const [playing, setPlaying] = useState<{ cameraId: string; from: number } | null>(null);
  const first = useRef(true);
  useEffect(() => {
    // A new range reads from now; the first render already did.
    if (first.current) first.current = false; else setNow(Date.now());
    const timer = setInterval(() => { if (!document.hidden) setNow(Date.now()); }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [hours]);
  const from = now - hours * 3_600_000;
  const play = (cameraId: string, at: number): void => {
    // 60 s from the point clicked, pulled back so that it ends by now.
    setPlaying({ cameraId, from: Math.max(from, Math.min(at, Date.now() - CLIP_MS)) });
  };
  return (
    <div class="card" data-testid="timelines">
      <div class="row">
        <h2 class="grow">{t('recordings')}</h2>
        <label>{t('lastHours')}
          <select value={String(hours)} onChange={(e) => setHours(Number((e.currentTarget as HTMLSelectElement).value) as (typeof TIMELINE_HOURS)[number])} data-testid="timeline-hours">
            {TIMELINE_HOURS.map((h) => <option value={String(h)}>{t(`hours_${h}` as Key)}</option>)}
          </select>
        </label>
      </div>
      <ul class="timelines">
        {cameras.map((c) => (
          <li data-camera={c.id}>
            <span class="timeline-name" title={c.id}>{c.name ?? c.id}</span>
            <Timeline cameraId={c.id} from={from} to={now} onPick={(at) => play(c.id, at)} />
          </li>
        ))}
      </ul>
      <Legend />
      <p class="hint">{t('timelineHint')}</p>
      {playing && <p class="timeline-playing" data-testid="timeline-playing"><b>{cameras.find((c) => c.id === playing.cameraId)?.name ?? playing.cameraId}</b> · {fmt.dateTime(playing.from)} (60 s)</p>}
      {playing && (
        <ClipPlayer
          key={`${playing.cameraId}@${playing.from}`}
          clipRef={clipPath(playing.cameraId, playing.from, playing.from + CLIP_MS)}
          onClose={() => setPlaying(null)}
        />
      )}
    </div>
  );
}

function Legend() {
  const { t } = useSession();
  return (
    <p class="timeline-legend">
      <span><span class="swatch recorded" /> {t('recorded')}</span>
      {GAP_REASONS.map((r) => <span><span class={`swatch gap-${r}`} /> {t(`gap_${r}` as Key)}</span>)}
    </p>
  );
}

export function Timeline({ cameraId, from, to, onPick }: { cameraId: string; from: number; to: number; onPick: (at: number) => void }) {
  const { client, t, fmt } = useSession();
  const [answer, setAnswer] = useState<RecordingsAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stale = false;
    client.recordings(cameraId, from, to).then((a) => { if (!stale) { setAnswer(a); setError(null); } })
      .catch((err: unknown) => {
        if (stale) return;
        // A camera that has never recorded is a bar of nothing, not an error.
        if (err instanceof ApiError && err.code === 'RECORDING_UNKNOWN_CAMERA') { setAnswer({ cameraId, from, to, segments: [], gaps: [] }); setError(null); return; }
        setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
      });
    return () => { stale = true; };
  }, [client, cameraId, from, to]);

  const x = (ms: number): number => Math.max(0, Math.min(W, ((ms - from) / (to - from)) * W));
  const spans = answer ? recordedSpans(answer.segments) : [];
  const gaps: Gap[] = answer ? [...answer.gaps] : [];
  const pick = (e: MouseEvent): void => {
    const rect = (e.currentTarget as SVGSVGElement).getBoundingClientRect();
    if (rect.width <= 0) return;
    onPick(from + ((e.clientX - rect.left) / rect.width) * (to - from));
  };
  const mid = from + (to - from) / 2;
  // Over a day the ends fall on different dates.
  const tick = (ms: number): string => (to - from > 12 * 3_600_000 ? fmt.dateTime(ms) : fmt.time(ms));
  return (
    <div class="timeline" data-testid="timeline" data-camera={cameraId} data-loaded={answer ? 'true' : 'false'} data-spans={spans.length} data-gaps={gaps.length}>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`${t('recordings')} ${cameraId}`} onClick={pick}>
        <rect class="timeline-bg" x="0" y="0" width={W} height={H} />
        {gaps.map((g) => (
          <rect class={`gap-${g.reason}`} x={x(g.from)} y="0" width={Math.max(1, x(g.to) - x(g.from))} height={H} data-testid="timeline-gap" data-reason={g.reason}>
            <title>{t(`gap_${g.reason}` as Key)}: {fmt.time(g.from)} – {fmt.time(g.to)}</title>
          </rect>
        ))}
        {spans.map((s) => (
          <rect class="recorded" x={x(s.start)} y="0" width={Math.max(1, x(s.end) - x(s.start))} height={H} data-testid="timeline-span">
            <title>{t('recorded')}: {fmt.time(s.start)} – {fmt.time(s.end)}</title>
          </rect>
        ))}
      </svg>
      <div class="timeline-axis"><small>{tick(from)}</small><small>{tick(mid)}</small><small>{tick(to)}</small></div>
      {error && <small class="error">{error}</small>}
      {answer && spans.length === 0 && !error && <small class="hint" data-testid="timeline-empty">{t('noRecordings')}</small>}
    </div>
  );
}
