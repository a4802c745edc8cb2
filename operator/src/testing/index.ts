/**
 * `@nodeward/operator/testing`: fakes for tests of code built on the operator, outside its main
 * exports (controller-runtime's client/fake).
 */
export { MemoryCluster } from '../kube/memory-cluster.js';
export { realisticNode } from '../kube/testing/realistic-node.js';
export { buildCsrRequest } from '../kubelet-identity/testing/csr-builder.js';
