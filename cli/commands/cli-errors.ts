import { CvcoreError } from '../../common/errors.js';

/**
 * Prints an expected failure as `error CODE: message` on stderr and returns exit code 2; anything else is a
 * bug and is rethrown. Bad arguments (parseArgs) and unreadable files are expected failures too.
 */
export function reportFailure(err: unknown): number {
  if (err instanceof CvcoreError) {
    process.stderr.write(`error ${err.code}: ${err.message}\n`);
    return 2;
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === 'string' && (code.startsWith('ERR_PARSE_ARGS') || /^E[A-Z]+$/.test(code))) {
    process.stderr.write(`error ${code}: ${err.message}\n`);
    return 2;
  }
  throw err;
}
