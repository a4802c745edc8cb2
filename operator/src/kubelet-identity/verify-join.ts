import { createHash, timingSafeEqual } from 'node:crypto';
import { joinQuoteNonce, verifyRound, type Failure, type JoinProof } from '@nodeward/attest';
import { roundPolicyFromSpec } from '../reconcile/round-context.js';
import { attestTpmChecks, type TpmChecks } from '../registration/register-identity.js';
import { quoteEvidence } from '../round/run-round.js';
import { parseCsrRequest, type CsrView } from './csr.js';
import { bindingFailures } from './join-challenge.js';
import { joinFailure } from './join-failure.js';
import { joinPolicyFor } from './join-policy.js';
import { parseJoinProof } from './join-proof.js';
import type { JoinLookups, JoinRequestView } from './join-request.js';
import { checkKubeletClientRequest } from './kubelet-client-request.js';

/** What verifying a join CSR needs from the cluster, beyond {@link JoinLookups}. */
export interface JoinCsrLookups extends JoinLookups {
  joinRequest(name: string): Promise<JoinRequestView | undefined>;
}

export type JoinVerdict =
  | { readonly ok: true; readonly nodeName: string; readonly joinRequest: JoinRequestView }
  | { readonly ok: false; readonly failures: readonly Failure[] };

const denied = (...failures: Failure[]): JoinVerdict => ({ ok: false, failures });

/**
 * Verifies a bootstrap token's kubelet client CSR against the proof it carries, cheapest checks first
 * so that a hostile CSR costs little: the request is a kubelet's; the proof parses; the NodeJoinRequest
 * it names was challenged for that name and not used by another CSR; the secret is the challenge's (the
 * AK lives in the TPM whose EK verified); the one policy admitting the name admits the token's groups;
 * name and TPM are bound nowhere else; and the quote — signed by that AK over the policy's PCRs with
 * extraData = SHA-256(CSR key || secret) — satisfies the policy's tpm and measuredBoot rules.
 */
export async function verifyJoinCsr(csr: CsrView, lookups: JoinCsrLookups, tpm: TpmChecks = attestTpmChecks): Promise<JoinVerdict> {
  const parsed = await parseCsrRequest(csr.requestPem);
  if (!parsed.ok) return denied(joinFailure('CsrMalformed', parsed.reason));
  const kubelet = checkKubeletClientRequest(csr, parsed.request);
  if (!kubelet.ok) return denied(...kubelet.failures);
  const proof = parseJoinProof(csr.annotations);
  if (!proof.ok) return denied(proof.failure);
  const request = await lookups.joinRequest(proof.proof.joinRequest);
  const requestFailure = checkRequest(request, kubelet.nodeName, csr.name);
  if (requestFailure !== undefined || request === undefined) return denied(requestFailure!);
  const secret = Buffer.from(proof.proof.secret, 'base64');
  if (!sameSha256(secret, request.status?.secretSha256 ?? '')) {
    return denied(joinFailure('ActivationFailed', 'the proof\'s secret is not the challenge\'s: the AK is not in the TPM whose EK was verified'));
  }
  const proven: Proven = { csr, nodeName: kubelet.nodeName, request, proof: proof.proof, secret, spkiDer: parsed.request.spkiDer };
  return verifyProven(proven, lookups, tpm);
}

interface Proven {
  readonly csr: CsrView;
  readonly nodeName: string;
  readonly request: JoinRequestView;
  readonly proof: JoinProof;
  readonly secret: Buffer;
  readonly spkiDer: Uint8Array;
}

/** The policy, the bindings and the quote, once the proof is known to answer the challenge. */
async function verifyProven(p: Proven, lookups: JoinCsrLookups, tpm: TpmChecks): Promise<JoinVerdict> {
  const match = joinPolicyFor(lookups.policies(), p.nodeName, p.csr.groups);
  if (!match.ok) return denied(match.failure);
  const akPublic = Buffer.from(p.request.spec.akPublic, 'base64');
  const akName = tpm.akNameOf(akPublic);
  if (akName === undefined) return denied(joinFailure('RequestMalformed', 'the NodeJoinRequest\'s AK public area is malformed'));
  const binding = await bindingFailures(p.nodeName, p.request.status?.ekCertificateFingerprint ?? '', akName, lookups);
  if (binding.length > 0) return denied(...binding);
  // A joining machine has no dm-verity devices to report yet: its boot state is what is judged.
  const policy = { ...roundPolicyFromSpec(match.policy.spec, akPublic, undefined), verity: undefined };
  const verdict = verifyRound({
    nonce: joinQuoteNonce(p.spkiDer, p.secret),
    quote: quoteEvidence(p.proof.quote),
    ...(p.proof.eventLog === undefined ? {} : { eventLog: Buffer.from(p.proof.eventLog, 'base64') }),
  }, policy, undefined);
  if (!verdict.trusted) return denied(...verdict.failures);
  return { ok: true, nodeName: p.nodeName, joinRequest: p.request };
}

function checkRequest(request: JoinRequestView | undefined, nodeName: string, csrName: string): Failure | undefined {
  if (request === undefined) return joinFailure('RequestNotFound', 'the NodeJoinRequest the proof names does not exist');
  if (request.spec.nodeName !== nodeName) {
    return joinFailure('NameMismatch', `the CSR asks for ${nodeName} but the NodeJoinRequest was made for ${request.spec.nodeName}`);
  }
  const phase = request.status?.phase;
  // Used by this very CSR: a previous attempt marked it and did not get to approve (a crash, a conflict).
  if (phase === 'Used' && request.status?.usedBy === csrName) return undefined;
  if (phase === 'Used') return joinFailure('ChallengeReused', `the challenge was already used by CSR ${request.status?.usedBy ?? '?'}`);
  if (phase !== 'Challenged') return joinFailure('RequestNotChallenged', `the NodeJoinRequest is ${phase ?? 'not yet answered'}`);
  return undefined;
}

function sameSha256(secret: Buffer, expectedHex: string): boolean {
  const got = createHash('sha256').update(secret).digest();
  const want = Buffer.from(expectedHex, 'hex');
  return want.length === got.length && timingSafeEqual(got, want);
}
