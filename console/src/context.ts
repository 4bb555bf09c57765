import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Client } from './api';
import type { Formatters, Lang, Translate } from './i18n';
import type { Camera, Role } from './types';

/** What every view needs: the signed-in client, what the token may do, and the language. */
export interface Session {
  client: Client;
  role: Role;
  departments: string[];
  cameras: Camera[];
  /**
   * Views the API answered for this token at sign-in; the console offers only those (operators see no watch-lists,
   * no clips and no recording timelines).
   */
  can: { watchlists: boolean; alarms: boolean; clips: boolean };
  t: Translate;
  fmt: Formatters;
  lang: Lang;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in console');
  return s;
}
