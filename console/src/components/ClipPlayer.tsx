/**
 * A recorded clip in a <video> (the API's MP4 with ?token=, range requests by the browser), shared by the track page,
 * the alarm cards and the dashboard's crowd alerts and timelines. HEAD <clipRef> first says what the clip covers and
 * how its video time maps to wall clock across gaps (x-clip-spans); a range with nothing recorded is said as "not
 * recorded" with its gaps instead of a broken player. Given a track, its box is drawn over the video on a canvas: the
 * video's time is mapped through the spans to wall clock, the trajectory interpolated at that time, and the box
 * scaled from the analysis frame to the letterboxed picture. The overlay can lead or lag by up to +-0.5 s (a
 * trajectory point every ~0.5 s, interpolated; the spans' wall-clock start is the recorder's, the trajectory's the
 * analysis frame's).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, parseClipRef } from '../api';
import { boxAt, containRect, toDisplay, videoAt, wallAt } from '../clip';
import { useSession } from '../context';
import type { Key } from '../i18n';
import type { ClipInfo, Gap, TrajectoryPoint } from '../types';

export interface ClipTrack {
  start: number;
  end: number;
  trajectory: readonly TrajectoryPoint[];
  /** The analysis frame the boxes are in; without it no box is drawn. */
  frame: { width: number; height: number } | null;
  /** Written beside the box (the class). */
  label?: string;
}

export interface ClipPlayerProps {
  clipRef: string;
  /** Draws this track's box over the video, and offers "jump to track start". */
  track?: ClipTrack | undefined;
  /** Wall-clock ms to start at; default: the track's start, else the clip's start. */
  at?: number | undefined;
  /** Starts playing once loaded (muted, so the browser allows it). */
  autoplay?: boolean;
  onClose?: (() => void) | undefined;
}

type Load =
  | { state: 'loading' }
  | { state: 'ready'; info: ClipInfo }
  | { state: 'not-recorded'; gaps: Gap[] }
  | { state: 'failed'; message: string };

const OVERLAY_COLOUR = '#ffd400';

export function ClipPlayer({ clipRef, track, at, autoplay = true, onClose }: ClipPlayerProps) {
  const { client, t, fmt } = useSession();
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [playing, setPlaying] = useState(false);
  const [wall, setWall] = useState<number | null>(null);
  const video = useRef<HTMLVideoElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const scrub = useRef<HTMLInputElement>(null);
  // Read by the drawing loop: a caller's re-render (a new track object, a new `at`) must not restart it or seek.
  const trackRef = useRef(track);
  trackRef.current = track;
  const atRef = useRef(at);

  useEffect(() => {
    const ctl = new AbortController();
    setLoad({ state: 'loading' });
    client.clipInfo(clipRef, ctl.signal).then((info) => { if (!ctl.signal.aborted) setLoad({ state: 'ready', info }); })
      .catch(async (err: unknown) => {
        if (ctl.signal.aborted) return;
        // A camera that has never recorded has no gaps to show either: it is simply not recorded.
        if (err instanceof ApiError && (err.code === 'RECORDING_NOT_RECORDED' || err.code === 'RECORDING_UNKNOWN_CAMERA')) {
          setLoad({ state: 'not-recorded', gaps: await gapsOf(err) });
        } else {
          setLoad({ state: 'failed', message: err instanceof ApiError ? `${err.code}: ${err.message}` : String(err) });
        }
      });
    return () => ctl.abort();

    /** The gaps the refusal carries, or (an API that sends none) the recordings index's gaps for the range. */
    async function gapsOf(err: ApiError): Promise<Gap[]> {
      const given = err.detail['gaps'];
      if (Array.isArray(given)) return given as Gap[];
      const q = parseClipRef(clipRef);
      if (!q) return [];
      try { return (await client.recordings(q.cameraId, q.from, q.to)).gaps; } catch { return []; }
    }
  }, [clipRef, client]);

  const info = load.state === 'ready' ? load.info : null;

  // Draws the box for the frame on screen: on every animation frame while playing, and once on a seek, a pause or a resize.
  useEffect(() => {
    const v = video.current;
    const c = canvas.current;
    if (!info || !v || !c) return;
    let raf = 0;
    const draw = (): void => {
      const track = trackRef.current;
      const w = wallAt(info.spans, v.currentTime * 1000);
      // The scrubber follows the video without a re-render (set directly, as the canvas is).
      if (scrub.current && Number.isFinite(v.duration)) { scrub.current.max = String(v.duration); scrub.current.value = String(v.currentTime); }
      // The time line shows whole seconds: re-rendered once a second, not on every frame.
      setWall(w === null ? null : Math.floor(w / 1000) * 1000);
      const cw = c.clientWidth;
      const ch = c.clientHeight;
      const dpr = window.devicePixelRatio || 1;
      if (c.width !== Math.round(cw * dpr) || c.height !== Math.round(ch * dpr)) { c.width = Math.round(cw * dpr); c.height = Math.round(ch * dpr); }
      const g = c.getContext('2d');
      if (!g) return;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, cw, ch);
      const box = track?.frame && w !== null && v.videoWidth > 0 ? boxAt(track.trajectory, w, track.start, track.end) : null;
      c.dataset['wall'] = w === null ? '' : String(Math.round(w));
      if (!box || !track?.frame) { c.dataset['box'] = ''; return; }
      const d = toDisplay(box, track.frame, containRect(cw, ch, v.videoWidth, v.videoHeight));
      c.dataset['box'] = [d.x, d.y, d.w, d.h].map((n) => n.toFixed(1)).join(',');
      // How many frames had a box drawn: the browser test's proof that the overlay followed the video.
      c.dataset['boxes'] = String(Number(c.dataset['boxes'] ?? 0) + 1);
      g.lineWidth = 2;
      g.strokeStyle = OVERLAY_COLOUR;
      g.strokeRect(d.x, d.y, d.w, d.h);
      if (track.label) {
        g.font = '12px system-ui, sans-serif';
        const tw = g.measureText(track.label).width + 8;
        const ty = d.y >= 16 ? d.y - 16 : d.y;
        g.fillStyle = OVERLAY_COLOUR;
        g.fillRect(d.x - 1, ty, tw, 16);
        g.fillStyle = '#000';
        g.fillText(track.label, d.x + 3, ty + 12);
      }
    };
    const loop = (): void => { draw(); if (!v.paused && !v.ended) raf = requestAnimationFrame(loop); };
    const onPlay = (): void => { setPlaying(true); cancelAnimationFrame(raf); raf = requestAnimationFrame(loop); };
    const onPause = (): void => { setPlaying(false); draw(); };
    const onMeta = (): void => {
      const start = atRef.current ?? trackRef.current?.start;
      const target = start !== undefined ? videoAt(info.spans, start) : null;
      if (target !== null && target > 0) v.currentTime = Math.min(target / 1000, Math.max(0, (v.duration || Infinity) - 0.05));
      draw();
      if (autoplay) void v.play().catch(() => undefined);
    };
    const events: [string, () => void][] = [['play', onPlay], ['pause', onPause], ['ended', onPause], ['seeked', draw], ['loadeddata', draw], ['timeupdate', () => { if (v.paused) draw(); }]];
    for (const [e, f] of events) v.addEventListener(e, f);
    v.addEventListener('loadedmetadata', onMeta, { once: true });
    if (v.readyState >= 1) onMeta();
    const ro = new ResizeObserver(draw);
    ro.observe(c);
    return () => {
      cancelAnimationFrame(raf);
      ro.disconnect();
      for (const [e, f] of events) v.removeEventListener(e, f);
      v.removeEventListener('loadedmetadata', onMeta);
    };
  }, [info]);

  const toggle = (): void => {
    const v = video.current;
    if (!v) return;
    if (v.paused) void v.play().catch(() => undefined); else v.pause();
  };
  const jumpToTrack = (): void => {
    const v = video.current;
    if (!v || !info || !track) return;
    const target = videoAt(info.spans, track.start);
    if (target === null) return;
    v.currentTime = target / 1000;
    void v.play().catch(() => undefined);
  };

  const close = onClose && <button class="link" type="button" onClick={onClose} data-testid="clip-close">{t('closeClip')}</button>;
  if (load.state === 'loading') return <div class="clip-player" data-testid="clip-player" data-state="loading"><p class="hint">{t('clipLoading')}</p>{close}</div>;
  if (load.state === 'failed') {
    return <div class="clip-player" data-testid="clip-player" data-state="failed"><p class="error" role="alert">{t('clipFailed')}: {load.message}</p>{close}</div>;
  }
  if (load.state === 'not-recorded') {
    return (
      <div class="clip-player" data-testid="clip-player" data-state="not-recorded">
        <p class="notice" data-testid="clip-not-recorded"><b>{t('notRecorded')}</b> · {t('notRecordedDetail')}</p>
        {load.gaps.length > 0 && (
          <ul class="gaps" data-testid="clip-gaps">
            {load.gaps.map((g) => <li><span class={`swatch gap-${g.reason}`} /> {fmt.time(g.from)} – {fmt.time(g.to)} · {t(`gap_${g.reason}` as Key)}</li>)}
          </ul>
        )}
        {close}
      </div>
    );
  }
  const skipped = load.info.spans.length - 1;
  return (
    <div class="clip-player" data-testid="clip-player" data-state="ready" data-start={load.info.start} data-end={load.info.end}>
      <div class="clip-stage">
        <video ref={video} src={client.clipUrl(clipRef)} muted playsInline preload="auto" data-testid="clip-video" onClick={toggle} />
        <canvas ref={canvas} class="clip-overlay" data-testid="clip-overlay" />
      </div>
      <div class="row clip-controls">
        <button type="button" onClick={toggle} data-testid="clip-play">{playing ? t('pause') : t('play')}</button>
        <input ref={scrub} type="range" class="clip-scrub" min="0" max="0" step="0.1" aria-label={t('clipPosition')} data-testid="clip-scrub"
          onInput={(e) => { const v = video.current; if (v) v.currentTime = Number((e.currentTarget as HTMLInputElement).value); }} />
        {track && <button type="button" class="secondary" onClick={jumpToTrack} data-testid="clip-jump-start">{t('jumpToTrackStart')}</button>}
        <span class="clip-time" data-testid="clip-time">{wall !== null ? fmt.dateTime(wall) : '—'}</span>
        <small class="hint">{fmt.time(load.info.start)} – {fmt.time(load.info.end)}{skipped > 0 ? ` · ${t('clipSkipsGaps')} ${skipped}` : ''}</small>
        {close}
      </div>
      {track && <p class="hint" data-testid="clip-overlay-help">{track.trajectory.length > 0 && track.frame ? t('overlayHelp') : t('noTrajectory')}</p>}
    </div>
  );
}
