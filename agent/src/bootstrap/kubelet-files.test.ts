import { lstat, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KUBELET_CLIENT_CURRENT, writeKubeletCredentials } from './kubelet-files.js';

describe('writeKubeletCredentials', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubelet-files-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the certificate and key 0600, the current link and a kubeconfig naming them, as kubelet does', async () => {
    const certDir = join(dir, 'pki');
    const kubeconfigPath = join(dir, 'kubeconfig');
    const opts = { kubeconfigPath, certDir, server: 'https://10.0.0.1:6443', caPem: 'CA', certPem: 'CERT\n', keyPem: 'KEY\n' };
    const first = await writeKubeletCredentials({ ...opts, now: new Date('2026-01-02T03:04:05Z') });
    expect(first.pemFile).toBe(join(certDir, 'kubelet-client-20260102T030405.pem'));
    expect(await readFile(first.pemFile, 'utf8')).toBe('CERT\nKEY\n');
    expect((await lstat(first.pemFile)).mode & 0o777).toBe(0o600);
    expect(await readlink(join(certDir, KUBELET_CLIENT_CURRENT))).toBe(first.pemFile);
    const kubeconfig = await readFile(kubeconfigPath, 'utf8');
    expect(kubeconfig).toContain('server: https://10.0.0.1:6443');
    expect(kubeconfig).toContain(`client-certificate: ${join(certDir, KUBELET_CLIENT_CURRENT)}`);
    expect(kubeconfig).toContain(`certificate-authority-data: ${Buffer.from('CA').toString('base64')}`);
    expect((await lstat(kubeconfigPath)).mode & 0o777).toBe(0o600);

    // A second join (a re-join) moves the link; the old file stays for kubelet to clean up, as its rotation does.
    const second = await writeKubeletCredentials({ ...opts, now: new Date('2026-01-03T00:00:00Z') });
    expect(await readlink(join(certDir, KUBELET_CLIENT_CURRENT))).toBe(second.pemFile);
  });
});
