// The e2e package's public API: the real-binary test harness (etcd, kube-apiserver, redis-server).
import 'reflect-metadata';

export { startHarness, type BootstrapIdentity, type ClientIdentity, type Harness, type HarnessOptions } from './harness/harness.js';
export { bootstrapTokenSecret, newBootstrapToken, type BootstrapToken, type BootstrapTokenOptions } from './harness/bootstrap-token.js';
export { harnessControllers } from './harness/kube-controller-manager.js';
export { resolveKubeControllerManager, resolveTestenvBinaries, type TestenvBinaries } from './harness/testenv-binaries.js';
export { createSimulatedNode, type SimulatedNode, type SimulatedNodeHost, type SimulatedNodeOptions } from './harness/simulated-node.js';
export { LoopbackAddressAllocator, defaultLoopbackBlock, type LoopbackBlock } from './harness/loopback-addresses.js';
export { generateTestPki, issueClientCertificate, kubeletSubject, type CertificateFiles, type TestPki } from './harness/pki.js';
export { installCrds, loadCrds, repoCrdFiles } from './harness/crds.js';
export { runKubectl, type KubectlResult, type KubectlTarget } from './harness/kubectl.js';
export { repoRoot } from './harness/repo-root.js';
export { cleanUpSync } from './harness/process-registry.js';
export { RedisSentinelTopology, type SentinelTopologyOptions } from './harness/redis-sentinel.js';
export { probeKubeletWrite, type ProbeResult } from './scenarios/kubelet-probe.js';
