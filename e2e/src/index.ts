// The e2e package's public API: the real-binary test harness (etcd, kube-apiserver, redis-server).
import 'reflect-metadata';

export { startHarness, type ClientIdentity, type Harness, type HarnessOptions } from './harness/harness.js';
export { resolveTestenvBinaries, type TestenvBinaries } from './harness/testenv-binaries.js';
export { createSimulatedNode, type SimulatedNode, type SimulatedNodeHost, type SimulatedNodeOptions } from './harness/simulated-node.js';
export { LoopbackAddressAllocator, defaultLoopbackBlock, type LoopbackBlock } from './harness/loopback-addresses.js';
export { generateTestPki, issueClientCertificate, kubeletSubject, type CertificateFiles, type TestPki } from './harness/pki.js';
export { installCrds, loadCrds, repoCrdFiles } from './harness/crds.js';
export { runKubectl, type KubectlResult, type KubectlTarget } from './harness/kubectl.js';
export { repoRoot } from './harness/repo-root.js';
export { cleanUpSync } from './harness/process-registry.js';
