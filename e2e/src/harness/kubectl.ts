import { execFile } from 'node:child_process';

/** What a kubectl invocation printed and how it ended. */
export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How to reach the cluster. */
export interface KubectlTarget {
  readonly kubectl: string;
  readonly kubeconfigPath: string;
  /** kubectl's discovery cache; keep it per cluster so a stale cache never hides new CRDs. */
  readonly cacheDir: string;
}

/** Runs kubectl against `target`; resolves with its exit code and output (a non-zero exit does not throw). */
export function runKubectl(target: KubectlTarget, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      target.kubectl,
      [`--kubeconfig=${target.kubeconfigPath}`, `--cache-dir=${target.cacheDir}`, ...args],
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, KUBECONFIG: target.kubeconfigPath } },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`kubectl ${args.join(' ')}: ${error.message}`));
          return;
        }
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
