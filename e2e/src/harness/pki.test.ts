import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateTestPki, issueClientCertificate, kubeletSubject, type TestPki } from './pki.js';

let dir: string;
let pki: TestPki;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nodeward-pki-test-'));
  pki = await generateTestPki(path.join(dir, 'pki'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('generateTestPki', () => {
  it('signs the serving and admin certificates with the CA', () => {
    const ca = new X509Certificate(pki.ca.certPem);
    expect(ca.ca).toBe(true);
    for (const leaf of [pki.apiserver, pki.admin]) {
      const cert = new X509Certificate(leaf.certPem);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.ca).toBe(false);
      expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
    }
  });

  it('serves 127.0.0.1 and localhost, and nothing but loopback addresses', () => {
    const cert = new X509Certificate(pki.apiserver.certPem);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.subjectAltName?.match(/IP Address:[^,]+/g)).toEqual(['IP Address:127.0.0.1']);
    expect(new x509.X509Certificate(pki.apiserver.certPem).getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
  });

  it('makes the admin a member of system:masters, for client authentication only', () => {
    const cert = new x509.X509Certificate(pki.admin.certPem);
    expect(cert.subjectName.getField('O')).toEqual(['system:masters']);
    expect(cert.subjectName.getField('CN')).toEqual(['nodeward-admin']);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
  });

  it('writes a matching service-account key pair', async () => {
    const publicKey = createPublicKey(await readFile(pki.serviceAccount.publicKeyFile, 'utf8'));
    const privateKey = createPrivateKey(await readFile(pki.serviceAccount.privateKeyFile, 'utf8'));
    expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })).toEqual(publicKey.export({ format: 'der', type: 'spki' }));
  });

  it('issues a kubelet client certificate signed by the client CA', async () => {
    const kubelet = await issueClientCertificate(pki, 'kubelet-node-2', kubeletSubject('node-2'));
    const cert = new X509Certificate(kubelet.certPem);
    expect(cert.verify(new X509Certificate(pki.ca.certPem).publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(kubelet.keyPem))).toBe(true);
    const parsed = new x509.X509Certificate(kubelet.certPem);
    expect(parsed.subjectName.getField('CN')).toEqual(['system:node:node-2']);
    expect(parsed.subjectName.getField('O')).toEqual(['system:nodes']);
    expect(parsed.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    expect(await readFile(kubelet.certFile, 'utf8')).toContain(kubelet.certPem);
  });
});
