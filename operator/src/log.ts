/** Structured JSON-line logging; every field passes through `redact` first. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

const SENSITIVE_KEY = /(private|secret|password|passwd|token|credential|keypem|pem$|^key$|cert(ificate)?pem|authorization|bearer|seed)/i;
const PEM = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g;
const REDACTED = '[REDACTED]';
const MAX_DEPTH = 6;

/**
 * A copy of `value` safe to log: values under sensitive keys (keys, secrets, tokens, PEMs,
 * credentials) are replaced, PEM blocks inside any string are cut out, byte arrays are reduced to
 * their length, and errors to name/message/code. Never throws.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(PEM, REDACTED);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) return redactError(value, depth);
  return Array.isArray(value) ? value.map((v) => redact(v, depth + 1)) : redactObject(value as Record<string, unknown>, depth);
}

function redactError(value: Error, depth: number): Record<string, unknown> {
  const code = (value as { code?: unknown }).code;
  return { name: value.name, message: redact(value.message, depth + 1), ...(code === undefined ? {} : { code: redact(code, depth + 1) }) };
}

function redactObject(value: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SENSITIVE_KEY.test(k) ? REDACTED : redact(v, depth + 1);
  return out;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(base: Fields = {}, opts: { level?: Level; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string): void => void process.stdout.write(`${line}\n`));
  const emit = (level: Level, msg: string, fields?: Fields): void => {
    if (ORDER[level] < min) return;
    const record = { time: new Date().toISOString(), level, msg, ...(redact({ ...base, ...fields }) as Fields) };
    write(JSON.stringify(record));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, { ...opts }),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger({}, { write: () => undefined });
