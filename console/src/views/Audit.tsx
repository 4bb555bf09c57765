/** The audit log (admins only): who searched what, when, and what came back; paged with the API's cursors. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { useSession } from '../context';
import type { AuditPage } from '../types';

export function AuditView() {
  const { client, t, fmt } = useSession();
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [pageNo, setPageNo] = useState(0);
  const [page, setPage] = useState<AuditPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stale = false;
    const cursor = cursors[pageNo];
    client.audit({ limit: 50, ...(cursor ? { cursor } : {}) })
      .then((p) => { if (!stale) setPage(p); })
      .catch((err: unknown) => { if (!stale) setError(err instanceof ApiError ? (err.status === 403 ? t('adminOnly') : `${err.code}: ${err.message}`) : String(err)); });
    return () => { stale = true; };
  }, [pageNo, client]);
  return (
    <section class="card audit">
      <h2>{t('auditTitle')}</h2>
      {error && <p class="error" role="alert">{error}</p>}
      {page && (
        <table data-testid="audit">
          <thead><tr><th>{t('at')}</th><th>{t('who')}</th><th>{t('action')}</th><th>{t('query')}</th><th>{t('results')}</th></tr></thead>
          <tbody>
            {page.entries.map((e) => (
              <tr>
                <td>{fmt.dateTime(e.at)}</td>
                <td>{e.tokenId} <small>{e.role} · {e.department}</small></td>
                <td>{e.action}</td>
                <td><code>{JSON.stringify(e.query)}</code></td>
                <td>{Array.isArray(e.results) ? e.results.length : e.results}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button disabled={pageNo === 0} onClick={() => setPageNo(pageNo - 1)}>{t('previous')}</button>
        <span>{t('page')} {pageNo + 1}</span>
        <button disabled={!page?.nextCursor} onClick={() => { const c = cursors.slice(0, pageNo + 1); c.push(page!.nextCursor!); setCursors(c); setPageNo(pageNo + 1); }}>{t('next')}</button>
      </div>
    </section>
  );
}
