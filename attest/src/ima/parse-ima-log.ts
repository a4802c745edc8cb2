import type { ImaEntry } from './ima-entry.js';
import { parseImaAsciiLog } from './parse-ima-ascii.js';
import { parseImaBinaryLog, type ImaParseOptions } from './parse-ima-binary.js';

export type ImaLogFormat = 'binary' | 'ascii';

/**
 * Binary lists start with a little-endian PCR index (`0a 00 00 00`), ASCII lists with decimal digits
 * and a space (`10 `). An empty input is binary (no entries either way).
 */
export function detectImaLogFormat(bytes: Uint8Array): ImaLogFormat {
  let i = 0;
  while (i < bytes.length && i < 3 && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) i++;
  return i > 0 && bytes[i] === 0x20 ? 'ascii' : 'binary';
}

export interface ImaLogParseOptions extends ImaParseOptions {
  /** Default: detected from the first bytes. */
  format?: ImaLogFormat;
}

/** Parses either list format. Throws only ParseError. */
export function parseImaLog(bytes: Uint8Array, opts: ImaLogParseOptions = {}): ImaEntry[] {
  const format = opts.format ?? detectImaLogFormat(bytes);
  return format === 'ascii' ? parseImaAsciiLog(bytes, opts) : parseImaBinaryLog(bytes, opts);
}
