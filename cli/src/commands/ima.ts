import {
  compileRuntimePolicy,
  createRuntimePolicy,
  detectImaLogFormat,
  IMA_INITIAL_STATE,
  isParseError,
  isRuntimePolicyError,
  parseImaLog,
  parseRuntimePolicy,
  plausibleTemplateHashAlgs,
  runtimePolicyConfigMaps,
  templateHashAlgFor,
  verifyImaAgainstQuote,
  verifyImaEntries,
  verificationKeyFrom,
  verificationKeysString,
  VerificationKeysError,
  type Failure,
  type ImaBank,
  type ImaEntry,
  type ImaState,
  type QuotedPcr10,
  type ImaLogFormat,
  type ImaTemplateHashAlg,
  type CompiledRuntimePolicy,
} from '@nodeward/attest';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CliUsageError, INPUT_LIMITS, parseFlags, requireFlag, type CliIo, type Command } from '../cli-io.js';

const LOG_FLAGS = ['log', 'template-hash'] as const;
/** Largest policy document read (Keylime's reach tens of MB). */
const MAX_POLICY_BYTES = 256 * 1024 * 1024;

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new CliUsageError(`--${flag} must be one of ${allowed.join(', ')}`);
  return value as T;
}

interface LogInput {
  readonly path: string;
  readonly bytes: Buffer;
  readonly format: ImaLogFormat;
  /** --template-hash: what the caller knows of the list; otherwise the policy's or read from the list. */
  readonly templateHashAlg: ImaTemplateHashAlg | undefined;
}

function logInput(io: CliIo, flags: Map<string, string>): LogInput {
  const path = requireFlag(flags, 'log');
  const bytes = io.readFile(path, INPUT_LIMITS.imaLog);
  const format: ImaLogFormat = flags.has('ascii') ? 'ascii' : detectImaLogFormat(bytes);
  const templateHashAlg = oneOf<ImaTemplateHashAlg>('template-hash', flags.get('template-hash'), ['sha1', 'sha256']);
  return { path, bytes, format, templateHashAlg };
}

/** Parses the whole log; a malformed one is a usage-level error (exit 2) with one line. */
function parseLog(log: LogInput, templateHashAlg: ImaTemplateHashAlg | undefined): ImaEntry[] {
  let entries: ImaEntry[];
  try {
    entries = parseImaLog(log.bytes, { format: log.format, templateHashAlg });
  } catch (e) {
    if (isParseError(e)) throw new CliUsageError(`malformed IMA log ${log.path}: ${e.message}`);
    throw e;
  }
  // A kernel with IMA on always measures boot_aggregate first: an empty list verifies nothing.
  if (entries.length === 0) throw new CliUsageError(`empty IMA log ${log.path}: no measurement entries`);
  return entries;
}

function readLog(io: CliIo, flags: Map<string, string>): ImaEntry[] {
  const log = logInput(io, flags);
  return parseLog(log, log.templateHashAlg ?? plausibleTemplateHashAlgs(log.bytes, log.format)[0]);
}

/** Parsed and compiled here, so a policy that cannot be used (bad verification-keys too) is exit 2. */
/** The policy's JSON text; a gzip-compressed one (as `ima policy pack` stores it) is decompressed. */
function policyText(io: CliIo, path: string): string {
  const bytes = io.readFile(path, INPUT_LIMITS.runtimePolicy);
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes.toString('utf8');
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_POLICY_BYTES }).toString('utf8');
  } catch (e) {
    throw new CliUsageError(`invalid policy ${path}: not a readable gzip stream: ${(e as Error).message}`);
  }
}

function readPolicy(io: CliIo, path: string): CompiledRuntimePolicy {
  try {
    const policy = compileRuntimePolicy(parseRuntimePolicy(policyText(io, path)));
    for (const w of policy.warnings) io.err(`warning: policy ${path}: ${w}`);
    return policy;
  } catch (e) {
    if (isRuntimePolicyError(e)) throw new CliUsageError(`invalid policy ${path}: ${e.message}`);
    throw e;
  }
}

function quotedPcr(flags: Map<string, string>): QuotedPcr10 | undefined {
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

interface ImaVerdict {
  readonly failures: readonly Failure[];
  readonly state: ImaState;
  /** Entries in the list (undefined when its template hash algorithm is already wrong). */
  readonly total: number | undefined;
  readonly quoted: boolean;
}

/**
 * The operator's code path, exactly: with --pcr10, verifyImaAgainstQuote (what every round runs);
 * without, the whole list replayed in both banks. The template hash algorithm is resolved as the
 * round resolves it (policy, else the list), and the list is parsed once more only to count its
 * entries and to report a malformed one as unreadable input (exit 2).
 */
function verifyLog(log: LogInput, policy: CompiledRuntimePolicy, quoted: QuotedPcr10 | undefined, violations: 'fail' | 'ignore'): ImaVerdict {
  const alg = templateHashAlgFor(log.bytes, log.format, policy.templateHashAlg, log.templateHashAlg);
  if (typeof alg !== 'string') return { failures: [alg], state: IMA_INITIAL_STATE, total: undefined, quoted: quoted !== undefined };
  const total = parseLog(log, alg).length;
  const opts = { format: log.format, templateHashAlg: alg, violations };
  const r = quoted === undefined
    ? verifyImaEntries(IMA_INITIAL_STATE, log.bytes, policy, opts)
    : verifyImaAgainstQuote(IMA_INITIAL_STATE, log.bytes, policy, quoted, opts);
  return { ...r, total, quoted: quoted !== undefined };
}

function printVerdict(io: CliIo, v: ImaVerdict, json: boolean): void {
  const pending = v.quoted && v.total !== undefined && v.failures.length === 0 ? v.total - v.state.count : 0;
  if (json) {
    io.out(JSON.stringify({ verified: v.failures.length === 0, state: v.state, entries: v.total, notYetCovered: pending, failures: v.failures }, null, 2));
    return;
  }
  if (v.failures.length > 0) {
    for (const f of v.failures) io.out(line(f));
    io.err(`rejected: ${v.failures.length} failure(s) in ${v.state.count} entries`);
    return;
  }
  const pcrs = Object.entries(v.state.pcr10).map(([bank, hex]) => `${bank} ${hex}`).join(' ');
  io.out(`verified: ${v.state.count} entries; PCR 10 ${pcrs}`);
  if (pending > 0) io.out(`not yet covered: ${pending} entries after the quoted PCR 10 (a later quote covers them)`);
}

/** nodeward ima verify --log FILE --policy FILE [--pcr10 HEX [--bank sha1|sha256]] [--json] [--ascii] [--template-hash sha1|sha256] [--ignore-violations] */
export const imaVerify: Command = (args, io) => {
  const flags = parseFlags(args, [...LOG_FLAGS, 'policy', 'pcr10', 'bank'], ['json', 'ascii', 'ignore-violations']);
  const policy = readPolicy(io, requireFlag(flags, 'policy'));
  const log = logInput(io, flags);
  const verdict = verifyLog(log, policy, quotedPcr(flags), flags.has('ignore-violations') ? 'ignore' : 'fail');
  printVerdict(io, verdict, flags.has('json'));
  return verdict.failures.length === 0 ? 0 : 1;
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

/**
 * nodeward ima policy pack --policy FILE --name NAME --namespace NS [--key KEY]
 * Prints, as a Kubernetes List for `kubectl apply -f -`, the ConfigMaps holding a runtime policy of
 * any size: gzip-compressed in binaryData, split into parts of under 1 MiB (see runtime-policy-parts).
 * The policy is checked first, so what is packed is what the operator will accept.
 */
export const imaPolicyPack: Command = (args, io) => {
  const flags = parseFlags(args, ['policy', 'name', 'namespace', 'key'], []);
  const path = requireFlag(flags, 'policy');
  readPolicy(io, path);
  const gzip = gzipSync(Buffer.from(policyText(io, path), 'utf8'), { level: 9 });
  const ref = { name: requireFlag(flags, 'name'), namespace: requireFlag(flags, 'namespace'), key: flags.get('key') ?? 'runtime-policy.json' };
  let items;
  try {
    items = runtimePolicyConfigMaps(gzip, ref);
  } catch (e) {
    if (e instanceof RangeError) throw new CliUsageError(`policy ${path}: ${e.message}`);
    throw e;
  }
  io.out(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  io.err(`${items.length} ConfigMap(s), ${gzip.length} bytes compressed; reference ${ref.namespace}/${ref.name} key ${ref.key}`);
  return 0;
};
