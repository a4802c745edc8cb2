import { createHash, randomBytes } from 'node:crypto';
import type { Failure } from '@nodeward/attest';
import { attestTpmChecks, type TpmChecks } from '../registration/register-identity.js';
import { joinFailure } from './join-failure.js';
import { joinPolicyFor } from './join-policy.js';
import type { NodeAttestationPolicy } from '../status/resources.js';
import type { JoinLookups, JoinRequestView, NameBinding, NodeJoinRequestStatus } from './join-request.js';

/** The condition reason of a refused join (CSR and NodeJoinRequest). */
export const JOIN_DENIED_REASON = 'NodewardJoinDenied';
export const JOIN_CHALLENGED_REASON = 'NodewardChallengeIssued';

/** A TPM identity that passed the EK and AK checks. */
export interface CheckedTpm {
  readonly ekCertificateFingerprint: string;
  readonly akName: Buffer;
  readonly ekPublic: Buffer;
  readonly akPublic: Buffer;
}

export type TpmCheck = { ok: true; tpm: CheckedTpm; policy: NodeAttestationPolicy } | { ok: false; failures: Failure[] };

/**
 * The EK certificate chains to the trust anchors of the one policy admitting the name (no trust on
 * first use at join: anchors are required), the AK is a restricted signing key whose Name is
 * recomputed here, and neither the name nor the TPM is bound elsewhere.
 */
export async function checkJoiningTpm(req: JoinRequestView, lookups: JoinLookups, tpm: TpmChecks = attestTpmChecks): Promise<TpmCheck> {
  const match = joinPolicyFor(lookups.policies(), req.spec.nodeName);
  if (!match.ok) return { ok: false, failures: [match.failure] };
  const ekPublic = Buffer.from(req.spec.ekPublic, 'base64');
  const akPublic = Buffer.from(req.spec.akPublic, 'base64');
  const cert = req.spec.ekCertificates.find((c) => c.keyType === 'rsa') ?? req.spec.ekCertificates[0];
  const anchors = lookups.trustAnchors(match.policy);
  if (cert === undefined) return { ok: false, failures: [joinFailure('EkMalformed', 'the TPM presented no EK certificate')] };
  if (anchors === undefined || anchors.length === 0) {
    return { ok: false, failures: [joinFailure('NoPolicy', `policy ${match.policy.metadata.name} has no EK trust anchors to admit joins with`)] };
  }
  const ek = await tpm.verifyEkCertificate({ ekCertDer: Buffer.from(cert.der, 'base64'), trustAnchorsPem: anchors, ekPublic });
  const failures = [...ek.failures, ...tpm.verifyAkAttributes(akPublic)];
  const akName = tpm.akNameOf(akPublic);
  if (failures.length > 0 || akName === undefined) return { ok: false, failures };
  const binding = await bindingFailures(req.spec.nodeName, ek.fingerprintSha256, akName, lookups);
  if (binding.length > 0) return { ok: false, failures: binding };
  return { ok: true, tpm: { ekCertificateFingerprint: ek.fingerprintSha256, akName, ekPublic, akPublic }, policy: match.policy };
}

/** The name is free or bound to this very EK, and this TPM is bound to no other node. */
export async function bindingFailures(nodeName: string, ekFingerprint: string, akName: Buffer, lookups: JoinLookups): Promise<Failure[]> {
  const binding = await lookups.nameBinding(nodeName);
  const name = nameFailure(nodeName, ekFingerprint, binding);
  if (name !== undefined) return [name];
  const holder = await lookups.claimHolder(nodeName, { ekCertificateFingerprint: ekFingerprint, akName: akName.toString('hex') });
  return holder === undefined ? [] : [joinFailure('TpmBoundToOtherNode', `this TPM is bound to node ${holder}`, { holder })];
}

function nameFailure(nodeName: string, ekFingerprint: string, binding: NameBinding): Failure | undefined {
  switch (binding.kind) {
    case 'Free':
      return undefined;
    case 'Bound':
      return binding.ekCertificateFingerprint === ekFingerprint ? undefined
        : joinFailure('NameBoundToOtherTpm', `node ${nodeName} exists and is bound to another TPM`);
    case 'Unbound':
      return joinFailure('NameBoundToOtherTpm', `node ${nodeName} exists and has no attested TPM (e.g. a control-plane node); it cannot be joined`);
  }
}

/**
 * The status answering a NodeJoinRequest: a MakeCredential challenge for a TPM that passed
 * {@link checkJoiningTpm} (the secret itself is kept nowhere, only its SHA-256), or Denied with every
 * failure. A request already answered is left as it is.
 */
export async function answerJoinRequest(req: JoinRequestView, lookups: JoinLookups, tpm: TpmChecks = attestTpmChecks): Promise<NodeJoinRequestStatus | undefined> {
  if (req.status?.phase !== undefined) return undefined;
  const checked = await checkJoiningTpm(req, lookups, tpm);
  if (!checked.ok) return deniedStatus(checked.failures);
  const secret = randomBytes(32);
  let made: ReturnType<TpmChecks['makeCredential']>;
  try {
    made = tpm.makeCredential({ ekPublic: checked.tpm.ekPublic, akName: checked.tpm.akName, secret });
  } catch (e) {
    return deniedStatus([joinFailure('EkMalformed', `no credential can be made for this EK: ${e instanceof Error ? e.message : String(e)}`)]);
  }
  return {
    phase: 'Challenged',
    reason: JOIN_CHALLENGED_REASON,
    message: 'EK verified; activate the credential and prove it in the kubelet CSR',
    credentialBlob: made.credentialBlob.toString('base64'),
    encryptedSecret: made.encryptedSecret.toString('base64'),
    secretSha256: createHash('sha256').update(secret).digest('hex'),
    quoteBank: checked.policy.spec.tpm.hashAlg ?? 'sha256',
    quotePcrs: [...checked.policy.spec.tpm.pcrs].sort((a, b) => a - b),
    eventLogRequired: checked.policy.spec.measuredBoot !== undefined,
    ekCertificateFingerprint: checked.tpm.ekCertificateFingerprint,
  };
}

/** One line per failure, `id: message`, capped for a condition message. */
export function failureMessage(failures: readonly Failure[]): string {
  const text = `Nodeward refused the join: ${failures.map((f) => `${f.id}: ${f.message}`).join('; ')}`;
  return text.length > 2000 ? `${text.slice(0, 1997)}...` : text;
}

function deniedStatus(failures: readonly Failure[]): NodeJoinRequestStatus {
  return { phase: 'Denied', reason: JOIN_DENIED_REASON, message: failureMessage(failures) };
}
