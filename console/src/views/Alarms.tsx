/**
 * The alarm feed: the latest watch-list, frequency and stranger alarms from the alarm log (GET /api/v1/alarms),
 * with new ones pushed over WebSocket /api/v1/live as `{ type: 'alarm', alarm }`, filtered by state and kind (kept
 * in the URL, so a filtered feed can be bookmarked). While the socket is down the feed polls, so it never goes
 * stale silently. Acknowledging or dismissing replaces the alarm with the API's answer.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, normaliseAlarm } from '../api';
import { useSession } from '../context';
import type { Key } from '../i18n';
import { AlarmCard } from '../components/AlarmCard';
import { ALARM_KINDS, ALARM_STATES, type AlarmKind, type AlarmState, type AlarmView, type LiveEvent } from '../types';

const PAGE = 50;
const POLL_MS = 5000;
/** A live alarm (bare: no images, no district yet) is followed by re-reads of the log this often until the log has it. */
const REREAD_MS = 1500;
const REREAD_TRIES = 20;

const pick = <T extends string>(all: readonly T[], v: string | null): T | undefined => (v && (all as readonly string[]).includes(v) ? v as T : undefined);

/** Newest first; what the API answered replaces what was there (its state and image paths are the latest). */
function merge(list: AlarmView[], fresh: AlarmView[], keep: (v: AlarmView) => boolean): AlarmView[] {
  const byId = new Map(list.map((v) => [v.alarm.id, v]));
  for (const v of fresh) byId.set(v.alarm.id, v);
  return [...byId.values()].filter(keep).sort((a, b) => b.alarm.at - a.alarm.at);
}

export function AlarmsView({ query }: { query: URLSearchParams }) {
  const { client, t, can } = useSession();
  const state = pick<AlarmState>(ALARM_STATES, query.get('state'));
  const kind = pick<AlarmKind>(ALARM_KINDS, query.get('kind'));
  const [alarms, setAlarms] = useState<AlarmView[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [listNames, setListNames] = useState<Map<string, string>>(new Map());
  const keep = useMemo(() => (v: AlarmView) => (!state || v.state === state) && (!kind || v.alarm.kind === kind), [state, kind]);
  const keepRef = useRef(keep);
  keepRef.current = keep;

  const setFilter = (k: 'state' | 'kind', v: string): void => {
    const q = new URLSearchParams(query);
    if (v) q.set(k, v); else q.delete(k);
    location.hash = `#/alarms${q.toString() ? `?${q}` : ''}`;
  };

  useEffect(() => {
    if (!can.watchlists) return;
    client.watchlists().then(({ lists }) => setListNames(new Map(lists.map((l) => [l.id, l.name])))).catch(() => undefined);
  }, [client, can.watchlists]);

  useEffect(() => {
    let closed = false;
    let ws: WebSocket | null = null;
    let retry: ReturnType<typeof setTimeout> | null = null;
    let reread: ReturnType<typeof setTimeout> | null = null;
    let live = false;
    /** Live alarms the log has not answered yet: the pipeline pushes before the log and the outbox are written. */
    const bare = new Set<string>();
    let tries = 0;
    const rereadSoon = (): void => {
      if (reread || bare.size === 0) return;
      // Bounded: an alarm the log never shows (pruned, or out of scope by now) stops the re-reads after a while.
      if (++tries > REREAD_TRIES) { bare.clear(); tries = 0; return; }
      reread = setTimeout(() => { reread = null; void read().then(rereadSoon); }, REREAD_MS);
    };
    setAlarms([]);
    setCursor(null);
    setLoaded(false);

    const read = async (): Promise<void> => {
      try {
        const page = await client.alarms({ limit: PAGE, ...(state ? { state } : {}), ...(kind ? { kind } : {}) });
        if (closed) return;
        setError(null);
        for (const v of page.alarms) bare.delete(v.alarm.id);
        setAlarms((l) => merge(l, page.alarms, keepRef.current));
        setCursor((c) => c ?? page.nextCursor);
        setLoaded(true);
      } catch (err) {
        if (!closed) setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
      }
    };
    const timer = setInterval(() => { if (!live) void read(); }, POLL_MS);
    void read();

    const connect = (): void => {
      try { ws = new WebSocket(client.wsUrl('/api/v1/live')); } catch { return; }
      ws.onopen = () => { live = true; setConnected(true); void read(); };
      ws.onclose = () => { live = false; setConnected(false); if (!closed) retry = setTimeout(connect, 5000); };
      ws.onmessage = (m) => {
        let ev: LiveEvent;
        try { ev = JSON.parse(String(m.data)) as LiveEvent; } catch { return; }
        if (ev.type !== 'alarm' || !ev.alarm) return;
        const isBare = !('alarm' in ev.alarm);
        const v = normaliseAlarm(ev.alarm);
        setFresh((f) => new Set(f).add(v.alarm.id));
        // A bare alarm knows nothing of its handling or its images: it never replaces what the log said.
        setAlarms((l) => (isBare && l.some((x) => x.alarm.id === v.alarm.id) ? l : merge(l, [v], keepRef.current)));
        if (isBare && keepRef.current(v)) { bare.add(v.alarm.id); tries = 0; rereadSoon(); }
      };
    };
    connect();
    return () => { closed = true; clearInterval(timer); if (retry) clearTimeout(retry); if (reread) clearTimeout(reread); ws?.close(); };
  }, [client, state, kind]);

  const more = async (): Promise<void> => {
    if (!cursor) return;
    try {
      const page = await client.alarms({ limit: PAGE, cursor, ...(state ? { state } : {}), ...(kind ? { kind } : {}) });
      setAlarms((l) => merge(l, page.alarms, keep));
      setCursor(page.nextCursor);
    } catch (err) {
      setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    }
  };

  return (
    <section class="alarms-view">
      <div class="card">
        <div class="row">
          <h2 class="grow">{t('alarmFeed')}</h2>
          <label>{t('alarmStateLabel')}
            <select value={state ?? ''} onChange={(e) => setFilter('state', (e.currentTarget as HTMLSelectElement).value)} data-testid="alarm-filter-state">
              <option value="">{t('any')}</option>
              {ALARM_STATES.map((s) => <option value={s}>{t(`alarmState_${s}` as Key)}</option>)}
            </select>
          </label>
          <label>{t('alarmKindLabel')}
            <select value={kind ?? ''} onChange={(e) => setFilter('kind', (e.currentTarget as HTMLSelectElement).value)} data-testid="alarm-filter-kind">
              <option value="">{t('any')}</option>
              {ALARM_KINDS.map((k) => <option value={k}>{t(`kind_${k}` as Key)}</option>)}
            </select>
          </label>
          <span class={`status ${connected ? 'ok' : 'warn'}`} data-testid="alarms-live-status">{connected ? t('connected') : t('disconnected')}</span>
        </div>
        {error && <p class="error" role="alert">{error}</p>}
        {loaded && alarms.length === 0 && <p class="hint" data-testid="no-alarms">{t('noAlarms')}</p>}
        {!loaded && !error && <p class="hint">{t('loading')}</p>}
        <ul class="alarms" data-testid="alarms">
          {alarms.map((v) => (
            <AlarmCard
              key={v.alarm.id}
              view={v}
              listName={v.alarm.kind === 'watchlist' ? listNames.get(v.alarm.list) : undefined}
              fresh={fresh.has(v.alarm.id)}
              onHandled={(h) => setAlarms((l) => merge(l, [h], keep))}
            />
          ))}
        </ul>
        {cursor && <div class="pager"><button onClick={() => void more()} data-testid="alarms-more">{t('more')}</button></div>}
      </div>
    </section>
  );
}
