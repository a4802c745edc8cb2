import { hash as oneShot } from 'node:crypto';
import { isParseError } from '../binary/parse-error.js';
import { failure, type Failure } from '../failure.js';
import { digestSize, HASH_ALGS, type HashAlgName } from '../hash-alg.js';
import { compileRuntimePolicy, type CompiledRuntimePolicy } from './compile-runtime-policy.js';
import { evaluateImaEntry } from './evaluate-ima-entry.js';
import { ImaEntryView, isViolation, type ImaEntry } from './ima-entry.js';
import { IMA_BANKS, IMA_INITIAL_STATE, type ImaBank, type ImaState, type QuotedPcr10 } from './ima-state.js';
import { scanImaAsciiLog } from './parse-ima-ascii.js';
import { scanImaBinaryLog } from './parse-ima-binary.js';
import { detectImaLogFormat, type ImaLogParseOptions } from './parse-ima-log.js';
import { missingBanks, Pcr10Replay, quotedTarget, type QuotedTarget } from './pcr10-replay.js';
import type { RuntimePolicy } from './runtime-policy.js';
import { logHashAlgMismatch, templateHashAlgFor } from './template-hash-alg.js';
import { SignatureBudget } from './verification-keys.js';
import { IMA_PCR } from '../pcr.js';


export interface ImaVerifyOptions extends ImaLogParseOptions {
  /**
   * Violations (ToMToU, open writers) are failures by default: the measurement they stand for is
   * not trustworthy. 'ignore' follows Keylime's default of only logging them.
   */
  violations?: 'fail' | 'ignore';
  /**
   * boot_aggregate digests computed from the verified boot PCRs (hex), accepted beside the policy's.
   * A function is called only if a boot_aggregate entry turns up (the first entry of a list), so an
   * incremental round does not pay for hashing the boot PCRs.
   */
  bootAggregates?: readonly string[] | (() => readonly string[]);
  /**
   * The quoted PCR 10. The log is read after the quote, so it may run ahead of it: verification stops
   * at the first prefix whose replay equals the quote (Keylime does the same), and the state covers
   * only that prefix. No such prefix: `ima.pcr_mismatch`, and the state does not advance.
   */
  quotedPcr10?: QuotedPcr10;
  /**
   * PCR 10 banks to replay. Default: the quoted bank when `quotedPcr10` is given (each further bank
   * costs two hashes per entry), otherwise every bank the starting state holds. The logged template
   * hash is checked when its algorithm is replayed; otherwise the entry data is bound to the quote by
   * the replayed bank itself and the logged hash carries nothing that is used.
   */
  banks?: readonly ImaBank[];
}

export interface ImaVerifyResult {
  /** Every failure found; empty means verified. */
  readonly failures: Failure[];
  /** State after the entries verified in this call; unchanged when the input was malformed. */
  readonly state: ImaState;
  /**
   * Bytes of the input after the prefix that replays to `quotedPcr10` (entries the quote does not
   * cover yet, never parsed); 0 when verification used the whole input or found no such prefix.
   */
  readonly uncoveredBytes: number;
}

type AnyPolicy = RuntimePolicy | CompiledRuntimePolicy;

function compiled(p: AnyPolicy): CompiledRuntimePolicy {
  return 'isExcluded' in p ? p : compileRuntimePolicy(p);
}

/**
 * Incremental verification: given the state after entry N and the binary (or ASCII) list from entry
 * N on, parses only the new entries, checks their template hashes and the runtime policy, and
 * replays them into PCR 10. Bad evidence, including malformed bytes, is reported, never thrown.
 * Either list is streamed through one reused entry view: nothing is retained per entry. The
 * template hash algorithm is the policy's `ima.log_hash_alg`, else `opts.templateHashAlg`, else read
 * from the list; a policy naming another than the list has fails (`ima.log_hash_alg_mismatch`).
 */
export function verifyImaEntries(state: ImaState, newEntriesBytes: Uint8Array, policy: AnyPolicy, opts: ImaVerifyOptions = {}): ImaVerifyResult {
  const p = compiled(policy);
  const format = opts.format ?? detectImaLogFormat(newEntriesBytes);
  const alg = templateHashAlgFor(newEntriesBytes, format, p.templateHashAlg, opts.templateHashAlg);
  if (typeof alg !== 'string') return { failures: [alg], state, uncoveredBytes: 0 };
  const parseOpts = { ...opts, templateHashAlg: alg, firstIndex: state.count };
  return run(state, p, { alg, bytes: newEntriesBytes.length }, opts, (visit) => {
    if (format === 'binary') scanImaBinaryLog(newEntriesBytes, parseOpts, visit, true);
    else scanImaAsciiLog(newEntriesBytes, parseOpts, visit, true);
  });
}

/**
 * The one IMA verdict against a quote, for the operator's rounds and `nodeward ima verify --pcr10`
 * alike: the list (from the entry after `state`) is read after the quote, so it may run ahead of it;
 * verification stops at the first prefix whose replay in the quoted bank equals the quoted PCR 10
 * (as Keylime does), and `state.count` says how far the quote covers. Entries past that point are
 * not yet covered: a later quote covers them. Only the quoted bank is replayed, so with a sha256
 * quote the logged sha1 template hashes of a classic list are not checked (nothing binds them).
 */
export function verifyImaAgainstQuote(state: ImaState, entries: Uint8Array, policy: AnyPolicy, quoted: QuotedPcr10, opts: Omit<ImaVerifyOptions, 'quotedPcr10' | 'banks'> = {}): ImaVerifyResult {
  return verifyImaEntries(state, entries, policy, { ...opts, quotedPcr10: quoted, banks: [quoted.bank] });
}

/** The whole list from the first entry. */
export function verifyImaLog(bytes: Uint8Array, policy: AnyPolicy, opts: ImaVerifyOptions = {}): ImaVerifyResult {
  return verifyImaEntries(IMA_INITIAL_STATE, bytes, policy, opts);
}

/** As verifyImaEntries, for entries already parsed (their indexes should continue from state.count). */
export function verifyParsedImaEntries(state: ImaState, entries: readonly ImaEntry[], policy: AnyPolicy, opts: ImaVerifyOptions = {}): ImaVerifyResult {
  const p = compiled(policy);
  const size = entries[0]?.templateHash.length;
  const alg = opts.templateHashAlg ?? HASH_ALGS.find((a) => digestSize(a) === size) ?? 'sha1';
  if (p.templateHashAlg !== undefined && entries.length > 0 && p.templateHashAlg !== alg) {
    return { failures: [logHashAlgMismatch(p.templateHashAlg, alg)], state, uncoveredBytes: 0 };
  }
  return run(state, p, { alg, bytes: 0 }, opts, (visit) => visitAll(entries, visit));
}

function visitAll(entries: readonly ImaEntry[], visit: (e: ImaEntry) => boolean): void {
  for (const e of entries) if (!visit(e)) return;
}

interface Run {
  readonly policy: CompiledRuntimePolicy;
  readonly replay: Pcr10Replay;
  readonly failures: Failure[];
  /** The list's template hash algorithm, when it is a replayed bank's (the logged hash is then checked). */
  readonly listBank: ImaBank | undefined;
  readonly failViolations: boolean;
  readonly boot: (() => ReadonlySet<string>) | undefined;
  readonly signatures: SignatureBudget;
}

function lazyBootAggregates(given: ImaVerifyOptions['bootAggregates']): Run['boot'] {
  if (given === undefined) return undefined;
  let set: ReadonlySet<string> | undefined;
  return () => (set ??= new Set((typeof given === 'function' ? given() : given).map((d) => d.toLowerCase())));
}

function replayedBanks(state: ImaState, opts: ImaVerifyOptions): readonly ImaBank[] {
  if (opts.banks !== undefined) return opts.banks;
  if (opts.quotedPcr10 !== undefined) return [opts.quotedPcr10.bank];
  return IMA_BANKS.filter((b) => state.pcr10[b] !== undefined);
}

/**
 * `list.alg`: the list's template hash algorithm; `list.bytes`: the length of the input `feed` scans
 * (entry offsets are into it), 0 for parsed entries.
 */
function run(state: ImaState, policy: CompiledRuntimePolicy, list: { alg: HashAlgName; bytes: number }, opts: ImaVerifyOptions, feed: (visit: (e: ImaEntry) => boolean) => void): ImaVerifyResult {
  const listAlg = list.alg;
  const inputBytes = list.bytes;
  const banks = replayedBanks(state, opts);
  const missing = missingBanks(state.pcr10, banks);
  if (banks.length === 0 || missing.length > 0) {
    const what = banks.length === 0 ? 'no PCR 10 bank to replay' : `the state after ${state.count} entries has no PCR 10 in ${missing.join(', ')}`;
    return { failures: [failure('ima.bank_not_replayed', `cannot continue the IMA replay: ${what}`, { count: state.count })], state, uncoveredBytes: 0 };
  }
  const r: Run = {
    policy,
    replay: new Pcr10Replay(state.pcr10, banks),
    failures: [],
    listBank: listAlg === 'sha1' || listAlg === 'sha256' ? listAlg : undefined,
    failViolations: (opts.violations ?? 'fail') === 'fail',
    boot: lazyBootAggregates(opts.bootAggregates),
    signatures: new SignatureBudget(),
  };
  const target = opts.quotedPcr10 && quotedTarget(opts.quotedPcr10);
  let done = 0;
  let uncoveredBytes = 0;
  try {
    feed((e) => {
      if (target !== undefined && r.replay.matches(target)) {
        uncoveredBytes = Math.max(0, inputBytes - e.offset);
        return false;
      }
      verifyEntry(e, r);
      done++;
      return true;
    });
  } catch (e) {
    if (!isParseError(e)) throw e;
    r.failures.push(failure('ima.malformed_log', e.message, { structure: e.structure, offset: e.offset }));
    return { failures: r.failures, state, uncoveredBytes: 0 };
  }
  return finish(state, done, r, target, uncoveredBytes);
}

function finish(state: ImaState, done: number, run: Run, target: QuotedTarget | undefined, uncoveredBytes: number): ImaVerifyResult {
  if (target === undefined || run.replay.matches(target)) return { failures: run.failures, state: run.replay.state(state.count + done), uncoveredBytes };
  const replayed = run.replay.value(target.bank)!.toString('hex');
  const quoted = target.value.toString('hex');
  run.failures.push(failure('ima.pcr_mismatch', `no prefix of the IMA log replays to the quoted PCR 10 (${target.bank}) ${quoted}`,
    { bank: target.bank, replayed, quoted, count: state.count + done }));
  return { failures: run.failures, state, uncoveredBytes: 0 };
}

function verifyEntry(e: ImaEntry, run: Run): void {
  if (e.pcr !== IMA_PCR) {
    // Extended into another PCR, not replayed here; Keylime rejects these too.
    run.failures.push(failure('ima.unexpected_pcr', `entry ${e.index}: ${e.name} measured into PCR ${e.pcr}`,
      { index: e.index, path: e.name, pcr: e.pcr }));
    return;
  }
  if (isViolation(e)) {
    run.replay.extendViolation();
    if (run.failViolations) {
      run.failures.push(failure('ima.violation', `entry ${e.index}: measurement violation on ${e.name}`,
        { index: e.index, path: e.name }));
    }
    return;
  }
  // latin1 strings: see Pcr10Replay. Only the replayed banks are hashed.
  const input = e.hashInput;
  const d1 = run.replay.s1 && oneShot('sha1', input, 'binary');
  const d256 = run.replay.s256 && oneShot('sha256', input, 'binary');
  const computed = run.listBank === 'sha1' ? d1 : run.listBank === 'sha256' ? d256 : undefined;
  if (computed !== undefined && !(e instanceof ImaEntryView ? e.templateHashIs(computed) : sameBytes(computed, e.templateHash))) {
    run.failures.push(failure('ima.template_hash_mismatch', `entry ${e.index}: template hash of ${e.name} does not match its data`,
      { index: e.index, path: e.name, logged: e.templateHash.toString('hex'), computed: Buffer.from(computed, 'latin1').toString('hex') }));
  }
  run.replay.extend(d1, d256);
  evaluateImaEntry(e, run.policy, run.failures, run.boot, run.signatures);
}

function sameBytes(latin1: string, bytes: Uint8Array): boolean {
  if (latin1.length !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (latin1.charCodeAt(i) !== bytes[i]) return false;
  return true;
}
