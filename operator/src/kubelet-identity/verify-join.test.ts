import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { JOIN_PROOF_ANNOTATION, type Failure } from '@nodeward/attest';
import type { TpmChecks } from '../registration/register-identity.js';
import type { NodeAttestationPolicy } from '../status/resources.js';
import { answerJoinRequest } from './join-challenge.js';
import type { JoinRequestView, NameBinding } from './join-request.js';
import { buildCsrRequest, csrView } from './testing/csr-builder.js';
import { verifyJoinCsr, type JoinCsrLookups } from './verify-join.js';

const policy: NodeAttestationPolicy = {
  metadata: { name: 'fleet' },
  spec: { nodeSelector: {}, tpm: { pcrs: [0, 7], ekTrustAnchors: { configMapRef: { name: 'anchors', namespace: 'nodeward-system' } } }, join: { nodeNames: ['worker-*'] } },
};
const secret = Buffer.alloc(32, 7);
const secretSha256 = createHash('sha256').update(secret).digest('hex');

function lookups(over: Partial<JoinCsrLookups> & { binding?: NameBinding; request?: JoinRequestView } = {}): JoinCsrLookups {
  return {
    policies: () => [policy],
    trustAnchors: () => ['PEM'],
    nameBinding: () => Promise.resolve(over.binding ?? { kind: 'Free' }),
    claimHolder: () => Promise.resolve(undefined),
    joinRequest: () => Promise.resolve(over.request),
    ...over,
  };
}

let madeSecret: Buffer | undefined;
const tpm = (ekFailures: Failure[] = []): TpmChecks => ({
  verifyEkCertificate: () => Promise.resolve({ ok: ekFailures.length === 0, failures: ekFailures, fingerprintSha256: 'ekfp' } as Awaited<ReturnType<TpmChecks['verifyEkCertificate']>>),
  verifyAkAttributes: () => [],
  akNameOf: () => Buffer.from('000b' + '11'.repeat(32), 'hex'),
  makeCredential: (input) => {
    madeSecret = Buffer.from(input.secret);
    return { credentialBlob: Buffer.from('blob'), encryptedSecret: Buffer.from('enc') };
  },
});

const request = (status?: JoinRequestView['status'], nodeName = 'worker-1'): JoinRequestView => ({
  name: 'join-worker-1', uid: 'u', spec: { nodeName, ekCertificates: [{ keyType: 'rsa', der: 'AAAA' }], ekPublic: 'AAAA', akPublic: 'AAAA' },
  ...(status === undefined ? {} : { status }),
});

describe('answerJoinRequest', () => {
  it('challenges a TPM whose EK verified, keeping only the SHA-256 of the secret', async () => {
    const status = await answerJoinRequest(request(), lookups(), tpm());
    expect(status).toMatchObject({ phase: 'Challenged', credentialBlob: Buffer.from('blob').toString('base64'), ekCertificateFingerprint: 'ekfp' });
    expect(status?.secretSha256).toBe(createHash('sha256').update(madeSecret!).digest('hex'));
    expect(JSON.stringify(status)).not.toContain(madeSecret!.toString('base64'));
  });

  it.each([
    ['the EK does not chain', request(), lookups(), [{ id: 'identity.ek_chain_untrusted', message: 'no' }] as Failure[], 'identity.ek_chain_untrusted'],
    ['no policy admits the name', request(undefined, 'control-plane-1'), lookups(), [], 'join.no_policy_for_name'],
    ['the name is a Node without an attested TPM', request(), lookups({ binding: { kind: 'Unbound' } }), [], 'join.name_bound_to_other_tpm'],
    ['the name is bound to another TPM', request(), lookups({ binding: { kind: 'Bound', ekCertificateFingerprint: 'other' } }), [], 'join.name_bound_to_other_tpm'],
    ['the TPM is bound to another node', request(), lookups({ claimHolder: () => Promise.resolve('worker-9') }), [], 'join.tpm_bound_to_other_node'],
    ['the policy has no anchors', request(), lookups({ trustAnchors: () => undefined }), [], 'join.no_policy_for_name'],
  ])('denies when %s', async (_what, req, l, ekFailures, id) => {
    const status = await answerJoinRequest(req, l, tpm(ekFailures));
    expect(status?.phase).toBe('Denied');
    expect(status?.reason).toBe('NodewardJoinDenied');
    expect(status?.message).toContain(id);
  });

  it('re-admits the TPM a Node of that name is bound to (a re-join)', async () => {
    const status = await answerJoinRequest(request(), lookups({ binding: { kind: 'Bound', ekCertificateFingerprint: 'ekfp' } }), tpm());
    expect(status?.phase).toBe('Challenged');
  });

  it('leaves an answered request alone', async () => {
    expect(await answerJoinRequest(request({ phase: 'Denied' }), lookups(), tpm())).toBeUndefined();
  });
});

describe('verifyJoinCsr', () => {
  const challenged = request({ phase: 'Challenged', secretSha256, ekCertificateFingerprint: 'ekfp' });
  const proof = (over: Record<string, unknown> = {}): Record<string, string> => ({
    [JOIN_PROOF_ANNOTATION]: JSON.stringify({
      joinRequest: 'join-worker-1', secret: secret.toString('base64'),
      quote: { quoted: 'AAAA', signature: 'AAAA', pcrs: { sha256: { '0': '00'.repeat(32), '7': '00'.repeat(32) } } }, ...over,
    }),
  });
  const csr = async (annotations: Record<string, string>, subject = 'CN=system:node:worker-1, O=system:nodes'): Promise<ReturnType<typeof csrView>> =>
    csrView({ requestPem: (await buildCsrRequest({ subject })).pem, annotations });
  const ids = (v: Awaited<ReturnType<typeof verifyJoinCsr>>): string[] => (v.ok ? [] : v.failures.map((f) => f.id));

  it.each([
    ['no proof', {}, challenged, ['join.proof_missing']],
    ['a proof naming no request', proof(), undefined, ['join.request_not_found']],
    ['a request that was denied', proof(), request({ phase: 'Denied' }), ['join.request_not_challenged']],
    ['a challenge another CSR used', proof(), request({ phase: 'Used', usedBy: 'csr-0', secretSha256 }), ['join.challenge_reused']],
    ['a wrong secret', proof({ secret: Buffer.alloc(32, 8).toString('base64') }), challenged, ['join.activation_failed']],
    ['a request made for another name', proof(), request({ phase: 'Challenged', secretSha256 }, 'worker-2'), ['join.name_mismatch']],
  ])('denies %s', async (_what, annotations, req, expected) => {
    expect(ids(await verifyJoinCsr(await csr(annotations), lookups(req === undefined ? {} : { request: req }), tpm()))).toEqual(expected);
  });

  it('denies a garbage quote with the quote verifier\'s failures', async () => {
    const v = await verifyJoinCsr(await csr(proof()), lookups({ request: challenged }), tpm());
    expect(ids(v).length).toBeGreaterThan(0);
    expect(ids(v).every((id) => id.startsWith('quote.'))).toBe(true);
  });

  it('checks the CSR before reading any proof: a control-plane name is refused on its subject alone', async () => {
    const v = await verifyJoinCsr(await csr(proof(), 'CN=system:node:cp-1, O=system:masters'), lookups({ request: challenged }), tpm());
    expect(ids(v)).toEqual(['join.csr_subject']);
  });

  it('refuses a name bound to another TPM even with a good challenge', async () => {
    const v = await verifyJoinCsr(await csr(proof()), lookups({ request: challenged, binding: { kind: 'Unbound' } }), tpm());
    expect(ids(v)).toEqual(['join.name_bound_to_other_tpm']);
  });
});
