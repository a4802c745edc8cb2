import { mkdir, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** The file kubelet reads its client certificate and key from (--cert-dir), as after its own bootstrap. */
export const KUBELET_CLIENT_CURRENT = 'kubelet-client-current.pem';

/**
 * Writes what kubelet expects after a TLS bootstrap: `<certDir>/kubelet-client-<timestamp>.pem` (certificate
 * then key, 0600), the `kubelet-client-current.pem` symlink to it (kubelet rotates by moving that link), and
 * a kubeconfig (`--kubeconfig`) naming the server, the cluster CA and that file. Each file is written to a
 * temporary name and renamed, so kubelet never reads half of one.
 */
export async function writeKubeletCredentials(opts: {
  kubeconfigPath: string; certDir: string; server: string; caPem: string; certPem: string; keyPem: string; now?: Date;
}): Promise<{ pemFile: string; currentLink: string }> {
  await mkdir(opts.certDir, { recursive: true, mode: 0o700 });
  await mkdir(dirname(opts.kubeconfigPath), { recursive: true, mode: 0o755 });
  const stamp = (opts.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  const pemFile = join(opts.certDir, `kubelet-client-${stamp}.pem`);
  await atomicWrite(pemFile, `${opts.certPem.trim()}\n${opts.keyPem.trim()}\n`, 0o600);
  const currentLink = join(opts.certDir, KUBELET_CLIENT_CURRENT);
  const tmpLink = `${currentLink}.tmp-${process.pid}`;
  await unlink(tmpLink).catch(() => undefined);
  await symlink(pemFile, tmpLink);
  await rename(tmpLink, currentLink);
  await atomicWrite(opts.kubeconfigPath, kubeletKubeconfig(opts.server, opts.caPem, currentLink), 0o600);
  return { pemFile, currentLink };
}

/** The kubeconfig kubelet writes for itself after bootstrap: CA inline, certificate and key by file. */
export function kubeletKubeconfig(server: string, caPem: string, clientPemFile: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: default-cluster',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'contexts:',
    '- name: default-context',
    '  context:',
    '    cluster: default-cluster',
    '    namespace: default',
    '    user: default-auth',
    'current-context: default-context',
    'users:',
    '- name: default-auth',
    '  user:',
    `    client-certificate: ${clientPemFile}`,
    `    client-key: ${clientPemFile}`,
    '',
  ].join('\n');
}

async function atomicWrite(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}
