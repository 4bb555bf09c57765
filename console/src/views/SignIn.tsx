import { useEffect, useState } from 'preact/hooks';
import type { Translate } from '../i18n';

interface Sso { enabled: boolean; label: string | null; loginUrl: string | null }

export function SignIn({ t, busy, error, onSubmit }: { t: Translate; busy: boolean; error: string | null; onSubmit: (token: string) => void }) {
  const [token, setToken] = useState('');
  // The city's identity provider, when the core has one (api.oidc): a sign-in that ends with a session token here.
  const [sso, setSso] = useState<Sso | null>(null);
  useEffect(() => {
    fetch('/api/v1/auth/oidc').then((r) => (r.ok ? r.json() as Promise<Sso> : null)).then((s) => setSso(s), () => setSso(null));
  }, []);
  return (
    <form class="card signin" onSubmit={(e) => { e.preventDefault(); if (token.trim()) onSubmit(token.trim()); }}>
      {sso?.enabled && sso.loginUrl && (
        <p><a class="button" href={sso.loginUrl} data-testid="sso">{t('signInWith')} {sso.label}</a></p>
      )}
      <label>
        {sso?.enabled ? t('orToken') : t('tokenLabel')}
        <input type="password" autocomplete="off" data-testid="token" value={token} onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <p class="hint">{t('tokenHint')}</p>
      {error && <p class="error" role="alert">{t('signInFailed')}: {error}</p>}
      <button type="submit" disabled={busy || !token.trim()} data-testid="signin">{busy ? t('loading') : t('signIn')}</button>
    </form>
  );
}
