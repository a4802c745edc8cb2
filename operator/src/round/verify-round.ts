import { verifyRound as attestVerifyRound } from '@nodeward/attest';
import type { RoundEvidence, RoundPolicy, RoundState, RoundVerdict } from '@nodeward/attest';

/** `verifyRound` from @nodeward/attest (sync or async). Injected into runRound so tests can fake it. */
export type VerifyRoundFn = (
  evidence: RoundEvidence, policy: RoundPolicy, prevState: RoundState | undefined,
) => RoundVerdict | Promise<RoundVerdict>;

/** The one call into attest's `verifyRound`. */
export const verifyRound: VerifyRoundFn = (evidence, policy, prevState) => attestVerifyRound(evidence, policy, prevState);
