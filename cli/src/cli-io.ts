import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** A usage mistake or an unreadable input: exit status 2, one line of explanation, no stack trace. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /**
   * A regular file's bytes, at most `maxBytes` (see INPUT_LIMITS). Anything else (a FIFO, a device
   * such as /dev/zero, a directory) or a larger file is a CliUsageError naming the path: an input
   * can neither hang the command nor make it read without end.
   */
  readFile(path: string, maxBytes: number): Buffer;
}

const MiB = 1024 * 1024;

/** The largest input of each kind the CLI reads. */
export const INPUT_LIMITS = {
  /** An IMA measurement list: ~1.7 million ima-ng entries in binary. */
  imaLog: 256 * MiB,
  /** A Keylime runtime policy (JSON of digests per path). */
  runtimePolicy: 256 * MiB,
  /** A TCG boot event log (a few hundred KiB in practice). */
  eventLog: 16 * MiB,
  /** A key, certificate, AK public area, quote message, signature or PCR list. */
  small: 1 * MiB,
} as const;

function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Reads the open regular file `fd` up to `max` bytes; undefined when it holds more (it may grow while read). */
function readBounded(fd: number, size: number, max: number): Buffer | undefined {
  let buf = Buffer.allocUnsafe(Math.min(size, max) + 1);
  let at = 0;
  for (;;) {
    if (at === buf.length) {
      if (buf.length > max) return undefined;
      const grown = Buffer.allocUnsafe(Math.min(buf.length * 2, max + 1));
      buf.copy(grown);
      buf = grown;
    }
    const n = readSync(fd, buf, at, buf.length - at, null);
    if (n === 0) return buf.subarray(0, at);
    at += n;
  }
}

function readInput(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO without a writer returns at once (it is then refused below).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new CliUsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CliUsageError(`cannot read ${path}: ${fileKind(st)}, not a regular file`);
    const tooLarge = (): CliUsageError => new CliUsageError(`cannot read ${path}: larger than ${maxBytes} bytes, the limit for this input`);
    if (st.size > maxBytes) throw tooLarge();
    const bytes = readBounded(fd, st.size, maxBytes);
    if (bytes === undefined) throw tooLarge();
    return bytes;
  } catch (e) {
    if (e instanceof CliUsageError) throw e;
    throw new CliUsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  } finally {
    closeSync(fd);
  }
}

export const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  readFile: readInput,
};

/** A command takes its arguments (after the command words) and returns the exit status. */
export type Command = (args: string[], io: CliIo) => number | Promise<number>;

/** --flag value pairs and bare --switches; anything else is a usage error. */
export function parseFlags(args: string[], valued: readonly string[], switches: readonly string[] = []): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.replace(/^--/, '');
    if (a.startsWith('--') && switches.includes(name)) {
      flags.set(name, 'true');
    } else if (a.startsWith('--') && valued.includes(name)) {
      const v = args[++i];
      if (v === undefined) throw new CliUsageError(`${a} needs a value`);
      flags.set(name, v);
    } else {
      throw new CliUsageError(`unexpected argument: ${a}`);
    }
  }
  return flags;
}

export function requireFlag(flags: Map<string, string>, name: string): string {
  const v = flags.get(name);
  if (v === undefined) throw new CliUsageError(`--${name} is required`);
  return v;
}
