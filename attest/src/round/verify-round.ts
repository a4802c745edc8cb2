import { parseEventLog } from '../eventlog/parse-event-log.js';
import { verifyBootPolicy } from '../eventlog/boot-policy.js';
import { measuredKernelCommandLines } from '../eventlog/kernel-cmdline.js';
import { verifyEventLogAgainstPcrs } from '../eventlog/verify-event-log.js';
import { failure, type Failure } from '../failure.js';
import { isParseError } from '../binary/parse-error.js';
import { IMA_INITIAL_STATE, type ImaBank, type ImaState } from '../ima/ima-state.js';
import { verifyImaAgainstQuote } from '../ima/verify-ima-entries.js';
import { detectReboot } from '../tpm/reboot.js';
import { verifyQuote, type VerifiedQuote } from '../tpm/verify-quote.js';
import { verifyVerity } from '../verity/verify-verity.js';
import { BANK_NAMES, IMA_PCR, type BankName, type PcrSelection, type PcrValues } from '../pcr.js';
import { verified, type Verified } from '../verified.js';
import type { Hex } from '../wire.js';
import { bootAggregates, bootPcrsDigest } from './boot-pcrs.js';
import { evidenceBoundFailure, IMA_MAX_UNCOVERED_BYTES } from './evidence-bounds.js';
import type { RoundEvidence, RoundPolicy, RoundState, RoundVerdict } from './round-types.js';

/**
 * Only PCRs the signed quote covers are trusted: verifyQuote already returns a fresh copy holding
 * only the selected ones, so this just narrows it to the banks a round uses.
 */
function trustedPcrs(q: VerifiedQuote): Verified<PcrValues> {
  const out: PcrValues = {};
  for (const bank of BANK_NAMES) {
    const values = q.pcrs[bank];
    if (values) out[bank] = values;
  }
  return verified(out);
}

/** PCRs the firmware and boot loader measure: all but 10 (IMA's) and 16-23 (debug, DRTM, applications). */
const isBootPcr = (index: string): boolean => Number(index) <= 15 && Number(index) !== IMA_PCR;

function bootPcrsHex(pcrs: Verified<PcrValues>): Verified<PcrValues<Hex>> {
  const out: PcrValues<Hex> = {};
  for (const [bank, values] of Object.entries(pcrs) as [BankName, Record<string, Uint8Array>][]) {
    out[bank] = Object.fromEntries(Object.entries(values).filter(([i]) => isBootPcr(i)).map(([i, v]) => [i, Buffer.from(v).toString('hex')]));
  }
  return verified(out);
}

/** The agent must quote at least what the policy selects. */
function checkSelection(policy: RoundPolicy, pcrs: Verified<PcrValues>): Failure[] {
  const out: Failure[] = [];
  for (const [bank, wanted] of Object.entries(policy.pcrSelection) as [BankName, readonly number[]][]) {
    const missing = wanted.filter((i) => pcrs[bank]?.[String(i)] === undefined);
    if (missing.length > 0) {
      out.push(failure('quote.pcr_not_quoted', `the quote does not cover ${bank} PCRs ${missing.join(',')}`, { bank, missing: missing.join(',') }));
    }
  }
  return out;
}

function checkExpectedPcrs(policy: RoundPolicy, pcrs: Verified<PcrValues>): Failure[] {
  const out: Failure[] = [];
  for (const [bank, expected] of Object.entries(policy.expectedPcrs ?? {}) as [BankName, Record<string, string>][]) {
    for (const [index, want] of Object.entries(expected)) {
      const got = pcrs[bank]?.[index];
      const gotHex = got === undefined ? 'not quoted' : Buffer.from(got).toString('hex');
      if (gotHex !== want.toLowerCase()) {
        out.push(failure('quote.pcr_unexpected', `${bank} PCR ${index} is ${gotHex}, policy expects ${want}`, { bank, pcr: Number(index), quoted: gotHex, expected: want }));
      }
    }
  }
  return out;
}

interface BootResult { failures: Failure[]; digest?: string; cmdlines?: string[] }

/**
 * The event log is verified when the caller fetched it (first round, reboot, boot PCRs changed);
 * otherwise the boot PCRs must be exactly those of the last verified log.
 */
function reuseVerifiedBoot(policy: RoundPolicy, digest: string | undefined, base: RoundState | undefined): BootResult {
  const needed = policy.bootPolicy !== undefined || policy.verity !== undefined;
  if (!needed || (digest !== undefined && digest === base?.bootPcrsDigest)) {
    return { failures: [], digest: base?.bootPcrsDigest, cmdlines: base?.kernelCmdlines };
  }
  return { failures: [failure('bootlog.missing', 'boot PCRs changed since the last verified event log, and no event log was supplied')] };
}

function checkBoot(evidence: RoundEvidence, policy: RoundPolicy, pcrs: Verified<PcrValues>, base: RoundState | undefined): BootResult {
  const digest = bootPcrsDigest(pcrs);
  if (evidence.eventLog === undefined) return reuseVerifiedBoot(policy, digest, base);
  let parsed;
  try {
    parsed = parseEventLog(evidence.eventLog);
  } catch (e) {
    if (!isParseError(e)) throw e;
    return { failures: [failure('bootlog.malformed', `the boot event log is malformed: ${e.message}`)] };
  }
  const replay = verifyEventLogAgainstPcrs(parsed, bootPcrsHex(pcrs));
  if (!replay.ok) return { failures: [...replay.failures] };
  const failures = policy.bootPolicy ? verifyBootPolicy(replay.log, policy.bootPolicy) : [];
  return { failures, digest, cmdlines: measuredKernelCommandLines(replay.log) };
}

interface ImaResult { failures: Failure[]; state: ImaState }

function checkIma(evidence: RoundEvidence, policy: RoundPolicy, pcrs: Verified<PcrValues>, saved: ImaState): ImaResult {
  let base = saved;
  if (policy.ima === undefined) return { failures: [], state: base };
  const ima = evidence.ima;
  if (ima === undefined) return { failures: [failure('ima.log_missing', 'the policy has IMA rules but no IMA log was supplied')], state: base };
  const bank = roundImaBank(pcrs);
  if (ima.from === 0 && base.pcr10[bank ?? 'sha256'] === undefined) {
    // The saved state was replayed in another bank (the policy changed banks): start again from 0.
    base = IMA_INITIAL_STATE;
  }
  if (ima.from !== base.count) {
    // The log no longer holds the entries already verified (it shrank without a reboot), or the caller
    // fetched from the wrong place: either way the chain from the last verified entry is broken.
    return { failures: [failure('ima.log_truncated', `the IMA log was supplied from entry ${ima.from}, but ${base.count} entries were already verified`, { from: ima.from, verified: base.count, total: ima.total })], state: base };
  }
  if (bank === undefined) return { failures: [failure('ima.pcr_not_quoted', 'PCR 10 is not in the quote (sha1 or sha256 bank)')], state: base };
  const quoted = Buffer.from(pcrs[bank]![String(IMA_PCR)]!).toString('hex');
  const result = verifyImaAgainstQuote(base, ima.entries, policy.ima, { bank, value: quoted }, {
    bootAggregates: () => bootAggregates(pcrs),
    violations: policy.imaViolations ?? 'fail',
  });
  if (result.uncoveredBytes > IMA_MAX_UNCOVERED_BYTES) {
    return { failures: [...result.failures, evidenceBoundFailure('ImaEntriesNotCovered',
      `${result.uncoveredBytes} bytes of IMA entries past the quoted PCR 10 (more than ${IMA_MAX_UNCOVERED_BYTES})`,
      { uncoveredBytes: result.uncoveredBytes, limit: IMA_MAX_UNCOVERED_BYTES })], state: base };
  }
  return { failures: result.failures, state: result.state };
}

/**
 * The PCR 10 bank a round replays IMA into: sha256 when its PCR 10 is selected, else sha1. Applied to
 * the quoted PCRs here and, by the operator, to the selection it asks for (see imaResumePoint).
 */
export function roundImaBank(selection: PcrSelection | PcrValues): ImaBank | undefined {
  const has = (bank: ImaBank): boolean => {
    const s = selection[bank];
    return s !== undefined && (Array.isArray(s) ? s.includes(IMA_PCR) : String(IMA_PCR) in s);
  };
  return has('sha256') ? 'sha256' : has('sha1') ? 'sha1' : undefined;
}

/**
 * Where the next round's IMA entries start: after the entries already verified, unless the state was
 * replayed in another bank than `bank` (or there is none), in which case from entry 0.
 */
export function imaResumePoint(prev: RoundState | undefined, bank: ImaBank | undefined): number {
  return prev !== undefined && bank !== undefined && prev.ima.pcr10[bank] !== undefined ? prev.ima.count : 0;
}

/**
 * One attestation round: the quote first (nothing else is trusted unless it verifies with the
 * registered AK and this round's nonce), then the policy's expectations on the quoted PCRs, the boot
 * event log, the new IMA entries, and dm-verity. Every failure is listed. The next state advances
 * only on a trusted round, so a violation keeps failing until the node is re-provisioned (reboots)
 * instead of passing on the next round.
 */
export function verifyRound(evidence: RoundEvidence, policy: RoundPolicy, prev: RoundState | undefined): RoundVerdict {
  const quote = verifyQuote({ akPublic: policy.akPublic, quoted: evidence.quote.quoted, signature: evidence.quote.signature, nonce: evidence.nonce, pcrs: evidence.quote.pcrs });
  if (!quote.ok) {
    return { trusted: false, failures: quote.reasons, rebooted: false, nextState: prev ?? { ima: IMA_INITIAL_STATE } };
  }
  const clock = quote.attest.clockInfo;
  const reboot = rebootSince(prev, clock);
  const base: RoundState | undefined = reboot.rebooted ? undefined : prev;
  const pcrs = trustedPcrs(quote.attest);
  const boot = checkBoot(evidence, policy, pcrs, base);
  const ima = checkIma(evidence, policy, pcrs, base?.ima ?? IMA_INITIAL_STATE);
  const verity = policy.verity === undefined || boot.cmdlines === undefined ? []
    : verifyVerity(boot.cmdlines, evidence.verity ?? [], policy.verity);
  const failures = [
    ...(reboot.failure ? [reboot.failure] : []),
    ...checkSelection(policy, pcrs), ...checkExpectedPcrs(policy, pcrs),
    ...boot.failures, ...ima.failures, ...verity,
  ];
  const counters = { resetCount: clock.resetCount, restartCount: clock.restartCount };
  const trusted = failures.length === 0;
  const nextState = trusted ? advancedState(ima.state, boot, counters) : { ...(base ?? { ima: IMA_INITIAL_STATE }), ...counters };
  return { trusted, failures, rebooted: reboot.rebooted, nextState };
}

function rebootSince(prev: RoundState | undefined, clock: VerifiedQuote['clockInfo']): ReturnType<typeof detectReboot> {
  if (prev?.resetCount === undefined) return { rebooted: false, resumed: false };
  return detectReboot({ clock: 0n, resetCount: prev.resetCount, restartCount: prev.restartCount ?? 0, safe: true }, clock);
}

function advancedState(ima: ImaState, boot: BootResult, counters: { resetCount: number; restartCount: number }): RoundState {
  return { ima, ...counters, ...(boot.digest ? { bootPcrsDigest: boot.digest } : {}), ...(boot.cmdlines ? { kernelCmdlines: boot.cmdlines } : {}) };
}
