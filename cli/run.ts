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
 * Keeps a long-running command alive until SIGINT/SIGTERM, then runs `stop` once. A second signal exits at
 * once (the exit hook still kills child processes).
 */
export async function runUntilSignal(stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) { process.stderr.write(`\n${sig} again: exiting now\n`); process.exit(130); }
      stopping = true;
      process.stderr.write(`\n${sig}: stopping (cameras, pipeline, index, alerts, nats-server)...\n`);
      stop().then(() => resolve(0), (err: unknown) => resolve(reportError(err)));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
