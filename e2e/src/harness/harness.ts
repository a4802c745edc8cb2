import * as k8s from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createBootstrapToken, type BootstrapToken, type BootstrapTokenOptions } from './bootstrap-token.js';
import { installCrds, repoCrdFiles } from './crds.js';
import { startEtcd, type RunningEtcd } from './etcd.js';
import { allocateFreePorts } from './free-ports.js';
import { startKubeApiserver, type RunningKubeApiserver } from './kube-apiserver.js';
import { startKubeControllerManager, type RunningKubeControllerManager } from './kube-controller-manager.js';
import { writeKubeconfig, type KubeconfigParams } from './kubeconfig.js';
import { runKubectl, type KubectlResult } from './kubectl.js';
import { LoopbackAddressAllocator } from './loopback-addresses.js';
import { generateTestPki, issueClientCertificate, kubeletSubject, type TestPki } from './pki.js';
import { trackTempDir, untrackTempDir } from './process-registry.js';
import { RedisServer } from './redis.js';
import { resolveKubeControllerManager, resolveTestenvBinaries, type TestenvBinaries } from './testenv-binaries.js';

/** How to start the harness; every field is optional. */
export interface HarnessOptions {
  /** Install crds/*.yaml (default true). */
  readonly installCrds?: boolean;
  /** CRD manifests to install instead of crds/*.yaml. */
  readonly crdFiles?: readonly string[];
  /** Start redis-server (default true). */
  readonly redis?: boolean;
  /**
   * Start kube-controller-manager signing approved CSRs with the harness CA (default false: only the tests
   * of the kubelet identity pay for it). Its controllers: {@link harnessControllers}, never the approver.
   */
  readonly kubeControllerManager?: boolean;
  /** Keep the temporary directory (logs, etcd data) after stop(); also NODEWARD_KEEP_TESTENV=1. */
  readonly keepTempDir?: boolean;
  /** Per-component start-up timeout (default 90 s; a cold kube-apiserver on 2 cores takes a few seconds). */
  readonly timeoutMs?: number;
  /** Where the start-up line goes (default: one JSON line on stderr). */
  readonly log?: (line: string) => void;
}

/** A client identity other than the admin: its kubeconfig, a client for it, and kubectl as it. */
export interface ClientIdentity {
  readonly kubeconfigPath: string;
  readonly kubeConfig: k8s.KubeConfig;
  kubectl(args: readonly string[], opts?: { input?: string }): Promise<KubectlResult>;
}

/** A bootstrap token stored in kube-system and a kubeconfig that authenticates with it. */
export interface BootstrapIdentity extends ClientIdentity {
  readonly token: BootstrapToken;
}

/** A running etcd + kube-apiserver (+ redis-server) on loopback, with the Nodeward CRDs installed. */
export interface Harness {
  /** A kubeconfig file for kubectl and the operator (admin, O=system:masters). */
  readonly kubeconfigPath: string;
  readonly kubeConfig: k8s.KubeConfig;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** redis://127.0.0.1:<port>; empty when started with redis: false. */
  readonly redisUrl: string;
  readonly etcdUrl: string;
  /** Logs (etcd.log, kube-apiserver.log, redis/redis.log), PKI and data; removed by stop(). */
  readonly tempDir: string;
  readonly pki: TestPki;
  readonly binaries: TestenvBinaries;
  /** Hands out 127.0.x.y addresses for simulated nodes. */
  readonly addresses: LoopbackAddressAllocator;
  /** Wall-clock start-up time in milliseconds. */
  readonly startupMs: number;
  /** Every child pid this harness started, including redis-servers since restarted. */
  pids(): number[];
  /** Runs kubectl against this cluster; resolves with exit code and output. */
  kubectl(args: readonly string[], opts?: { input?: string }): Promise<KubectlResult>;
  /**
   * The kubelet credential of `nodeName` (CN=system:node:<name>, O=system:nodes, signed by the client
   * CA): what an attacker with root on that node holds. The API server runs Node,RBAC authorization and
   * NodeRestriction, so it may do exactly what a real kubelet may.
   */
  kubeletIdentity(nodeName: string): Promise<ClientIdentity>;
  /**
   * A new bootstrap token (a `bootstrap.kubernetes.io/token` Secret in kube-system; the API server runs
   * with --enable-bootstrap-token-auth) and a kubeconfig using it: user `system:bootstrap:<id>`, groups
   * `system:bootstrappers` and the token's extra groups. What a stolen join token gives an attacker.
   */
  bootstrapIdentity(opts?: BootstrapTokenOptions): Promise<BootstrapIdentity>;
  stopRedis(): Promise<void>;
  startRedis(): Promise<void>;
  /** Stops redis-server and starts a fresh, empty one on the same port after `downtimeMs` (default 0). */
  restartRedis(opts?: { downtimeMs?: number }): Promise<void>;
  /** Stops every child (SIGTERM, SIGKILL after 5 s) and removes the temporary directory. Idempotent. */
  stop(): Promise<void>;
}

interface Started {
  etcd?: RunningEtcd;
  apiserver?: RunningKubeApiserver;
  controllerManager?: RunningKubeControllerManager;
  redis?: RedisServer;
}

const portCollision = /address already in use/i;

/**
 * Starts the harness, retrying (twice) when a port picked as free was taken before use. Logs one JSON
 * line with the start-up time of each phase.
 */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof Error) || !portCollision.test(error.message)) throw error;
    }
  }
}

async function startOnce(opts: HarnessOptions): Promise<Harness> {
  const began = Date.now();
  const phases: Record<string, number> = {};
  const timed = async <T>(phase: string, run: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const value = await run();
    phases[phase] = Date.now() - t0;
    return value;
  };
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const binaries = await timed('binaries', resolveTestenvBinaries);
  const tempDir = await mkdtemp(path.join(os.tmpdir(), 'nodeward-testenv-'));
  trackTempDir(tempDir);
  const started: Started = {};
  const keep = opts.keepTempDir ?? process.env['NODEWARD_KEEP_TESTENV'] === '1';
  try {
    const [etcdClient, etcdPeer, apiserverPort, redisPort, kcmPort] = (await allocateFreePorts(5)) as [number, number, number, number, number];
    const redis = opts.redis === false ? undefined : new RedisServer({ binary: 'redis-server', dir: path.join(tempDir, 'redis'), port: redisPort, timeoutMs });
    started.redis = redis;
    // allSettled, not all: whatever started must be known (and stopped) even when a sibling failed.
    const [pkiResult, etcdResult, redisResult] = await Promise.allSettled([
      timed('pki', () => generateTestPki(path.join(tempDir, 'pki'))),
      timed('etcd', () => startEtcd({ binary: binaries.etcd, dir: tempDir, clientPort: etcdClient, peerPort: etcdPeer, timeoutMs })),
      redis === undefined ? undefined : timed('redis', () => redis.start()),
    ]);
    if (etcdResult.status === 'fulfilled') started.etcd = etcdResult.value;
    const pki = settledValue(pkiResult);
    const etcd = settledValue(etcdResult);
    settledValue(redisResult);
    started.apiserver = await timed('apiserver', () =>
      startKubeApiserver({ binary: binaries.kubeApiserver, dir: tempDir, pki, etcdUrl: etcd.url, securePort: apiserverPort, timeoutMs }),
    );
    const kubeconfigPath = path.join(tempDir, 'kubeconfig');
    await writeKubeconfig(kubeconfigPath, {
      server: started.apiserver.server, caPem: pki.ca.certPem, clientCertPem: pki.admin.certPem, clientKeyPem: pki.admin.keyPem,
    });
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    if (opts.installCrds !== false) {
      const files = opts.crdFiles ?? (await repoCrdFiles());
      await timed('crds', () => installCrds(kubeConfig, files, timeoutMs));
    }
    if (opts.kubeControllerManager === true) {
      const server = started.apiserver.server;
      started.controllerManager = await timed('controllerManager', () => startControllerManager({ tempDir, pki, server, port: kcmPort, timeoutMs }));
    }
    const harness = new RunningHarness({ ...started, apiserver: started.apiserver, etcd }, {
      kubeconfigPath, kubeConfig, tempDir, pki, binaries, keep, startupMs: Date.now() - began,
    });
    (opts.log ?? logToStderr)(JSON.stringify({
      level: 'info', msg: 'testenv.started', startupMs: harness.startupMs, phases, server: harness.server,
      redisUrl: harness.redisUrl, tempDir, pid: process.pid,
    }));
    return harness;
  } catch (error) {
    await stopAll(started);
    await removeTempDir(tempDir, keep);
    throw error;
  }
}

async function startControllerManager(params: {
  tempDir: string; pki: TestPki; server: string; port: number; timeoutMs: number;
}): Promise<RunningKubeControllerManager> {
  const binary = await resolveKubeControllerManager();
  // Its own identity, bound by the API server's bootstrap RBAC policy to system:kube-controller-manager.
  const cert = await issueClientCertificate(params.pki, 'kube-controller-manager', 'CN=system:kube-controller-manager');
  const kubeconfigPath = path.join(params.tempDir, 'kube-controller-manager.kubeconfig');
  await writeKubeconfig(kubeconfigPath, {
    server: params.server, caPem: params.pki.ca.certPem, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem, contextName: 'kube-controller-manager',
  });
  return startKubeControllerManager({
    binary, dir: params.tempDir, kubeconfigPath, signer: params.pki.ca, securePort: params.port, timeoutMs: params.timeoutMs,
  });
}

function settledValue<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

function logToStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function stopAll(started: Started): Promise<void> {
  // The controller manager, then the API server, so that neither logs errors while what it talks to goes away.
  await started.controllerManager?.process.stop();
  await started.apiserver?.process.stop();
  await Promise.all([started.etcd?.process.stop(), started.redis?.stop()]);
}

async function removeTempDir(dir: string, keep: boolean): Promise<void> {
  if (!keep) await rm(dir, { recursive: true, force: true });
  untrackTempDir(dir);
}

interface HarnessState {
  readonly kubeconfigPath: string;
  readonly kubeConfig: k8s.KubeConfig;
  readonly tempDir: string;
  readonly pki: TestPki;
  readonly binaries: TestenvBinaries;
  readonly keep: boolean;
  readonly startupMs: number;
}

class RunningHarness implements Harness {
  readonly kubeconfigPath: string;
  readonly kubeConfig: k8s.KubeConfig;
  readonly server: string;
  readonly redisUrl: string;
  readonly etcdUrl: string;
  readonly tempDir: string;
  readonly pki: TestPki;
  readonly binaries: TestenvBinaries;
  readonly addresses = new LoopbackAddressAllocator();
  readonly startupMs: number;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly children: Required<Pick<Started, 'etcd' | 'apiserver'>> & Pick<Started, 'redis' | 'controllerManager'>,
    private readonly state: HarnessState,
  ) {
    this.kubeconfigPath = state.kubeconfigPath;
    this.kubeConfig = state.kubeConfig;
    this.server = children.apiserver.server;
    this.redisUrl = children.redis?.url ?? '';
    this.etcdUrl = children.etcd.url;
    this.tempDir = state.tempDir;
    this.pki = state.pki;
    this.binaries = state.binaries;
    this.startupMs = state.startupMs;
  }

  pids(): number[] {
    const kcm = this.children.controllerManager === undefined ? [] : [this.children.controllerManager.process.pid];
    return [this.children.etcd.process.pid, this.children.apiserver.process.pid, ...(this.children.redis?.pids() ?? []), ...kcm];
  }

  kubectl(args: readonly string[], opts: { input?: string } = {}): Promise<KubectlResult> {
    const target = { kubectl: this.binaries.kubectl, kubeconfigPath: this.kubeconfigPath, cacheDir: path.join(this.tempDir, 'kubectl-cache') };
    return runKubectl(target, args, opts);
  }

  async kubeletIdentity(nodeName: string): Promise<ClientIdentity> {
    const name = `kubelet-${nodeName}`;
    const cert = await issueClientCertificate(this.pki, name, kubeletSubject(nodeName));
    return this.clientIdentity(name, { clientCertPem: cert.certPem, clientKeyPem: cert.keyPem });
  }

  async bootstrapIdentity(opts: BootstrapTokenOptions = {}): Promise<BootstrapIdentity> {
    const token = await createBootstrapToken(this.kubeConfig, opts);
    return { token, ...(await this.clientIdentity(`bootstrap-${token.id}`, { token: token.token })) };
  }

  private async clientIdentity(
    name: string,
    credential: { clientCertPem: string; clientKeyPem: string } | { token: string },
  ): Promise<ClientIdentity> {
    const kubeconfigPath = path.join(this.tempDir, `${name}.kubeconfig`);
    const params: KubeconfigParams = { server: this.server, caPem: this.pki.ca.certPem, contextName: name, ...credential };
    await writeKubeconfig(kubeconfigPath, params);
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const target = { kubectl: this.binaries.kubectl, kubeconfigPath, cacheDir: path.join(this.tempDir, `${name}-kubectl-cache`) };
    return { kubeconfigPath, kubeConfig, kubectl: (args, opts = {}) => runKubectl(target, args, opts) };
  }

  stopRedis(): Promise<void> {
    return this.requireRedis().stop();
  }

  startRedis(): Promise<void> {
    return this.requireRedis().start();
  }

  async restartRedis(opts: { downtimeMs?: number } = {}): Promise<void> {
    const redis = this.requireRedis();
    await redis.stop();
    if ((opts.downtimeMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, opts.downtimeMs));
    await redis.start();
  }

  stop(): Promise<void> {
    this.stopping ??= (async (): Promise<void> => {
      await stopAll(this.children);
      await removeTempDir(this.tempDir, this.state.keep);
    })();
    return this.stopping;
  }

  private requireRedis(): RedisServer {
    if (this.children.redis === undefined) throw new Error('the harness was started with redis: false');
    return this.children.redis;
  }
}
