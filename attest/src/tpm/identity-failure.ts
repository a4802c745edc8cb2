import { failureFactory, type KindedFailure } from '../failure.js';

/** Why a TPM identity (EK, AK, activation) or its binding to a node was refused. Each kind has one Failure id (`identity.*`). */
export type IdentityFailureKind =
  | 'EkCertificateMissing'
  | 'EkCertMalformed'
  | 'EkCertExpired'
  | 'EkChainUntrusted'
  | 'EkKeyMismatch'
  | 'EkPublicMalformed'
  | 'EkTrustAnchorsMissing'
  | 'AkMalformed'
  | 'AkNotRestricted'
  | 'AkNotSigning'
  | 'AkNotFixedTpm'
  | 'AkNotFixedParent'
  | 'AkNotSensitiveDataOrigin'
  | 'AkDecrypt'
  | 'AkNameMismatch'
  | 'ActivationFailed'
  | 'AkChanged'
  | 'Changed'
  | 'ClaimedByOtherNode'
  | 'AgentServesOtherNode'
  | 'AddressServesOtherNode'
  | 'ChangedAtNewAddress';

export const IDENTITY_FAILURE_IDS = {
  /** The TPM has no EK certificate. */
  EkCertificateMissing: 'identity.ek_certificate_missing',
  EkCertMalformed: 'identity.ek_cert_malformed',
  EkCertExpired: 'identity.ek_cert_expired',
  EkChainUntrusted: 'identity.ek_chain_untrusted',
  EkKeyMismatch: 'identity.ek_key_mismatch',
  EkPublicMalformed: 'identity.ek_public_malformed',
  /** The policy's EK trust anchors ConfigMap is missing or empty. */
  EkTrustAnchorsMissing: 'identity.ek_trust_anchors_missing',
  AkMalformed: 'identity.ak_malformed',
  AkNotRestricted: 'identity.ak_not_restricted',
  AkNotSigning: 'identity.ak_not_signing',
  AkNotFixedTpm: 'identity.ak_not_fixed_tpm',
  AkNotFixedParent: 'identity.ak_not_fixed_parent',
  AkNotSensitiveDataOrigin: 'identity.ak_not_sensitive_data_origin',
  AkDecrypt: 'identity.ak_decrypt',
  AkNameMismatch: 'identity.ak_name_mismatch',
  /** The agent could not activate the credential: the AK and EK are not in the same TPM. */
  ActivationFailed: 'identity.activation_failed',
  /** A round found an AK other than the registered one. */
  AkChanged: 'identity.ak_changed',
  /** Fallback reason of an identity change without a listed failure. */
  Changed: 'identity.changed',
  /** The EK (or AK) is already bound to another node's NodeAttestation: never a takeover. */
  ClaimedByOtherNode: 'identity.ek_claimed_by_other_node',
  /** The agent at the node's address proved (serving certificate) or said (its configured name) it serves another node. */
  AgentServesOtherNode: 'identity.agent_serves_other_node',
  /** The node's new address answers with a TPM registered to another node. */
  AddressServesOtherNode: 'identity.address_serves_other_node',
  /** The node's new address answers with a TPM other than the one registered for it. */
  ChangedAtNewAddress: 'identity.changed_at_new_address',
} as const satisfies Record<IdentityFailureKind, `identity.${string}`>;

export type IdentityFailureId = (typeof IDENTITY_FAILURE_IDS)[IdentityFailureKind];
export type IdentityFailure = KindedFailure<IdentityFailureKind, IdentityFailureId>;
export const identityFailure = failureFactory(IDENTITY_FAILURE_IDS);
