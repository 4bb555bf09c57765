/**
 * The open WebSockets (live events, live view) of each token, so that a token that stops counting also stops
 * what it already opened: a revocation closes them at once, and each socket of an expiring token is closed when
 * its expiry passes. The close code is 4401 (the 4000s are the application's; 401 as in HTTP) with the error
 * code as the reason, so a client tells "sign in again" from a network failure.
 */
import type { Principal } from './types.js';

export const WS_CLOSE_TOKEN = 4401;
/** setTimeout's longest delay; a later expiry re-arms the timer. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** What the registry uses of a ws WebSocket. */
export interface ClosableSocket {
  close(code: number, reason: string): void;
  on(event: 'close', fn: () => void): void;
}

interface Entry {
  readonly socket: ClosableSocket;
  timer: NodeJS.Timeout | null;
}

export class SocketRegistry {
  readonly #byToken = new Map<string, Set<Entry>>();

  /** Follows the socket until it closes; closes it when the principal's token expires. */
  track(p: Principal, socket: ClosableSocket): void {
    const entry: Entry = { socket, timer: null };
    let set = this.#byToken.get(p.tokenId);
    if (!set) this.#byToken.set(p.tokenId, (set = new Set()));
    set.add(entry);
    const expires = p.expires;
    if (expires !== null) {
      const arm = (): void => {
        const left = expires - Date.now();
        if (left <= 0) {
          entry.timer = null;
          socket.close(WS_CLOSE_TOKEN, 'API_TOKEN_EXPIRED');
          return;
        }
        entry.timer = setTimeout(arm, Math.min(left, MAX_DELAY_MS));
        entry.timer.unref();
      };
      arm();
    }
    socket.on('close', () => {
      if (entry.timer) clearTimeout(entry.timer);
      set.delete(entry);
      if (set.size === 0 && this.#byToken.get(p.tokenId) === set) this.#byToken.delete(p.tokenId);
    });
  }

  /** Closes every open socket of the token; returns how many. */
  closeToken(tokenId: string, reason: 'API_TOKEN_REVOKED' | 'API_TOKEN_EXPIRED'): number {
    const set = this.#byToken.get(tokenId);
    if (!set) return 0;
    for (const e of [...set]) e.socket.close(WS_CLOSE_TOKEN, reason);
    return set.size;
  }

  /** Open sockets of a token (for tests and metrics). */
  count(tokenId: string): number {
    return this.#byToken.get(tokenId)?.size ?? 0;
  }

  /** Stops every expiry timer (the server is closing; its sockets close with it). */
  stop(): void {
    for (const set of this.#byToken.values()) for (const e of set) if (e.timer) clearTimeout(e.timer);
  }
}
