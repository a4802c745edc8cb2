import type { IdentityResponse } from '@nodeward/attest';
import { AgentError } from '../agent-client/agent-error.js';
import { attestTpmChecks, registerIdentity, trustAnchorsFrom, type TpmChecks } from './register-identity.js';

const akPub = Buffer.from('ak-public');
const name = Buffer.from('000b' + '11'.repeat(32), 'hex');
const ident = (p: Partial<IdentityResponse> = {}): IdentityResponse => ({
  ekCertificates: [{ keyType: 'rsa', der: Buffer.from('ek-cert').toString('base64') }],
  ekPublic: Buffer.from('ek-public').toString('base64'),
  akPublic: akPub.toString('base64'),
  akName: name.toString('hex'),
  tpm: { manufacturer: 'IBM', firmwareVersion: '1' },
  ...p,
});

function fakes(o: { ekOk?: boolean; akFailures?: number; echo?: 'right' | 'wrong'; identity?: IdentityResponse } = {}): { tpm: TpmChecks; agent: Parameters<typeof registerIdentity>[0]['agent']; calls: string[] } {
  const calls: string[] = [];
  let secret = Buffer.alloc(0);
  const tpm = {
    verifyEkCertificate: async () => Promise.resolve({ ok: o.ekOk ?? true, failures: o.ekOk === false ? [{ id: 'identity.ek_untrusted' as const, message: 'x' }] : [], fingerprintSha256: 'f'.repeat(64) }),
    verifyAkAttributes: () => Array.from({ length: o.akFailures ?? 0 }, () => ({ id: 'identity.ak_not_restricted' as const, message: 'x' })),
    akNameOf: () => name,
    makeCredential: (i: { secret: Uint8Array }) => {
      secret = Buffer.from(i.secret);
      return { credentialBlob: Buffer.from('blob'), encryptedSecret: Buffer.from('enc') };
    },
  } as unknown as TpmChecks;
  const agent = {
    identity: async () => {
      calls.push('identity');
      return Promise.resolve(o.identity ?? ident());
    },
    activate: async () => {
      calls.push('activate');
      return Promise.resolve({ secret: (o.echo === 'wrong' ? Buffer.alloc(32, 1) : secret).toString('base64') });
    },
  };
  return { tpm, agent, calls };
}
const req = { agentUrl: 'https://10.0.0.1:9443', spec: { mode: 'Enforce' as const, tpm: { pcrs: [0] } }, trustAnchorsPem: ['PEM'] };
const now = (): Date => new Date('2025-01-01T00:00:00Z');

describe('registerIdentity', () => {
  it('registers a node whose EK chains, AK is sound and activation returns the secret', async () => {
    const f = fakes();
    const r = await registerIdentity({ agent: f.agent, tpm: f.tpm, now }, req);
    expect(r).toEqual({ ok: true, identity: { ekCertificateFingerprint: 'f'.repeat(64), akName: name.toString('hex'), akPublic: akPub.toString('base64'), registeredAt: '2025-01-01T00:00:00.000Z' } });
    expect(f.calls).toEqual(['identity', 'activate']);
  });

  it.each([
    ['EK not trusted', { ekOk: false }, req, 'identity.ek_untrusted'],
    ['AK attributes wrong', { akFailures: 1 }, req, 'identity.ak_not_restricted'],
    ['agent lies about the AK Name', { identity: ident({ akName: '000b' + '22'.repeat(32) }) }, req, 'identity.ak_name_mismatch'],
    ['activation returns another secret', { echo: 'wrong' as const }, req, 'identity.activation_failed'],
    ['no EK certificate in Enforce', { identity: ident({ ekCertificates: [] }) }, req, 'identity.ek_certificate_missing'],
    ['no trust anchors in Enforce', {}, { ...req, trustAnchorsPem: undefined }, 'identity.ek_trust_anchors_missing'],
  ])('refuses when %s', async (_n, o, r, id) => {
    const f = fakes(o);
    const res = await registerIdentity({ agent: f.agent, tpm: f.tpm, now }, r);
    expect(res.ok).toBe(false);
    expect(res.ok ? [] : res.failures.map((x) => x.id)).toContain(id);
    if (id !== 'identity.activation_failed') expect(f.calls).toEqual(['identity']);
  });

  it('an agent that does not serve the node (its certificate names another, or it answers 421) is an identity failure, not a retry', async () => {
    const f = fakes();
    const wrong = { ...f.agent, identity: async () => Promise.reject(new AgentError('wrong_node', 'the agent\'s serving certificate names node-2, not node rogue')) };
    const r = await registerIdentity({ agent: wrong, tpm: f.tpm, now }, req);
    expect(r).toEqual({ ok: false, failures: [expect.objectContaining({ id: 'identity.agent_serves_other_node', message: expect.stringContaining('node-2') as unknown })] });
    const down = { ...f.agent, identity: async () => Promise.reject(new AgentError('unreachable', 'down')) };
    await expect(registerIdentity({ agent: down, tpm: f.tpm, now }, req)).rejects.toThrow('down');
  });

  it('trusts on first use only in Audit', async () => {
    const f = fakes({ identity: ident({ ekCertificates: [] }) });
    const r = await registerIdentity({ agent: f.agent, tpm: f.tpm, now }, { ...req, spec: { mode: 'Audit', tpm: { pcrs: [0] } }, trustAnchorsPem: undefined });
    expect(r.ok).toBe(true);
  });

  it('reads trust anchors from one key or all keys', () => {
    const ref = { configMapRef: { name: 'a', namespace: 'b' } };
    expect(trustAnchorsFrom({ tpm: { pcrs: [0], ekTrustAnchors: { ...ref, key: 'k' } } }, { k: 'A', j: 'B' })).toEqual(['A']);
    expect(trustAnchorsFrom({ tpm: { pcrs: [0], ekTrustAnchors: ref } }, { k: 'A', j: 'B' })).toEqual(['A', 'B']);
    expect(trustAnchorsFrom({ tpm: { pcrs: [0], ekTrustAnchors: { ...ref, key: 'x' } } }, { k: 'A' })).toBeUndefined();
    expect(trustAnchorsFrom({ tpm: { pcrs: [0] } }, { k: 'A' })).toBeUndefined();
  });
});

describe('attestTpmChecks.akNameOf', () => {
  it('computes the Name from TPM2B_PUBLIC bytes as the agent serves them, and rejects garbage without throwing', async () => {
    const { createSoftAk } = await import('@nodeward/e2e/sim');
    const ak = createSoftAk('rsassa');
    expect(attestTpmChecks.akNameOf(ak.publicArea)?.toString('hex')).toBe(ak.name.toString('hex'));
    expect(attestTpmChecks.akNameOf(Buffer.from('ak-public'))).toBeUndefined();
  });
});
