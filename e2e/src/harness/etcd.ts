import path from 'node:path';
import { ManagedProcess } from './managed-process.js';
import { pollUntil } from './wait.js';

/** Where and how to run etcd. */
export interface EtcdOptions {
  readonly binary: string;
  /** A fresh directory, owned by this etcd. */
  readonly dir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly timeoutMs: number;
}

/** A running single-member etcd. */
export interface RunningEtcd {
  readonly process: ManagedProcess;
  readonly url: string;
}

/** Starts a single-member etcd on loopback and waits until /health reports healthy. */
export async function startEtcd(opts: EtcdOptions): Promise<RunningEtcd> {
  const url = `http://127.0.0.1:${opts.clientPort}`;
  const peerUrl = `http://127.0.0.1:${opts.peerPort}`;
  const child = await ManagedProcess.start({
    name: 'etcd',
    command: opts.binary,
    args: [
      '--name=testenv',
      `--data-dir=${path.join(opts.dir, 'data')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=testenv=${peerUrl}`,
      '--initial-cluster-state=new',
      // Test data is disposable: skip fsync, which dominates etcd latency on CI disks.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    logFile: path.join(opts.dir, 'etcd.log'),
  });
  try {
    await pollUntil('etcd /health', () => probeHealth(url), { timeoutMs: opts.timeoutMs, check: () => child.assertRunning() });
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { process: child, url };
}

async function probeHealth(url: string): Promise<true | undefined> {
  const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
  const body = (await response.json()) as { health?: string };
  return response.ok && body.health === 'true' ? true : undefined;
}
