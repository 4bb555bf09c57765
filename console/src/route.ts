import { useEffect, useState } from 'preact/hooks';

/** Hash routes (#/search, #/track/<id>, #/faces, #/live, #/audit): links work without server-side routing. */
export type Route =
  | { view: 'search'; query: URLSearchParams }
  | { view: 'track'; id: string }
  | { view: 'faces' }
  | { view: 'live' }
  | { view: 'audit' };

export function parseRoute(hash: string): Route {
  const [path = '', qs = ''] = hash.replace(/^#\/?/, '').split('?');
  const [head, ...rest] = path.split('/');
  switch (head) {
    case 'track': return { view: 'track', id: decodeURIComponent(rest.join('/')) };
    case 'faces': return { view: 'faces' };
    case 'live': return { view: 'live' };
    case 'audit': return { view: 'audit' };
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
