import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from './repo-root.js';

/** Absolute paths of the binaries the harness runs. */
export interface TestenvBinaries {
  readonly kubeApiserver: string;
  readonly etcd: string;
  readonly kubectl: string;
}

let cached: Promise<TestenvBinaries> | undefined;

/**
 * Builds (or finds in its cache) the pinned kube-apiserver and etcd with e2e/testenv/build.sh and finds
 * kubectl on PATH. Throws with the script's output when a binary is missing: nothing is ever skipped.
 */
export function resolveTestenvBinaries(): Promise<TestenvBinaries> {
  cached ??= resolveOnce().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function resolveOnce(): Promise<TestenvBinaries> {
  const dir = await runBuildScript();
  const kubeApiserver = await requireExecutable(path.join(dir, 'kube-apiserver'), 'kube-apiserver');
  const etcd = await requireExecutable(path.join(dir, 'etcd'), 'etcd');
  const kubectl = await findOnPath('kubectl');
  return { kubeApiserver, etcd, kubectl };
}

let cachedKcm: Promise<string> | undefined;

/**
 * Builds (or finds in its cache, or in KUBEBUILDER_ASSETS) kube-controller-manager at the pinned version
 * with `e2e/testenv/build.sh kube-controller-manager`. Only harnesses started with a controller manager ask.
 */
export function resolveKubeControllerManager(): Promise<string> {
  cachedKcm ??= runBuildScript(['kube-controller-manager'])
    .then((dir) => requireExecutable(path.join(dir, 'kube-controller-manager'), 'kube-controller-manager'))
    .catch((error: unknown) => {
      cachedKcm = undefined;
      throw error;
    });
  return cachedKcm;
}

function runBuildScript(args: readonly string[] = []): Promise<string> {
  const script = path.join(repoRoot(), 'e2e', 'testenv', 'build.sh');
  return new Promise((resolve, reject) => {
    execFile('bash', [script, ...args], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const dir = stdout.trim().split('\n').pop()?.trim() ?? '';
      if (error !== null || dir === '') {
        const tail = stderr.split(/[\r\n]/).filter((l) => l.trim() !== '').slice(-15).join('\n');
        reject(new Error(`testenv: ${script} failed (${error?.message ?? 'no directory printed'}):\n${tail}`));
        return;
      }
      resolve(dir);
    });
  });
}

async function requireExecutable(file: string, what: string): Promise<string> {
  try {
    await access(file, constants.X_OK);
    return file;
  } catch {
    throw new Error(`testenv: ${what} is missing or not executable at ${file}; run e2e/testenv/build.sh`);
  }
}

async function findOnPath(command: string): Promise<string> {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter).filter((d) => d !== '')) {
    const candidate = path.join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`testenv: ${command} not found on PATH (${process.env['PATH'] ?? ''}); install kubectl >= 1.32`);
}
