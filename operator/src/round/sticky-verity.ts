import { bootChanged, failure, VERITY_FAILURE_IDS, type RoundState, type RoundVerdict } from '@nodeward/attest';

/**
 * dm-verity corruption is sticky for the rest of the boot: once reported, later rounds of the same
 * boot (same TPM resetCount) fail with `verity.corrupted` even if the agent stops reporting it; a
 * reboot (resetCount change) ends it. `corruptedBoot` is the resetCount saved when it was reported.
 * Returns the verdict to act on and the resetCount to save (undefined: none). Pure.
 */
export function withStickyVerity(verdict: RoundVerdict, prev: RoundState | undefined, corruptedBoot: number | undefined): { verdict: RoundVerdict; corruptedBoot?: number } {
  const boot = verdict.nextState.resetCount;
  if (verdict.failures.some((f) => f.id === VERITY_FAILURE_IDS.Corrupted)) return boot === undefined ? { verdict } : { verdict, corruptedBoot: boot };
  if (corruptedBoot === undefined || boot === undefined || verdict.rebooted || bootChanged(corruptedBoot, boot)) return { verdict };
  const sticky = failure(VERITY_FAILURE_IDS.Corrupted, 'dm-verity reported corruption earlier in this boot; the node fails until it reboots', { resetCount: boot });
  // A passing verdict advanced the state; a failing round must not (the violation keeps failing).
  const nextState: RoundState = verdict.trusted ? { ...(prev ?? verdict.nextState), resetCount: boot } : verdict.nextState;
  if (verdict.trusted && verdict.nextState.restartCount !== undefined) nextState.restartCount = verdict.nextState.restartCount;
  return { verdict: { ...verdict, trusted: false, failures: [...verdict.failures, sticky], nextState }, corruptedBoot };
}
