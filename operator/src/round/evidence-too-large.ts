import { evidenceBoundFailure, IMA_INITIAL_STATE, type EvidenceBoundKind, type RoundState, type RoundVerdict } from '@nodeward/attest';
import { AgentError } from '../agent-client/agent-error.js';

/**
 * An agent answer over its byte cap (AgentError `too_large`), named by the evidence it carried. The
 * client stopped reading at the cap, so this costs the operator at most the cap; the round is an
 * attestation failure (`ima.log_too_large`, ...), not an unreachable agent.
 */
export class EvidenceTooLarge extends Error {
  constructor(readonly kind: EvidenceBoundKind, readonly detail: string) {
    super(`${kind}: ${detail}`);
    this.name = 'EvidenceTooLarge';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** `call()`, with a `too_large` AgentError rethrown as EvidenceTooLarge of `kind`. */
export async function bounded<T>(kind: EvidenceBoundKind, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof AgentError && e.code === 'too_large') throw new EvidenceTooLarge(kind, e.message);
    throw e;
  }
}

/** The verdict of a round whose evidence was too large: untrusted, the state not advanced. */
export function tooLargeVerdict(e: EvidenceTooLarge, prev: RoundState | undefined): RoundVerdict {
  return {
    trusted: false, rebooted: false, nextState: prev ?? { ima: IMA_INITIAL_STATE },
    failures: [evidenceBoundFailure(e.kind, `the agent's answer was not read past the operator's cap: ${e.detail}`)],
  };
}
