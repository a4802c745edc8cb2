import { BOOT_BANK_PREFERENCE, BOOT_PCRS, bootChanged, bootPcrsDigest, IMA_PCR } from '@nodeward/attest';
import type { BankName, BootCounters, PcrSelection, PcrValues, RoundPolicy, RoundState } from '@nodeward/attest';

/** The bank the policy quotes in (the first of sha256, sha384, sha1 it selects; sha256 if none). */
export function policyBank(policy: RoundPolicy): BankName {
  return BOOT_BANK_PREFERENCE.find((b) => (policy.pcrSelection[b]?.length ?? 0) > 0) ?? 'sha256';
}

/** The policy's PCR selection plus the boot PCRs of its bank (boot changes), and IMA's PCR when IMA is configured. */
export function quoteSelection(policy: RoundPolicy): PcrSelection {
  const out: Partial<Record<BankName, number[]>> = {};
  for (const [bank, pcrs] of Object.entries(policy.pcrSelection) as [BankName, readonly number[]][]) out[bank] = [...pcrs];
  const bank = policyBank(policy);
  const extra = policy.ima === undefined ? BOOT_PCRS : [...BOOT_PCRS, IMA_PCR];
  out[bank] = [...new Set([...(out[bank] ?? []), ...extra])].sort((a, b) => a - b);
  return out;
}

/**
 * Whether this round must fetch and verify the boot event log: on the first round (no state), after
 * a reboot, or when the digest of the quoted boot PCRs differs from the one last verified.
 */
export function needsEventLog(quotePcrs: PcrValues, state: RoundState | undefined, clock?: BootCounters): boolean {
  if (state?.bootPcrsDigest === undefined) return true;
  if (bootChanged(state.resetCount, clock?.resetCount)) return true;
  return bootPcrsDigest(quotePcrs) !== state.bootPcrsDigest;
}
