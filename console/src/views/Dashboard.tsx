/**
 * Live dashboard: every camera's health, per-zone counts as sparklines, crowd alerts as they are raised,
 * updated and cleared (each with its recorded clip on demand), and, for investigators and admins, each camera's
 * recording timeline. Events arrive over WebSocket /api/v1/live; until it connects (or if it drops) the view
 * polls /api/v1/zones, /api/v1/alerts and /api/v1/cameras so it never goes stale silently. In cluster mode,
 * operators and admins also see the cluster (DashboardCluster.tsx).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { useSession } from '../context';
import { label, type Key } from '../i18n';
import { Sparkline, type Point } from '../components/Sparkline';
import { ClipPlayer } from '../components/ClipPlayer';
import { RecordingTimelines } from '../components/Timeline';
import { ClusterPanel } from './DashboardCluster';
import type { Camera, CrowdAlert, LiveEvent, ZoneCount } from '../types';

const HISTORY = 120;
const POLL_MS = 2000;
const MAX_ALERTS = 50;

type Series = Map<string, Point[]>;

function addPoint(series: Series, z: ZoneCount): Series {
  const key = `${z.cameraId}/${z.zoneId}`;
  const pts = series.get(key) ?? [];
  if (pts.length && pts[pts.length - 1]!.at >= z.at) return series;
  const next = new Map(series);
  next.set(key, [...pts, { at: z.at, value: z.count }].slice(-HISTORY));
  return next;
}

/** Keeps the newest phase of each incident at the top; a cleared incident stays, greyed, until it scrolls off. */
function addAlert(list: CrowdAlert[], a: CrowdAlert): CrowdAlert[] {
  const old = list.find((x) => x.id === a.id);
  if (old && old.at > a.at) return list;
  // A live push carries the alert as sent, without the clip link the polled list adds: keep the one known.
  const next = a.clipRef === undefined && old?.clipRef ? { ...a, clipRef: old.clipRef } : a;
  return [next, ...list.filter((x) => x.id !== a.id)].slice(0, MAX_ALERTS);
}

export function DashboardView() {
  const { client, t, fmt, cameras: initial, can } = useSession();
  // The clip as it was when asked for: a later phase of the incident (a longer clipRef) must not restart it.
  const [clipOf, setClipOf] = useState<{ id: string; ref: string } | null>(null);
  const [cameras, setCameras] = useState<Camera[]>(initial);
  const [series, setSeries] = useState<Series>(new Map());
  const [alerts, setAlerts] = useState<CrowdAlert[]>([]);
  const [connected, setConnected] = useState(false);
  const visible = useRef(new Set(initial.map((c) => c.id)));

  useEffect(() => {
    let closed = false;
    let ws: WebSocket | null = null;
    let retry: ReturnType<typeof setTimeout> | null = null;

    const poll = async (): Promise<void> => {
      const [z, a, c] = await Promise.allSettled([client.zones(), client.alerts(MAX_ALERTS), client.cameras()]);
      if (closed) return;
      if (c.status === 'fulfilled') { setCameras(c.value.cameras); visible.current = new Set(c.value.cameras.map((x) => x.id)); }
      if (z.status === 'fulfilled') setSeries((s) => z.value.zones.filter((x) => visible.current.has(x.cameraId)).reduce(addPoint, s));
      if (a.status === 'fulfilled') setAlerts((l) => a.value.alerts.filter((x) => visible.current.has(x.camera)).reverse().reduce(addAlert, l));
    };
    const timer = setInterval(() => { void poll(); }, POLL_MS);
    void poll();

    const connect = (): void => {
      try { ws = new WebSocket(client.wsUrl('/api/v1/live')); } catch { return; }
      ws.onopen = () => setConnected(true);
      ws.onclose = () => { setConnected(false); if (!closed) retry = setTimeout(connect, 5000); };
      ws.onmessage = (m) => {
        let ev: LiveEvent;
        try { ev = JSON.parse(String(m.data)) as LiveEvent; } catch { return; }
        if (ev.type === 'alert' && visible.current.has(ev.alert.camera)) setAlerts((l) => addAlert(l, ev.alert));
        else if (ev.type === 'zone_count' && visible.current.has(ev.count.cameraId)) setSeries((s) => addPoint(s, ev.count));
        else if (ev.type === 'health') setCameras((cs) => cs.map((c) => (c.id === ev.cameraId ? { ...c, health: { ...c.health, state: ev.state } } : c)));
      };
    };
    connect();
    return () => { closed = true; clearInterval(timer); if (retry) clearTimeout(retry); ws?.close(); };
  }, [client]);

  const thresholdOf = (key: string): number | undefined => alerts.find((a) => `${a.camera}/${a.zone}` === key)?.threshold;
  return (
    <section class="dashboard">
      <p class={`status ${connected ? 'ok' : 'warn'}`} data-testid="live-status">{connected ? t('connected') : t('disconnected')}</p>
      <div class="panels">
        <div class="card">
          <h2>{t('health')}</h2>
          <ul class="health" data-testid="health">
            {cameras.map((c) => (
              <li data-camera={c.id}>
                <span class={`badge state-${c.health.state}`}>{label(t, 'state_', c.health.state)}</span>
                <b>{c.name ?? c.id}</b> <small>{c.id} · {c.department}</small>
                {c.health.fps !== undefined && <small> · {c.health.fps.toFixed(1)} fps</small>}
                {c.health.code && <small class="error"> · {c.health.code}</small>}
              </li>
            ))}
          </ul>
        </div>
        <div class="card">
          <h2>{t('zones')}</h2>
          <ul class="zones" data-testid="zones">
            {[...series].map(([key, pts]) => (
              <li>
                <span class="zone-name">{key}</span>
                <Sparkline points={pts} threshold={thresholdOf(key)} label={key} />
                <b class="zone-count">{pts[pts.length - 1]?.value ?? 0}</b> <small>{t('people')}</small>
              </li>
            ))}
          </ul>
        </div>
      </div>
      {can.clips && <RecordingTimelines cameras={cameras} />}
      <ClusterPanel />
      <div class="card">
        <h2>{t('alerts')}</h2>
        {alerts.length === 0 && <p class="hint">{t('noAlerts')}</p>}
        <ul class="alerts" data-testid="alerts">
          {alerts.map((a) => (
            <li key={a.id} class={`alert sev-${a.severity} phase-${a.phase}`} data-testid="alert" data-phase={a.phase}>
              {a.snapshotRef ? <img src={client.snapshotUrl(a.snapshotRef)} alt={t('snapshot')} width="128" height="96" /> : <span class="nosnap">{t('noSnapshot')}</span>}
              <div>
                <span class={`badge sev-${a.severity}`}>{t(a.severity as Key)}</span> <b>{t(a.phase as Key)}</b>
                <div>{a.camera} / {a.zone} · {a.district}</div>
                <div><b>{a.count}</b> {t('people')} ({t('threshold')} {a.threshold})</div>
                <small>{fmt.dateTime(a.at)}</small>
                {can.clips && a.clipRef && (clipOf?.id === a.id
                  ? <ClipPlayer clipRef={clipOf.ref} onClose={() => setClipOf(null)} />
                  : <div><button type="button" class="secondary" onClick={() => setClipOf({ id: a.id, ref: a.clipRef! })} data-testid="alert-play-clip">{t('playClip')}</button></div>)}
              </div>
            </li>
          ))}
        </ul>
      </div>
    </section>
  );
}
