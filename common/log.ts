/**
 * A small structured logger: one JSON line per record on stderr, or plain text on a terminal.
 * URLs pass through `maskUrl` before they are logged, so camera credentials never reach a log.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

export function createLogger(options: { level?: LogLevel; bindings?: Record<string, unknown>; sink?: (line: string) => void } = {}): Logger {
  const level = options.level ?? ((process.env['CVCORE_LOG'] as LogLevel | undefined) ?? 'info');
  const min = ORDER[level] ?? ORDER.info;
  const sink = options.sink ?? ((line: string) => process.stderr.write(line + '\n'));
  const bindings = options.bindings ?? {};
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return;
    const rec: Record<string, unknown> = { t: new Date().toISOString(), level: lvl, msg, ...bindings, ...fields };
    for (const [k, v] of Object.entries(rec)) {
      if (typeof v === 'string' && v.includes('://')) rec[k] = maskUrl(v);
      if (v instanceof Error) rec[k] = { message: maskUrl(v.message), code: (v as { code?: unknown }).code };
    }
    // Masked once more on the whole line: a URL nested in an object or an array (a camera config, an event)
    // must not reach the log either.
    sink(maskUrl(JSON.stringify(rec)));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (b) => createLogger({ level, bindings: { ...bindings, ...b }, sink }),
  };
}

/** Replaces the password (and user) of every URL in a string: rtsp://user:pw@host -> rtsp://***:***@host. */
export function maskUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]+)(?::([^/@\s]*))?@/gi, (_m, scheme: string) => `${scheme}***:***@`);
}
