import {
  compileRuntimePolicy,
  createRuntimePolicy,
  IMA_INITIAL_STATE,
  isParseError,
  isRuntimePolicyError,
  parseImaLog,
  parseRuntimePolicy,
  verifyImaPcr10,
  verificationKeyFrom,
  verificationKeysString,
  VerificationKeysError,
  verifyParsedImaEntries,
  type Failure,
  type ImaBank,
  type ImaEntry,
  type ImaLogFormat,
  type ImaTemplateHashAlg,
  type CompiledRuntimePolicy,
} from '@nodeward/attest';
import { CliUsageError, INPUT_LIMITS, parseFlags, requireFlag, type CliIo, type Command } from '../cli-io.js';

const LOG_FLAGS = ['log', 'template-hash'] as const;

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new CliUsageError(`--${flag} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** Reads and parses the log; a malformed one is a usage-level error (exit 2) with one line. */
function readLog(io: CliIo, flags: Map<string, string>): ImaEntry[] {
  const path = requireFlag(flags, 'log');
  const format: ImaLogFormat | undefined = flags.has('ascii') ? 'ascii' : undefined;
  const templateHashAlg = oneOf<ImaTemplateHashAlg>('template-hash', flags.get('template-hash'), ['sha1', 'sha256']);
  let entries: ImaEntry[];
  try {
    entries = parseImaLog(io.readFile(path, INPUT_LIMITS.imaLog), { format, templateHashAlg });
  } catch (e) {
    if (isParseError(e)) throw new CliUsageError(`malformed IMA log ${path}: ${e.message}`);
    throw e;
  }
  // A kernel with IMA on always measures boot_aggregate first: an empty list verifies nothing.
  if (entries.length === 0) throw new CliUsageError(`empty IMA log ${path}: no measurement entries`);
  return entries;
}

/** Parsed and compiled here, so a policy that cannot be used (bad verification-keys too) is exit 2. */
function readPolicy(io: CliIo, path: string): CompiledRuntimePolicy {
  try {
    return compileRuntimePolicy(parseRuntimePolicy(io.readFile(path, INPUT_LIMITS.runtimePolicy).toString('utf8')));
  } catch (e) {
    if (isRuntimePolicyError(e)) throw new CliUsageError(`invalid policy ${path}: ${e.message}`);
    throw e;
  }
}

function quotedPcr(flags: Map<string, string>): { bank: ImaBank; value: string } | undefined {
  const value = flags.get('pcr10');
  const bankFlag = oneOf<ImaBank>('bank', flags.get('bank'), ['sha1', 'sha256']);
  if (value === undefined) {
    if (bankFlag !== undefined) throw new CliUsageError('--bank needs --pcr10');
    return undefined;
  }
  const bank = bankFlag ?? (value.length === 40 ? 'sha1' : 'sha256');
  if (!new RegExp(`^[0-9a-fA-F]{${bank === 'sha1' ? 40 : 64}}$`).test(value)) {
    throw new CliUsageError(`--pcr10 must be ${bank === 'sha1' ? 40 : 64} hex digits for the ${bank} bank`);
  }
  return { bank, value };
}

function line(f: Failure): string {
  const index = f.context?.index ?? '-';
  const path = f.context?.path ?? '-';
  return `${index}\t${path}\t${f.id}\t${f.message}`;
}

/** nodeward ima verify --log FILE --policy FILE [--pcr10 HEX [--bank sha1|sha256]] [--json] [--ascii] [--template-hash sha1|sha256] */
export const imaVerify: Command = (args, io) => {
  const flags = parseFlags(args, [...LOG_FLAGS, 'policy', 'pcr10', 'bank'], ['json', 'ascii', 'ignore-violations']);
  const policy = readPolicy(io, requireFlag(flags, 'policy'));
  const entries = readLog(io, flags);
  const quoted = quotedPcr(flags);
  const templateHashAlg = flags.get('template-hash') as ImaTemplateHashAlg | undefined;
  const violations = flags.has('ignore-violations') ? 'ignore' : 'fail';
  const result = verifyParsedImaEntries(IMA_INITIAL_STATE, entries, policy, { templateHashAlg, violations });
  const failures = quoted ? [...result.failures, ...verifyImaPcr10(result.state, quoted)] : result.failures;
  if (flags.has('json')) {
    io.out(JSON.stringify({ verified: failures.length === 0, state: result.state, failures }, null, 2));
  } else if (failures.length === 0) {
    io.out(`verified: ${result.state.count} entries; PCR 10 sha1 ${result.state.pcr10.sha1} sha256 ${result.state.pcr10.sha256}`);
  } else {
    for (const f of failures) io.out(line(f));
    io.err(`rejected: ${failures.length} failure(s) in ${result.state.count} entries`);
  }
  return failures.length === 0 ? 0 : 1;
};

/** The files of --verification-key (comma-separated) as Keylime's verification-keys string. */
function verificationKeys(io: CliIo, files: string | undefined): string {
  if (files === undefined) return '';
  const keys = files.split(',').map((path) => {
    try {
      return verificationKeyFrom(io.readFile(path, INPUT_LIMITS.small));
    } catch (e) {
      if (e instanceof VerificationKeysError) throw new CliUsageError(`--verification-key ${path}: ${e.message}`);
      throw e;
    }
  });
  try {
    return verificationKeysString(keys);
  } catch (e) {
    if (e instanceof VerificationKeysError) throw new CliUsageError(`--verification-key: ${e.message}`);
    throw e;
  }
}

/**
 * nodeward ima policy create --log FILE [--verification-key FILE[,FILE...]] [--ascii] [--template-hash sha1|sha256]
 * The keys (public keys or certificates, PEM or DER) go into verification-keys, for ima-sig entries.
 */
export const imaPolicyCreate: Command = (args, io) => {
  const flags = parseFlags(args, [...LOG_FLAGS, 'verification-key'], ['ascii']);
  const keys = verificationKeys(io, flags.get('verification-key'));
  io.out(JSON.stringify({ ...createRuntimePolicy(readLog(io, flags)), 'verification-keys': keys }, null, 2));
  return 0;
};
