import type { Failure } from '@nodeward/attest';

/**
 * Why a kubelet's own CSR (a client certificate renewal or a serving certificate) was denied, besides
 * the request-shape failures it shares with joins (`join.csr_*`, checkKubeletClientRequest). Each kind
 * has one Failure id (`kubelet.*`) and one CSR condition reason.
 */
export type KubeletCsrFailureKind =
  | 'OtherNode'
  | 'NotAttested'
  | 'NotTrusted'
  | 'AttestationStale'
  | 'LifetimeTooLong'
  | 'ServingSubject'
  | 'ServingUsages'
  | 'ServingNoNames'
  | 'ServingNameNotNodeAddress';

export const KUBELET_CSR_FAILURE_IDS = {
  /** The certificate would name another node than the one asking (impersonation). */
  OtherNode: 'kubelet.csr_other_node',
  /** No NodeAttestation: no policy attests the node, so nothing says it is Trusted. */
  NotAttested: 'kubelet.node_not_attested',
  /** The node is Untrusted, Unreachable, Stale, in Conflict, or not yet attested (Pending, Registered). */
  NotTrusted: 'kubelet.node_not_trusted',
  /** Trusted, but no passing round within the policy's freshness window. */
  AttestationStale: 'kubelet.attestation_stale',
  /** The certificate would outlive the policy's kubeletCertificates.expirationSeconds. */
  LifetimeTooLong: 'kubelet.csr_lifetime_too_long',
  /** A serving CSR whose subject is not exactly CN=system:node:<name>, O=system:nodes. */
  ServingSubject: 'kubelet.serving_subject',
  /** A serving CSR whose usages are not server auth (+ digital signature, key encipherment). */
  ServingUsages: 'kubelet.serving_usages',
  /** A serving CSR without a DNS name or IP address. */
  ServingNoNames: 'kubelet.serving_no_names',
  /** A serving CSR naming a DNS name or IP address the Node does not report (or any other kind of name). */
  ServingNameNotNodeAddress: 'kubelet.serving_name_not_node_address',
} as const satisfies Record<KubeletCsrFailureKind, Failure['id']>;

export function kubeletCsrFailure(kind: KubeletCsrFailureKind, message: string): Failure {
  return { id: KUBELET_CSR_FAILURE_IDS[kind], message };
}
