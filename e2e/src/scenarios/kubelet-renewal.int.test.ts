import 'reflect-metadata';
import * as k8s from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import { buildCsrRequest } from '@nodeward/operator/testing';
import type { ClientIdentity } from '../harness/harness.js';
import { attestationPolicy } from '../stack/policy.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';
import { eventsFor } from './kube-read.js';
import { waitPhase, waitUntrusted } from './scenario-helpers.js';

/**
 * Issue 19 item 3, scenarios 5 and 6 (the renewal half), with Kubernetes itself signing: the harness runs
 * kube-controller-manager's CSR signer (never its approver), so a CSR the operator approves is signed
 * with the cluster CA and one it denies never is. The kubelet is a client certificate
 * CN=system:node:<name>, O=system:nodes; its policy taints without revoking, so its CSRs reach the
 * approver (with revokeCredentials the quarantine refuses the CSR's creation itself: kubelet-quarantine).
 */
const SELECTOR = { 'node-restriction.kubernetes.io/renewal-test': 'true' };
const CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';

interface CsrOutcome { readonly decided: 'Approved' | 'Denied'; readonly reason: string; readonly message: string; readonly certificate?: string }

let serial = 0;
/** Creates a CSR as the kubelet (subject `CN=system:node:<cn>`), then waits for the operator's decision (and, if approved, the signature). */
async function requestAs(stack: Stack, kubelet: ClientIdentity, cn: string, opts: { expirationSeconds?: number } = {}): Promise<CsrOutcome> {
  const name = `renewal-${cn}-${serial++}`;
  const { pem } = await buildCsrRequest({ subject: `CN=system:node:${cn}, O=system:nodes` });
  await kubelet.kubeConfig.makeApiClient(k8s.CertificatesV1Api).createCertificateSigningRequest({ body: {
    metadata: { name },
    spec: { request: Buffer.from(pem).toString('base64'), signerName: CLIENT_SIGNER, usages: ['digital signature', 'client auth'], expirationSeconds: opts.expirationSeconds ?? 3600 },
  } });
  const admin = stack.harness.kubeConfig.makeApiClient(k8s.CertificatesV1Api);
  return waitFor(`${name} decided`, async () => {
    const csr = await admin.readCertificateSigningRequest({ name });
    const c = csr.status?.conditions?.find((x) => x.type === 'Approved' || x.type === 'Denied');
    if (c === undefined) return undefined;
    const certificate = csr.status?.certificate;
    if (c.type === 'Approved' && (certificate === undefined || certificate === '')) return undefined; // the signer follows
    return { decided: c.type as CsrOutcome['decided'], reason: c.reason ?? '', message: c.message ?? '', ...(certificate === undefined ? {} : { certificate }) };
  }, 30_000);
}

describe('kubelet certificate renewals only while Trusted (real apiserver, kube-controller-manager signer, swtpm agents, operator)', () => {
  let stack: Stack;
  let kubelet: ClientIdentity;
  beforeAll(async () => {
    stack = await startStack({ kubeControllerManager: true, operatorEnv: { NODEWARD_KUBELET_SIGNING_DURATION_S: '3600' } });
    await stack.addNode('r-1', SELECTOR);
    await stack.startOperator();
    const policy = attestationPolicy({ name: 'renewal', selector: SELECTOR, verityRootHash: stack.verityRootHash });
    policy.spec.onFailure = { taint: { effect: 'NoSchedule' } };
    policy.spec.kubeletCertificates = { expirationSeconds: 3600 };
    await stack.apply([policy]);
    await waitPhase(stack, 'r-1', 'Trusted', 120_000);
    kubelet = await stack.harness.kubeletIdentity('r-1');
  }, 240_000);
  afterAll(async () => { await stack?.stop(); }, 60_000);

  it('a Trusted node\'s renewal is approved and signed by Kubernetes; another name or a longer lifetime is denied', async () => {
    const ok = await requestAs(stack, kubelet, 'r-1');
    expect(ok).toMatchObject({ decided: 'Approved', reason: 'NodewardNodeTrusted' });
    const cert = new X509Certificate(Buffer.from(ok.certificate!, 'base64'));
    expect(cert.subject).toContain('CN=system:node:r-1');
    expect(cert.verify(new X509Certificate(stack.harness.pki.ca.certPem).publicKey)).toBe(true);

    // Another node's name: v1.33's NodeRestriction refuses the CSR before any approver sees it (Nodeward's
    // own check, kubelet.csr_other_node, is table-tested for clusters without NodeRestriction).
    await expect(requestAs(stack, kubelet, 'control-plane-1')).rejects.toMatchObject({ code: 403, body: expect.stringContaining('can only create a node CSR with CN=system:node:r-1') as unknown });

    const tooLong = await requestAs(stack, kubelet, 'r-1', { expirationSeconds: 86_400 });
    expect(tooLong).toMatchObject({ decided: 'Denied', reason: 'NodewardLifetimeTooLong' });
    await waitFor('KubeletCertificate Events', async () => {
      const reasons = (await eventsFor(stack, 'r-1')).map((e) => e.reason);
      return reasons.includes('KubeletCertificateApproved') && reasons.includes('KubeletCertificateDenied');
    });
  }, 90_000);

  it('5: after a failure the renewal is denied, saying why', async () => {
    await stack.nodes.get('r-1')!.sim.appendImaFile('/tmp/implant', 'a remote-access implant');
    const na = await waitUntrusted(stack, 'r-1');
    const denied = await requestAs(stack, kubelet, 'r-1');
    expect(denied).toMatchObject({ decided: 'Denied', reason: 'NodewardNotTrusted' });
    expect(denied.message).toContain(`node r-1 is Untrusted (last failure ${na.status?.lastFailure?.reason ?? '?'})`);
  }, 90_000);

  it('6: after recovery the renewal is approved again', async () => {
    const n = stack.nodes.get('r-1')!;
    await n.sim.reboot();
    await n.runKnownGood();
    await waitPhase(stack, 'r-1', 'Trusted', 60_000);
    expect(await requestAs(stack, kubelet, 'r-1')).toMatchObject({ decided: 'Approved', reason: 'NodewardNodeTrusted' });
  }, 120_000);
});
