import { useState } from 'preact/hooks';
import type { Translate } from '../i18n';

export function SignIn({ t, busy, error, onSubmit }: { t: Translate; busy: boolean; error: string | null; onSubmit: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <form class="card signin" onSubmit={(e) => { e.preventDefault(); if (token.trim()) onSubmit(token.trim()); }}>
      <label>
        {t('tokenLabel')}
        <input type="password" autocomplete="off" data-testid="token" value={token} onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <p class="hint">{t('tokenHint')}</p>
      {error && <p class="error" role="alert">{t('signInFailed')}: {error}</p>}
      <button type="submit" disabled={busy || !token.trim()} data-testid="signin">{busy ? t('loading') : t('signIn')}</button>
    </form>
  );
}
