import path from 'node:path';
import { ManagedProcess } from './managed-process.js';
import type { CertificateFiles } from './pki.js';
import { pollUntil, probeOk } from './wait.js';

/** Where and how to run kube-controller-manager. */
export interface KubeControllerManagerOptions {
  readonly binary: string;
  readonly dir: string;
  /** A kubeconfig for CN=system:kube-controller-manager (its own identity, not the admin's). */
  readonly kubeconfigPath: string;
  /** The CA that signs every approved CSR (the harness CA, which kube-apiserver trusts for clients). */
  readonly signer: Pick<CertificateFiles, 'certFile' | 'keyFile'>;
  /** Its HTTPS port (health checks only), on 127.0.0.1. */
  readonly securePort: number;
  readonly timeoutMs: number;
}

/** A running kube-controller-manager. */
export interface RunningKubeControllerManager {
  readonly process: ManagedProcess;
}

/**
 * The controllers the harness runs: the CSR signer (signs every approved CSR with the harness CA), the
 * CSR cleaner (garbage-collects old CSRs as in production) and the bootstrap token cleaner (deletes
 * expired bootstrap token Secrets). Never `csrapproving`: approving kubelet CSRs is Nodeward's decision.
 */
export const harnessControllers = ['csrsigning', 'csrcleaner', 'tokencleaner'] as const;

/**
 * The flags, as kubeadm runs it: each controller acts as its own service account
 * (`--use-service-account-credentials`, so the signer holds only system:controller:certificate-controller's
 * rights), no leader election (one instance), health checks on a loopback port.
 */
export function kubeControllerManagerArgs(opts: Omit<KubeControllerManagerOptions, 'binary' | 'timeoutMs'>): string[] {
  return [
    `--kubeconfig=${opts.kubeconfigPath}`,
    `--controllers=${harnessControllers.join(',')}`,
    '--use-service-account-credentials=true',
    `--cluster-signing-cert-file=${opts.signer.certFile}`,
    `--cluster-signing-key-file=${opts.signer.keyFile}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${opts.securePort}`,
    `--cert-dir=${path.join(opts.dir, 'kube-controller-manager-certs')}`,
    '--v=1',
  ];
}

/** Starts kube-controller-manager and waits until its /healthz answers ok. */
export async function startKubeControllerManager(opts: KubeControllerManagerOptions): Promise<RunningKubeControllerManager> {
  const child = await ManagedProcess.start({
    name: 'kube-controller-manager',
    command: opts.binary,
    args: kubeControllerManagerArgs(opts),
    logFile: path.join(opts.dir, 'kube-controller-manager.log'),
  });
  try {
    // Its serving certificate is self-signed in --cert-dir; only liveness is read here, nothing trusted.
    await pollUntil('kube-controller-manager /healthz', () => probeOk(opts.securePort, '/healthz', { rejectUnauthorized: false }), {
      timeoutMs: opts.timeoutMs,
      intervalMs: 200,
      check: () => child.assertRunning(),
    });
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { process: child };
}
