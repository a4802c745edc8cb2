import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  failure, identityFailure, isParseError, makeCredential, parsePublic, tpmObjectName, verifyAkAttributes, verifyEkCertificate, type Failure, type IdentityResponse,
} from '@nodeward/attest';
import type { AgentClient } from '../agent-client/agent-client.js';
import { AgentError } from '../agent-client/agent-error.js';
import type { Identity, NodeAttestationPolicySpec } from '../status/resources.js';

/** The TPM checks registration uses (attest/ by default; replaceable in tests). */
export interface TpmChecks {
  verifyEkCertificate: typeof verifyEkCertificate;
  verifyAkAttributes: typeof verifyAkAttributes;
  /** The Name of a TPM2B_PUBLIC; undefined when malformed (verifyAkAttributes reports that as identity.ak_malformed). */
  akNameOf: (akPublic: Uint8Array) => Buffer | undefined;
  makeCredential: typeof makeCredential;
}

function akNameOf(akPublic: Uint8Array): Buffer | undefined {
  try {
    return tpmObjectName(parsePublic(akPublic));
  } catch (e) {
    if (isParseError(e)) return undefined;
    throw e;
  }
}

export const attestTpmChecks: TpmChecks = { verifyEkCertificate, verifyAkAttributes, akNameOf, makeCredential };

export interface RegistrationDeps {
  agent: Pick<AgentClient, 'identity' | 'activate'>;
  tpm?: TpmChecks;
  now?: () => Date;
}

export interface RegistrationRequest {
  agentUrl: string;
  spec: Pick<NodeAttestationPolicySpec, 'mode' | 'tpm'>;
  /** PEM bundle(s) from the policy's ekTrustAnchors ConfigMap; undefined when the policy has none. */
  trustAnchorsPem: string[] | undefined;
}

export type RegistrationResult = { ok: true; identity: Identity } | { ok: false; failures: Failure[] };

/**
 * Register a node's TPM identity (Keylime-style): EK certificate chains to the policy's trust
 * anchors (Audit without anchors trusts on first use), AK attributes are those of a restricted
 * signing key, the AK Name is recomputed from its public area (the agent's claim is not believed),
 * and MakeCredential/ActivateCredential proves the AK lives in the TPM holding that EK.
 * Agent errors propagate (the caller retries), except an agent that does not serve the node the
 * URL names (`identity.agent_serves_other_node`); bad evidence returns failures.
 */
export async function registerIdentity(deps: RegistrationDeps, req: RegistrationRequest): Promise<RegistrationResult> {
  try {
    return await register(deps, req);
  } catch (e) {
    // The agent at the address proved (serving certificate) or said (421) it serves another node.
    if (e instanceof AgentError && e.code === 'wrong_node') return { ok: false, failures: [identityFailure('AgentServesOtherNode', e.message)] };
    throw e;
  }
}

async function register(deps: RegistrationDeps, req: RegistrationRequest): Promise<RegistrationResult> {
  const tpm = deps.tpm ?? attestTpmChecks;
  const id = await deps.agent.identity(req.agentUrl);
  const ekPublic = Buffer.from(id.ekPublic, 'base64');
  const akPublic = Buffer.from(id.akPublic, 'base64');
  const ek = await checkEk(tpm, id, ekPublic, req);
  const failures = [...ek.failures, ...tpm.verifyAkAttributes(akPublic)];
  const akName = tpm.akNameOf(akPublic);
  if (akName?.toString('hex') !== id.akName.toLowerCase()) {
    failures.push(failure('identity.ak_name_mismatch', 'the AK Name the agent reported is not the Name of its AK public area'));
  }
  if (failures.length > 0 || akName === undefined) return { ok: false, failures };

  const secret = randomBytes(32);
  const made = tpm.makeCredential({ ekPublic, akName, secret });
  const answer = await deps.agent.activate(req.agentUrl, {
    credentialBlob: made.credentialBlob.toString('base64'),
    encryptedSecret: made.encryptedSecret.toString('base64'),
  });
  const got = Buffer.from(answer.secret, 'base64');
  if (got.length !== secret.length || !timingSafeEqual(got, secret)) {
    return { ok: false, failures: [failure('identity.activation_failed', 'the agent could not activate the credential: the AK and EK are not in the same TPM')] };
  }
  return {
    ok: true,
    identity: {
      ekCertificateFingerprint: ek.fingerprint,
      akName: akName.toString('hex'),
      akPublic: id.akPublic,
      registeredAt: (deps.now ?? (() => new Date()))().toISOString(),
    },
  };
}

async function checkEk(tpm: TpmChecks, id: IdentityResponse, ekPublic: Buffer, req: RegistrationRequest): Promise<{ failures: Failure[]; fingerprint: string }> {
  const cert = id.ekCertificates.find((c) => c.keyType === 'rsa') ?? id.ekCertificates[0];
  const audit = req.spec.mode === 'Audit';
  if (cert === undefined) {
    // Trust on first use is only for Audit; the fingerprint is then that of the EK public area.
    return audit
      ? { failures: [], fingerprint: createHash('sha256').update(ekPublic).digest('hex') }
      : { failures: [failure('identity.ek_certificate_missing', 'the TPM has no EK certificate')], fingerprint: '' };
  }
  const der = Buffer.from(cert.der, 'base64');
  const fingerprint = createHash('sha256').update(der).digest('hex');
  if (req.trustAnchorsPem === undefined || req.trustAnchorsPem.length === 0) {
    return audit ? { failures: [], fingerprint } : { failures: [failure('identity.ek_trust_anchors_missing', 'the policy\'s EK trust anchors ConfigMap is missing or empty')], fingerprint };
  }
  const v = await tpm.verifyEkCertificate({ ekCertDer: der, trustAnchorsPem: req.trustAnchorsPem, ekPublic });
  return { failures: v.failures, fingerprint: v.fingerprintSha256 || fingerprint };
}

/** The PEM bundle(s) of a policy's ekTrustAnchors from a ConfigMap's data (one key, or all). */
export function trustAnchorsFrom(spec: Pick<NodeAttestationPolicySpec, 'tpm'>, data: Record<string, string> | undefined): string[] | undefined {
  const ref = spec.tpm.ekTrustAnchors;
  if (ref === undefined || data === undefined) return undefined;
  if (ref.key !== undefined) return data[ref.key] === undefined ? undefined : [data[ref.key]!];
  return Object.values(data);
}
