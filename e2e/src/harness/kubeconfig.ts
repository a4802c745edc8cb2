import { writeFile } from 'node:fs/promises';

/** The cluster and the credential (a client certificate, or a bearer token) a kubeconfig names. */
export type KubeconfigParams = KubeconfigCluster & (
  | { readonly clientCertPem: string; readonly clientKeyPem: string }
  | { readonly token: string }
);

interface KubeconfigCluster {
  readonly server: string;
  readonly caPem: string;
  readonly contextName?: string;
}

/** A self-contained kubeconfig (certificates embedded), usable by kubectl and client-node. */
export function renderKubeconfig(params: KubeconfigParams): string {
  const name = params.contextName ?? 'nodeward-testenv';
  const b64 = (pem: string): string => Buffer.from(pem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${params.server}`,
    `    certificate-authority-data: ${b64(params.caPem)}`,
    'users:',
    `- name: ${name}-admin`,
    '  user:',
    ...('token' in params
      ? [`    token: ${params.token}`]
      : [`    client-certificate-data: ${b64(params.clientCertPem)}`, `    client-key-data: ${b64(params.clientKeyPem)}`]),
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}-admin`,
    `current-context: ${name}`,
    '',
  ].join('\n');
}

/** Writes {@link renderKubeconfig}'s output to `file` (mode 0600). */
export async function writeKubeconfig(file: string, params: KubeconfigParams): Promise<void> {
  await writeFile(file, renderKubeconfig(params), { mode: 0o600 });
}
