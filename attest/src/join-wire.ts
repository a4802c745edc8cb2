import { createHash } from 'node:crypto';
import type { B64, IdentityResponse, QuoteResponse } from './wire.js';

/**
 * The attested kubelet join, as the joining agent and the operator exchange it through the API server
 * (README "Attested join"). Everything here arrives from the node and is untrusted until the operator
 * verifies it:
 *
 * 1. The agent creates a NodeJoinRequest whose spec is {@link JoinIdentity}.
 * 2. The operator verifies the EK certificate and the AK, and writes a MakeCredential challenge to its
 *    status (the secret itself only as a SHA-256).
 * 3. The agent activates the credential, quotes with extraData = {@link joinQuoteNonce}(CSR key, secret),
 *    and creates the kubelet CSR with {@link JoinProof} in the {@link JOIN_PROOF_ANNOTATION} annotation.
 */
export type JoinIdentity = Pick<IdentityResponse, 'ekCertificates' | 'ekPublic' | 'akPublic'> & {
  /** The node name the machine asks for. */
  nodeName: string;
};

/** The CSR annotation carrying the proof (JSON). */
export const JOIN_PROOF_ANNOTATION = 'attestation.nodeward.io/join-proof';

/** Larger proofs are refused unread; the API server caps all annotations at 256 KiB. */
export const MAX_JOIN_PROOF_CHARS = 192 * 1024;

/** What the CSR proves: the TPM recovered the challenge's secret and quoted over the CSR's key and it. */
export interface JoinProof {
  /** The NodeJoinRequest whose challenge this answers. */
  joinRequest: string;
  /** The secret ActivateCredential recovered. */
  secret: B64;
  /** A quote over the policy's PCRs, extraData = joinQuoteNonce(CSR SubjectPublicKeyInfo, secret). */
  quote: QuoteResponse;
  /** The UEFI boot event log, when the policy has measured-boot rules. */
  eventLog?: B64;
}

/**
 * The quote's extraData: SHA-256 over the CSR's SubjectPublicKeyInfo DER and the activated secret. It
 * binds the key to be certified to this TPM (only it could recover the secret) and to this challenge.
 */
export function joinQuoteNonce(spkiDer: Uint8Array, secret: Uint8Array): Buffer {
  return createHash('sha256').update(spkiDer).update(secret).digest();
}
