import { IMA_INITIAL_STATE } from '@nodeward/attest';
import type { StoredRoundState } from '../ports.js';

/**
 * The saved state a round continues from under the policy with `policyDigest`. State verified under
 * another policy (or before digests were recorded) proves nothing about the new one: its IMA progress
 * and verified boot are dropped, so the round asks the agent for the IMA list from its first entry and
 * the boot event log, and verifies both (replayed against this round's quote) against the new policy.
 * The TPM counters (reboot detection), the AK and a sticky verity corruption are kept. Pure.
 */
export function stateForPolicy(saved: StoredRoundState | undefined, policyDigest: string): StoredRoundState | undefined {
  if (saved === undefined || saved.policyDigest === policyDigest) return saved;
  const kept: StoredRoundState = { ...saved, ima: IMA_INITIAL_STATE };
  delete kept.bootPcrsDigest;
  delete kept.kernelCmdlines;
  delete kept.policyDigest;
  return kept;
}
