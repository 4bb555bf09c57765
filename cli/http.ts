/**
 * What the commands that talk to a core's HTTP API (search, watchlist, recordings, export) share: where the API is
 * and the caller's token, reading an answer into its JSON body or the API's typed error, and reporting a failure
 * the same way in each.
 */
import { ApiError } from '../common/errors.js';
import { reportError } from './run.js';

/** Where the commands find a core's API when neither --api nor CVCORE_API says. */
export const DEFAULT_API = 'http://127.0.0.1:8080';

/**
 * The API's base URL and the Authorization header, from --api / --token or CVCORE_API / CVCORE_TOKEN; or, when
 * there is no token, the line that says so (the command prints it and exits 2).
 */
export function apiTarget(values: { api?: string | undefined; token?: string | undefined }): { api: string; headers: Record<string, string> } | string {
  const api = (values.api ?? process.env['CVCORE_API'] ?? DEFAULT_API).replace(/\/+$/, '');
  const token = values.token ?? process.env['CVCORE_TOKEN'];
  if (!token) return 'a token is needed: --token <token> or CVCORE_TOKEN (the demo prints its tokens)';
  return { api, headers: { authorization: `Bearer ${token}` } };
}

/** The JSON body of a 2xx answer; otherwise an ApiError with the API's stable code and message. */
export async function answer(res: Response): Promise<unknown> {
  const text = await res.text();
  let body: unknown = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below with the status */ }
  if (!res.ok) {
    const b = (body ?? {}) as { code?: unknown; message?: unknown };
    const retry = res.headers.get('retry-after');
    throw new ApiError(res.status, typeof b.code === 'string' ? b.code : `HTTP_${res.status}`,
      `${typeof b.message === 'string' ? b.message : text.slice(0, 200) || res.statusText}${retry ? ` (retry after ${retry} s)` : ''}`);
  }
  return body;
}

/**
 * An API command's failure: bad arguments print the usage, an unreachable API says so (fetch's TypeError with a
 * cause), anything else goes to reportError. Returns the exit code.
 */
export function reportApiCommandError(err: unknown, usage: string): number {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`${(err as Error).message}\nusage: ${usage}\n`);
    return 2;
  }
  if (err instanceof TypeError && (err as { cause?: unknown }).cause) {
    process.stderr.write(`error: cannot reach the API: ${String((err as { cause: unknown }).cause)}\n`);
    return 2;
  }
  return reportError(err);
}
