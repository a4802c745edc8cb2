import type { Failure } from '@nodeward/attest';

/**
 * Why the operator refused to bind a node's name to a TPM (registration, or re-verification after
 * the node's address changed). Each kind has one Failure id (`identity.*`).
 */
export type IdentityFailureKind =
  | 'ClaimedByOtherNode'
  | 'AgentServesOtherNode'
  | 'AddressServesOtherNode'
  | 'ChangedAtNewAddress';

export const IDENTITY_FAILURE_IDS = {
  /** The EK (or AK) is already bound to another node's NodeAttestation: never a takeover. */
  ClaimedByOtherNode: 'identity.ek_claimed_by_other_node',
  /** The agent at the node's address proved (serving certificate) or said (its configured name) it serves another node. */
  AgentServesOtherNode: 'identity.agent_serves_other_node',
  /** The node's new address answers with a TPM registered to another node. */
  AddressServesOtherNode: 'identity.address_serves_other_node',
  /** The node's new address answers with a TPM other than the one registered for it. */
  ChangedAtNewAddress: 'identity.changed_at_new_address',
} as const satisfies Record<IdentityFailureKind, Failure['id']>;

export interface IdentityFailure extends Failure {
  readonly kind: IdentityFailureKind;
}

export function identityFailure(kind: IdentityFailureKind, message: string, context?: Failure['context']): IdentityFailure {
  const id = IDENTITY_FAILURE_IDS[kind];
  return context === undefined ? { kind, id, message } : { kind, id, message, context };
}
