import type { Failure } from '@nodeward/attest';

/**
 * Why a joining machine was refused a kubelet identity, besides the EK, AK and quote failures attest/
 * reports. Each kind has one Failure id (`join.*`).
 */
export type JoinFailureKind =
  | 'NoPolicy'
  | 'AmbiguousPolicy'
  | 'TokenGroupNotAllowed'
  | 'NameBoundToOtherTpm'
  | 'TpmBoundToOtherNode'
  | 'EkMalformed'
  | 'RequestMalformed'
  | 'CsrMalformed'
  | 'CsrSubject'
  | 'CsrUsages'
  | 'CsrExtraNames'
  | 'CsrKeyAlgorithm'
  | 'ProofMissing'
  | 'ProofMalformed'
  | 'RequestNotFound'
  | 'RequestNotChallenged'
  | 'ChallengeReused'
  | 'NameMismatch'
  | 'ActivationFailed'
  | 'TooManyPending';

export const JOIN_FAILURE_IDS = {
  /** No policy's join.nodeNames matches the name asked for. */
  NoPolicy: 'join.no_policy_for_name',
  /** Several policies admit the name: which anchors and boot rules apply is not clear, so none does. */
  AmbiguousPolicy: 'join.ambiguous_policy',
  /** The policy restricts joins to bootstrap token groups the token does not carry. */
  TokenGroupNotAllowed: 'join.token_group_not_allowed',
  /** A Node of that name exists and is not bound to this TPM (impersonation, e.g. of a control-plane node). */
  NameBoundToOtherTpm: 'join.name_bound_to_other_tpm',
  /** This TPM is bound to another node. */
  TpmBoundToOtherNode: 'join.tpm_bound_to_other_node',
  /** The EK public area or the AK cannot be used for a credential. */
  EkMalformed: 'join.ek_malformed',
  /** The NodeJoinRequest's fields are not base64 of the right shapes. */
  RequestMalformed: 'join.request_malformed',
  /** The CSR's request is not a signed PKCS#10 request. */
  CsrMalformed: 'join.csr_malformed',
  /** The subject is not exactly CN=system:node:<name>, O=system:nodes. */
  CsrSubject: 'join.csr_subject',
  /** Usages other than client auth (+ digital signature, key encipherment), or no client auth. */
  CsrUsages: 'join.csr_usages',
  /** Subject alternative names, which a kubelet client certificate never carries. */
  CsrExtraNames: 'join.csr_extra_names',
  /** A key other than ECDSA P-256/P-384 or RSA >= 2048. */
  CsrKeyAlgorithm: 'join.csr_key_algorithm',
  /** No proof annotation: a bootstrap token alone never gets a kubelet identity. */
  ProofMissing: 'join.proof_missing',
  /** The proof annotation is oversized, not JSON, or not the proof's shape. */
  ProofMalformed: 'join.proof_malformed',
  /** The NodeJoinRequest the proof names does not exist. */
  RequestNotFound: 'join.request_not_found',
  /** The NodeJoinRequest was not challenged (denied, or not yet verified). */
  RequestNotChallenged: 'join.request_not_challenged',
  /** The challenge was already used by another CSR. */
  ChallengeReused: 'join.challenge_reused',
  /** The CSR asks for another name than the NodeJoinRequest. */
  NameMismatch: 'join.name_mismatch',
  /** The secret in the proof is not the challenge's: the AK is not in the TPM holding the EK. */
  ActivationFailed: 'join.activation_failed',
  /** Too many pending requests from one bootstrap token (a flood). */
  TooManyPending: 'join.too_many_pending',
} as const satisfies Record<JoinFailureKind, Failure['id']>;

export function joinFailure(kind: JoinFailureKind, message: string, context?: Failure['context']): Failure {
  const id = JOIN_FAILURE_IDS[kind];
  return context === undefined ? { id, message } : { id, message, context };
}
