import path from 'node:path';
import { ManagedProcess } from './managed-process.js';
import type { TestPki } from './pki.js';
import { pollUntil, probeOk } from './wait.js';

/** Where and how to run kube-apiserver. */
export interface KubeApiserverOptions {
  readonly binary: string;
  readonly dir: string;
  readonly pki: TestPki;
  readonly etcdUrl: string;
  readonly securePort: number;
  readonly timeoutMs: number;
}

/** A running kube-apiserver. */
export interface RunningKubeApiserver {
  readonly process: ManagedProcess;
  /** https://127.0.0.1:<port> */
  readonly server: string;
}

/**
 * The flags: loopback only, client-certificate and bootstrap-token auth, no cloud provider, no front proxy,
 * and authorization as production clusters run it (Node,RBAC with the NodeRestriction admission plugin),
 * so that a test acting with a node's kubelet credential is held to what a real kubelet may do.
 */
export function kubeApiserverArgs(opts: Omit<KubeApiserverOptions, 'binary' | 'timeoutMs'>): string[] {
  const server = `https://127.0.0.1:${opts.securePort}`;
  return [
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${opts.securePort}`,
    `--cert-dir=${path.join(opts.dir, 'certs')}`,
    `--tls-cert-file=${opts.pki.apiserver.certFile}`,
    `--tls-private-key-file=${opts.pki.apiserver.keyFile}`,
    `--client-ca-file=${opts.pki.ca.certFile}`,
    `--etcd-servers=${opts.etcdUrl}`,
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${opts.pki.serviceAccount.publicKeyFile}`,
    `--service-account-signing-key-file=${opts.pki.serviceAccount.privateKeyFile}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    // Joining nodes authenticate with kubeadm-style bootstrap tokens (Secrets in kube-system).
    '--enable-bootstrap-token-auth',
    // No controller-manager runs, so nothing would create the service-account tokens this plugin demands.
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    '--endpoint-reconciler-type=none',
    '--v=1',
  ];
}

/** Starts kube-apiserver and waits until /readyz answers ok to the admin certificate. */
export async function startKubeApiserver(opts: KubeApiserverOptions): Promise<RunningKubeApiserver> {
  const server = `https://127.0.0.1:${opts.securePort}`;
  const child = await ManagedProcess.start({
    name: 'kube-apiserver',
    command: opts.binary,
    args: kubeApiserverArgs(opts),
    logFile: path.join(opts.dir, 'kube-apiserver.log'),
  });
  try {
    await pollUntil('kube-apiserver /readyz', () => probeOk(opts.securePort, '/readyz', { ca: opts.pki.ca.certPem, cert: opts.pki.admin.certPem, key: opts.pki.admin.keyPem }), {
      timeoutMs: opts.timeoutMs,
      intervalMs: 200,
      check: () => child.assertRunning(),
    });
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { process: child, server };
}
