import { writeFile } from 'node:fs/promises';

/** The cluster and the client certificate a kubeconfig names. */
export interface KubeconfigParams {
  readonly server: string;
  readonly caPem: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
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
    `    client-certificate-data: ${b64(params.clientCertPem)}`,
    `    client-key-data: ${b64(params.clientKeyPem)}`,
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
