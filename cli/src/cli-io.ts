import { readFileSync } from 'node:fs';

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
  readFile(path: string): Buffer;
}

export const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  readFile: (path) => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new CliUsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  },
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
