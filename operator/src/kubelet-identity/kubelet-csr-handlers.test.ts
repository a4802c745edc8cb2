import 'reflect-metadata';
import { MemoryCluster } from '../kube/memory-cluster.js';
import { metrics } from '../metrics.js';
import type { NodeAttestation, NodeAttestationPolicy } from '../status/resources.js';
import { KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER } from './csr.js';
import { announceKubeletCsrDecision, cnNodeOf, kubeletCsrEvent, makeKubeletCsrHandlers } from './kubelet-csr-handlers.js';
import { buildCsrRequest, csrView } from './testing/csr-builder.js';

const NOW = new Date('2026-12-06T03:00:00Z');
const node = { username: 'system:node:node-a', groups: ['system:nodes', 'system:authenticated'] };
const policy = (expirationSeconds?: number): NodeAttestationPolicy => ({
  metadata: { name: 'p' },
  spec: { nodeSelector: {}, interval: '10s', tpm: { pcrs: [0] }, ...(expirationSeconds === undefined ? {} : { kubeletCertificates: { expirationSeconds } }) },
});
const attestation = (phase: string, lastSuccessTime = NOW.toISOString()): NodeAttestation =>
  ({ metadata: { name: 'node-a' }, spec: { nodeName: 'node-a', policyName: 'p' }, status: { phase, lastSuccessTime } } as unknown as NodeAttestation);

function handlers(o: { na?: NodeAttestation; policy?: NodeAttestationPolicy } = {}): ReturnType<typeof makeKubeletCsrHandlers> {
  return makeKubeletCsrHandlers({
    nodeAttestation: (n) => (n === 'node-a' ? o.na : undefined),
    policy: (n) => (n === 'p' ? o.policy : undefined),
    node: () => ({ metadata: { name: 'node-a' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.7' }, { type: 'Hostname', address: 'node-a' }] } }),
    heartbeatMs: 300_000, defaultIntervalMs: 30_000, signerDurationSeconds: 3600, now: () => NOW,
  });
}

describe('makeKubeletCsrHandlers', () => {
  const renewal = { kind: 'NodeClientRenewal', requesterNode: 'node-a' } as const;
  const serving = { kind: 'KubeletServing', requesterNode: 'node-a' } as const;

  it('approves a Trusted node\'s renewal within its policy\'s lifetime and denies a longer one', async () => {
    const pem = (await buildCsrRequest()).pem;
    const h = handlers({ na: attestation('Trusted'), policy: policy(1800) });
    expect(await h.nodeClientRenewal(csrView({ ...node, requestPem: pem, expirationSeconds: 1800 }), renewal)).toMatchObject({ verdict: 'Approve' });
    expect(await h.nodeClientRenewal(csrView({ ...node, requestPem: pem, expirationSeconds: 3600 }), renewal)).toMatchObject({ verdict: 'Deny', reason: 'NodewardLifetimeTooLong' });
  });

  it('the freshness window follows the policy interval and the heartbeat (300 s + 3 x 10 s)', async () => {
    const pem = (await buildCsrRequest()).pem;
    const at = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString();
    const csr = csrView({ ...node, requestPem: pem, expirationSeconds: 3600 });
    expect(await handlers({ na: attestation('Trusted', at(330)), policy: policy() }).nodeClientRenewal(csr, renewal)).toMatchObject({ verdict: 'Approve' });
    expect(await handlers({ na: attestation('Trusted', at(331)), policy: policy() }).nodeClientRenewal(csr, renewal)).toMatchObject({ verdict: 'Deny', reason: 'NodewardAttestationStale' });
  });

  it('denies a node without attestation, or whose policy is gone', async () => {
    const csr = csrView({ ...node, requestPem: (await buildCsrRequest()).pem, expirationSeconds: 3600 });
    expect(await handlers({ policy: policy() }).nodeClientRenewal(csr, renewal)).toMatchObject({ verdict: 'Deny', reason: 'NodewardNotAttested' });
    expect(await handlers({ na: attestation('Trusted') }).nodeClientRenewal(csr, renewal)).toMatchObject({ verdict: 'Deny', reason: 'NodewardNotAttested' });
  });

  it('denies garbage and oversized requests without throwing', async () => {
    const h = handlers({ na: attestation('Trusted'), policy: policy() });
    expect(await h.nodeClientRenewal(csrView({ ...node, requestPem: 'garbage' }), renewal)).toMatchObject({ verdict: 'Deny', reason: 'NodewardRequestMalformed' });
    expect(await h.nodeClientRenewal(csrView({ ...node, requestPem: 'A'.repeat(1 << 20) }), renewal)).toMatchObject({ verdict: 'Deny', reason: 'NodewardRequestMalformed' });
  });

  it('checks serving SANs against the Node\'s addresses', async () => {
    const h = handlers({ na: attestation('Trusted'), policy: policy() });
    const good = (await buildCsrRequest({ sans: [{ type: 'dns', value: 'node-a' }, { type: 'ip', value: '10.0.0.7' }] })).pem;
    const bad = (await buildCsrRequest({ sans: [{ type: 'ip', value: '10.96.0.1' }] })).pem;
    const csr = { ...node, signerName: KUBELET_SERVING_SIGNER, usages: ['digital signature', 'server auth'], expirationSeconds: 3600 };
    expect(await h.kubeletServing(csrView({ ...csr, requestPem: good }), serving)).toMatchObject({ verdict: 'Approve' });
    expect(await h.kubeletServing(csrView({ ...csr, requestPem: bad }), serving)).toMatchObject({ verdict: 'Deny', reason: 'NodewardServingNameNotNodeAddress' });
  });
});

describe('kubelet CSR announcements', () => {
  const deny = { verdict: 'Deny', reason: 'NodewardNotTrusted', message: 'Nodeward: kubelet.node_not_trusted: node node-a is Untrusted' } as const;

  it('an Event per decision on the Node and the NodeAttestation, id\'d by the CSR uid', () => {
    const e = kubeletCsrEvent({ name: 'csr-1', uid: 'AB-12', signerName: KUBELET_CLIENT_SIGNER, username: 'system:node:node-a' }, { kind: 'NodeClientRenewal', requesterNode: 'node-a' }, deny, undefined);
    expect(e).toMatchObject({ type: 'Warning', reason: 'KubeletCertificateDenied', id: 'csr-ab-12', involved: [{ kind: 'Node', name: 'node-a' }, { kind: 'NodeAttestation', name: 'node-a' }] });
    expect(e?.message).toContain('NodewardNotTrusted: Nodeward: kubelet.node_not_trusted');
    const approved = kubeletCsrEvent({ name: 'csr-2', uid: 'u2', signerName: KUBELET_CLIENT_SIGNER, username: 'system:bootstrap:abcdef' },
      { kind: 'BootstrapJoin', tokenId: 'abcdef' }, { verdict: 'Approve', reason: 'NodewardJoinAttested', message: 'ok' }, cnNodeOf('system:node:new-1'));
    expect(approved).toMatchObject({ type: 'Normal', reason: 'KubeletCertificateApproved', involved: [{ kind: 'Node', name: 'new-1' }, { kind: 'NodeAttestation', name: 'new-1' }] });
    expect(kubeletCsrEvent({ name: 'c', uid: 'u', signerName: 'x', username: 'y' }, { kind: 'ForeignRequester' }, deny, undefined)).toBeUndefined();
    expect(kubeletCsrEvent({ name: 'c', uid: 'u', signerName: 'x', username: 'y' }, { kind: 'NotOurs' }, { verdict: 'Ignore' }, 'n')).toBeUndefined();
  });

  it('counts by route, verdict and reason, and posts the Events once, on the node a join names', async () => {
    const cluster = new MemoryCluster();
    const csr = csrView({ name: 'csr-3', uid: 'u3', requestPem: (await buildCsrRequest({ subject: 'CN=system:node:control-plane-1, O=system:nodes' })).pem });
    const count = async (): Promise<number> => (await metrics.kubeletCsrDecisions.get()).values.find((v) => v.labels.route === 'BootstrapJoin' && v.labels.verdict === 'Deny')?.value ?? 0;
    const before = await count();
    await announceKubeletCsrDecision(cluster, csr, { verdict: 'Deny', reason: 'NodewardJoinRefused', message: 'no proof' });
    await announceKubeletCsrDecision(cluster, csr, { verdict: 'Deny', reason: 'NodewardJoinRefused', message: 'no proof' });
    await announceKubeletCsrDecision(cluster, csr, { verdict: 'Wait', message: 'later' });
    expect(await count() - before).toBe(2);
    expect(cluster.events.map((e) => [e.reason, e.involved[0]!.name])).toEqual([['KubeletCertificateDenied', 'control-plane-1']]);
  });
});
