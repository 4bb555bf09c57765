/**
 * Polls `fn` every half second until it returns something truthy, or fails naming what it waited for and, when
 * `lastSeen` is given, what it saw last (so a failure on CI, whose data is gone, still says what state it was in).
 */
export async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | null | undefined>, lastSeen?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastSeen ? `; last seen: ${lastSeen()}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
