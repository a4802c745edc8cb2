import { bootPcrsDigest, isParseError, parseAttest } from '@nodeward/attest';
import type { BankName, RoundPolicy, RoundState } from '@nodeward/attest';

export type QuotedPcrs = Partial<Record<BankName, Record<string, Uint8Array>>>;

const BOOT_PCRS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const IMA_PCR = 10;
const BANK_PREFERENCE: readonly BankName[] = ['sha256', 'sha384', 'sha1'];

/** The bank the policy quotes in (the first of sha256, sha384, sha1 it selects; sha256 if none). */
export function policyBank(policy: RoundPolicy): BankName {
  return BANK_PREFERENCE.find((b) => (policy.pcrSelection[b]?.length ?? 0) > 0) ?? 'sha256';
}

/** The policy's PCR selection plus PCRs 0-9 of its bank (boot changes), and 10 when IMA is configured. */
export function quoteSelection(policy: RoundPolicy): Partial<Record<BankName, number[]>> {
  const out: Partial<Record<BankName, number[]>> = {};
  for (const [bank, pcrs] of Object.entries(policy.pcrSelection) as [BankName, number[]][]) out[bank] = [...pcrs];
  const bank = policyBank(policy);
  const extra = policy.ima === undefined ? BOOT_PCRS : [...BOOT_PCRS, IMA_PCR];
  out[bank] = [...new Set([...(out[bank] ?? []), ...extra])].sort((a, b) => a - b);
  return out;
}

/** Reset and restart counters as the quote claims them (TPMS_CLOCK_INFO): unverified, a hint only. */
export interface TpmClockHint { resetCount: number; restartCount: number }

/** Reads the clock info from TPMS_ATTEST bytes before the signature is checked; undefined if malformed. */
export function readClockHint(quoted: Uint8Array): TpmClockHint | undefined {
  try {
    const { clockInfo } = parseAttest(quoted);
    return { resetCount: clockInfo.resetCount, restartCount: clockInfo.restartCount };
  } catch (e) {
    if (isParseError(e)) return undefined;
    throw e;
  }
}

/** True when the TPM claims to have been reset since the state was saved. */
export function rebootedSince(state: RoundState | undefined, clock: TpmClockHint | undefined): boolean {
  return state?.resetCount !== undefined && clock !== undefined && clock.resetCount !== state.resetCount;
}

/**
 * Whether this round must fetch and verify the boot event log: on the first round (no state), after
 * a reboot, or when the digest of the quoted PCRs 0-9 differs from the one last verified.
 */
export function needsEventLog(quotePcrs: QuotedPcrs, state: RoundState | undefined, clock?: TpmClockHint): boolean {
  if (state?.bootPcrsDigest === undefined) return true;
  if (rebootedSince(state, clock)) return true;
  return bootPcrsDigest(quotePcrs) !== state.bootPcrsDigest;
}
