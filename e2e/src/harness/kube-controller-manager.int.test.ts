import * as k8s from '@kubernetes/client-node';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import path from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { writeKubeconfig } from './kubeconfig.js';
import { runKubectl } from './kubectl.js';
import { sleep, pollUntil } from './wait.js';

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const kubeletSigner = 'kubernetes.io/kube-apiserver-client-kubelet';

/** A PEM PKCS#10 request for a kubelet client certificate, and its key pair. */
async function kubeletCsr(nodeName: string): Promise<{ pem: string; keys: webcrypto.CryptoKeyPair }> {
  const keys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=system:node:${nodeName}, O=system:nodes`,
    keys,
    signingAlgorithm: ecdsa,
  });
  return { pem: csr.toString('pem'), keys };
}

function csrObject(name: string, requestPem: string): k8s.V1CertificateSigningRequest {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: {
      request: Buffer.from(requestPem).toString('base64'),
      signerName: kubeletSigner,
      usages: ['digital signature', 'client auth'],
      expirationSeconds: 3600,
    },
  };
}

describe('harness with kube-controller-manager', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ kubeControllerManager: true, redis: false, installCrds: false });
    // kubeadm's binding: bootstrap tokens may create CSRs (system:node-bootstrapper), nothing approves them.
    await harness.kubectl(['create', 'clusterrolebinding', 'test-node-bootstrapper', '--clusterrole=system:node-bootstrapper', '--group=system:bootstrappers']);
  }, 600_000);

  afterAll(async () => {
    await harness.stop();
  });

  it('runs the controller manager as its own identity, without the CSR approver', () => {
    expect(harness.pids()).toHaveLength(3);
  });

  it('authenticates a bootstrap token as system:bootstrap:<id> and rejects an expired one', async () => {
    const joiner = await harness.bootstrapIdentity();
    const whoami = await joiner.kubectl(['auth', 'whoami', '-o', 'json']);
    expect(whoami.code).toBe(0);
    const info = (JSON.parse(whoami.stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    expect(info.username).toBe(`system:bootstrap:${joiner.token.id}`);
    expect(info.groups).toEqual(expect.arrayContaining(['system:bootstrappers', 'system:bootstrappers:nodeward']));

    const expired = await harness.bootstrapIdentity({ ttlMs: -60_000 });
    const denied = await expired.kubectl(['auth', 'whoami']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/Unauthorized|must be logged in/i);
  });

  it('signs a CSR an admin approved with the harness CA, and leaves an unapproved one alone', async () => {
    const joiner = await harness.bootstrapIdentity();
    const certificates = joiner.kubeConfig.makeApiClient(k8s.CertificatesV1Api);
    const approved = await kubeletCsr('node-approved');
    const pending = await kubeletCsr('node-pending');
    await certificates.createCertificateSigningRequest({ body: csrObject('csr-approved', approved.pem) });
    await certificates.createCertificateSigningRequest({ body: csrObject('csr-pending', pending.pem) });

    const admin = harness.kubeConfig.makeApiClient(k8s.CertificatesV1Api);
    const current = await admin.readCertificateSigningRequest({ name: 'csr-approved' });
    expect(current.spec.username).toBe(`system:bootstrap:${joiner.token.id}`);
    current.status = {
      conditions: [{ type: 'Approved', status: 'True', reason: 'HarnessTest', message: 'approved by the harness test' }],
    };
    await admin.replaceCertificateSigningRequestApproval({ name: 'csr-approved', body: current });

    const certPem = await pollUntil('csr-approved signed', async () => {
      const csr = await admin.readCertificateSigningRequest({ name: 'csr-approved' });
      return csr.status?.certificate === undefined ? undefined : Buffer.from(csr.status.certificate, 'base64').toString();
    }, { timeoutMs: 60_000, intervalMs: 200 });
    const cert = new x509.X509Certificate(certPem);
    expect(cert.subjectName.getField('CN')).toEqual(['system:node:node-approved']);
    expect(cert.subjectName.getField('O')).toEqual(['system:nodes']);
    expect(cert.issuer).toBe(new x509.X509Certificate(harness.pki.ca.certPem).subject);
    expect(await cert.verify({ publicKey: new x509.X509Certificate(harness.pki.ca.certPem).publicKey, signatureOnly: true })).toBe(true);
    // expirationSeconds is honoured (the signer may shorten it, never lengthen it).
    expect(cert.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(3600_000 + 60_000);

    // The signed certificate is a kubelet identity the API server accepts.
    const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', approved.keys.privateKey), 'PRIVATE KEY');
    const kubeconfigPath = path.join(harness.tempDir, 'node-approved.kubeconfig');
    await writeKubeconfig(kubeconfigPath, { server: harness.server, caPem: harness.pki.ca.certPem, clientCertPem: certPem, clientKeyPem: keyPem });
    const whoami = await runKubectl({ kubectl: harness.binaries.kubectl, kubeconfigPath, cacheDir: path.join(harness.tempDir, 'na-cache') }, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    expect(whoami.stdout).toBe('system:node:node-approved');

    // Nothing approves on its own: the pending CSR stays without conditions or certificate.
    await sleep(3000);
    const still = await admin.readCertificateSigningRequest({ name: 'csr-pending' });
    expect(still.status?.conditions ?? []).toEqual([]);
    expect(still.status?.certificate).toBeUndefined();
  });
});
