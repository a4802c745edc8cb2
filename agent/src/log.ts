/** Structured logs: one JSON line per event (time, level, msg, fields). Never pass secrets as fields. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function createLogger(opts: { level?: LogLevel; write?: (line: string) => void; base?: LogFields } = {}): Logger {
  const min = order[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string): void => { process.stderr.write(line + '\n'); });
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (order[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...opts.base, ...fields }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** A short, non-reversible tag of a value for logs (first 8 hex chars): enough to correlate, not to replay. */
export function redactHex(hex: string): string {
  return hex.length <= 8 ? '…' : `${hex.slice(0, 8)}…(${hex.length / 2}B)`;
}

/**
 * Lines that a peer can cause once per connection (a rejected TLS client, a forbidden request),
 * written at most once per `intervalMs` per key: the first is written, the others are counted, and
 * the next written line carries `suppressed` (how many were not). A flood of connections then
 * costs a bounded number of lines. Keys are a fixed set chosen by the caller, never peer input.
 */
export class RateLimitedLog {
  private readonly windows = new Map<string, { until: number; suppressed: number }>();

  constructor(private readonly log: Logger, private readonly intervalMs = 10_000, private readonly now: () => number = Date.now) {}

  write(level: LogLevel, key: string, msg: string, fields?: LogFields): void {
    const t = this.now();
    const w = this.windows.get(key);
    if (w !== undefined && t < w.until) {
      w.suppressed++;
      return;
    }
    const suppressed = w?.suppressed ?? 0;
    this.windows.set(key, { until: t + this.intervalMs, suppressed: 0 });
    this.log[level](msg, suppressed > 0 ? { ...fields, suppressed } : fields);
  }
}
