import { useEffect, useState } from 'preact/hooks';

/**
 * Hash routes (#/search, #/track/<id>, #/faces, #/live, #/watchlists[/<list>[/<entry>]], #/alarms, #/audit): links
 * work without server-side routing.
 */
export type Route =
  | { view: 'search'; query: URLSearchParams }
  | { view: 'track'; id: string }
  | { view: 'faces' }
  | { view: 'live' }
  | { view: 'watchlists'; list: string | null; entry: string | null }
  | { view: 'alarms'; query: URLSearchParams }
  | { view: 'audit' };

export function parseRoute(hash: string): Route {
  const [path = '', qs = ''] = hash.replace(/^#\/?/, '').split('?');
  const [head, ...rest] = path.split('/');
  switch (head) {
    case 'track': return { view: 'track', id: decodeURIComponent(rest.join('/')) };
    case 'faces': return { view: 'faces' };
    case 'live': return { view: 'live' };
    case 'audit': return { view: 'audit' };
    case 'watchlists': return { view: 'watchlists', list: rest[0] ? decodeURIComponent(rest[0]) : null, entry: rest[1] ? decodeURIComponent(rest[1]) : null };
    case 'alarms': return { view: 'alarms', query: new URLSearchParams(qs) };
    default: return { view: 'search', query: new URLSearchParams(qs) };
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export const trackHref = (id: string): string => `#/track/${encodeURIComponent(id)}`;
export const listHref = (list: string, entry?: string): string =>
  `#/watchlists/${encodeURIComponent(list)}${entry ? `/${encodeURIComponent(entry)}` : ''}`;
