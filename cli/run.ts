import { CvcoreError } from '../common/errors.js';
import { maskUrl } from '../common/log.js';

/** Prints a typed error the same way for every command: `error CODE: message`; returns the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CvcoreError) {
    process.stderr.write(`error ${err.code}: ${maskUrl(err.message)}\n`);
    return 2;
  }
  // Bad arguments (parseArgs) and file-system failures (ENOENT...) are the user's input, not a bug.
  const code = (err as { code?: unknown } | null)?.code;
  if ((err instanceof Error && typeof code === 'string' && (code.startsWith('ERR_PARSE_ARGS') || /^E[A-Z]+$/.test(code))) || err instanceof RangeError) {
    process.stderr.write(`error ${typeof code === 'string' ? code : 'ERR_INVALID_ARG'}: ${maskUrl((err as Error).message)}\n`);
    return 2;
  }
  process.stderr.write(`error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  return 1;
}

/**
 * One Ctrl-C can arrive more than once: the terminal signals the whole foreground group, and `npm start`
 * (in that group) forwards its own copy to the core. Signals this close to the first are that same request.
 */
export const REPEAT_SIGNAL_MS = 1_000;

/**
 * Keeps a long-running command alive until SIGINT/SIGTERM, then runs `stop` once. Another signal more than
 * REPEAT_SIGNAL_MS later (the user pressing Ctrl-C again) exits at once; the exit hook still kills the child
 * processes, which run in process groups of their own so the terminal's signal reaches only the core.
 */
export async function runUntilSignal(stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    let firstAt = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        if (Date.now() - firstAt < REPEAT_SIGNAL_MS) return;
        process.stderr.write(`\n${sig} again: exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      firstAt = Date.now();
      process.stderr.write(`\n${sig}: stopping (cameras, pipeline, index, alerts, nats-server)...\n`);
      stop().then(() => resolve(0), (err: unknown) => resolve(reportError(err)));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // A core in a terminal stops cleanly when the terminal goes away (hang-up); a core without one (a service)
    // takes SIGHUP as "reload the data key file" (runtime/data-key.ts), as daemons do.
    if (process.stdin.isTTY) process.on('SIGHUP', onSignal);
  });
}
