/**
 * The investigators' console: sign in with an API token, then search, face search, the live dashboard, watch-lists
 * and the alarm feed (where the API answers them for the token) and (for admins) the audit log. Every list shows only what the API returns for the token; the console hides
 * what the API would refuse rather than letting the user hit the refusal.
 */
import { render } from 'preact';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, Client, saveToken, savedToken } from './api';
import { SessionContext, type Session } from './context';
import { formatters, initialLang, LANGS, rememberLang, translator, type Lang, type Translate } from './i18n';
import { useRoute } from './route';
import { SignIn } from './views/SignIn';
import { SearchView } from './views/Search';
import { TrackView } from './views/Track';
import { FaceSearchView } from './views/FaceSearch';
import { DashboardView } from './views/Dashboard';
import { AuditView } from './views/Audit';
import { WatchlistsView } from './views/Watchlists';
import { AlarmsView } from './views/Alarms';
import './style.css';

function LangSwitch({ lang, onChange, t }: { lang: Lang; onChange: (l: Lang) => void; t: Translate }) {
  return (
    <label class="lang">
      <span class="sr">{t('language')}</span>
      <select data-testid="lang" value={lang} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value as Lang)}>
        {LANGS.map((l) => <option value={l}>{l === 'zh-CN' ? '简体中文' : 'English'}</option>)}
      </select>
    </label>
  );
}

function App() {
  const [lang, setLang] = useState<Lang>(initialLang);
  const t = useMemo(() => translator(lang), [lang]);
  const fmt = useMemo(() => formatters(lang), [lang]);
  const [auth, setAuth] = useState<Omit<Session, 't' | 'fmt' | 'lang'> | null>(null);
  const [checking, setChecking] = useState(() => savedToken() !== null);
  const [error, setError] = useState<string | null>(null);
  const route = useRoute();

  useEffect(() => { document.documentElement.lang = lang; document.title = t('appTitle'); rememberLang(lang); }, [lang, t]);

  const signIn = useCallback(async (token: string) => {
    setError(null);
    setChecking(true);
    const client = new Client(token);
    try {
      const who = await client.whoAmI();
      const { cameras } = await client.cameras();
      const can = await client.capabilities(cameras);
      saveToken(token);
      setAuth({ client, role: who.role, departments: who.departments, cameras, can });
    } catch (err) {
      saveToken(null);
      setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    } finally {
      setChecking(false);
    }
  }, []);

  useEffect(() => {
    const token = savedToken();
    if (token) void signIn(token);
  }, [signIn]);

  const signOut = (): void => { saveToken(null); setAuth(null); location.hash = ''; };

  if (!auth) {
    return (
      <div class="signin-page">
        <header class="top"><h1>{t('appTitle')}</h1><LangSwitch lang={lang} onChange={setLang} t={t} /></header>
        <SignIn t={t} busy={checking} error={error} onSubmit={signIn} />
      </div>
    );
  }

  const session: Session = { ...auth, t, fmt, lang };
  const admin = auth.role === 'admin';
  const nav: [string, string, boolean][] = [
    ['#/search', t('navSearch'), route.view === 'search' || route.view === 'track'],
    ['#/faces', t('navFaces'), route.view === 'faces'],
    ['#/live', t('navLive'), route.view === 'live'],
    ...(auth.can.watchlists ? [['#/watchlists', t('navWatchlists'), route.view === 'watchlists'] as [string, string, boolean]] : []),
    ...(auth.can.alarms ? [['#/alarms', t('navAlarms'), route.view === 'alarms'] as [string, string, boolean]] : []),
    ...(admin ? [['#/audit', t('navAudit'), route.view === 'audit'] as [string, string, boolean]] : []),
  ];
  let view;
  switch (route.view) {
    case 'track': view = <TrackView id={route.id} />; break;
    case 'faces': view = <FaceSearchView />; break;
    case 'live': view = <DashboardView />; break;
    case 'watchlists': view = auth.can.watchlists ? <WatchlistsView list={route.list} entry={route.entry} /> : <p class="notice">{t('wlNotOffered')}</p>; break;
    case 'alarms': view = auth.can.alarms ? <AlarmsView query={route.query} /> : <p class="notice">{t('alarmsNotOffered')}</p>; break;
    case 'audit': view = admin ? <AuditView /> : <p class="notice">{t('adminOnly')}</p>; break;
    default: view = <SearchView query={route.query} />;
  }
  return (
    <SessionContext.Provider value={session}>
      <header class="top">
        <h1>{t('appTitle')}</h1>
        <nav>{nav.map(([href, text, active]) => <a href={href} class={active ? 'active' : ''} data-testid={`nav-${href.slice(2)}`}>{text}</a>)}</nav>
        <span class="who" data-testid="who" title={`${t('role')}: ${auth.role} · ${t('departments')}: ${auth.departments.join(', ') || '—'}`}>{t('role')}: {auth.role} · {t('departments')}: {auth.departments.join(', ') || '—'}</span>
        <LangSwitch lang={lang} onChange={setLang} t={t} />
        <button class="link" onClick={signOut} data-testid="signout">{t('signOut')}</button>
      </header>
      <main>{view}</main>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
