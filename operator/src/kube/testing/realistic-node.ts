import type { V1Node } from '@kubernetes/client-node';

/**
 * Test and bench builder: a Node shaped like a real cloud worker's, for memory measurements. About 50
 * images (each a digest and a tag name, as the kubelet reports them, capped at 50), the usual five
 * conditions, well-known and cloud labels, the annotations kubelet, CSI and a CNI add, capacity,
 * allocatable, nodeInfo and daemonEndpoints. ~14 KB of JSON before managedFields.
 */
export function realisticNode(name: string, ip: string, labels: Record<string, string> = {}, images = 50): V1Node {
  const at = new Date('2026-12-01T00:00:00Z');
  const condition = (type: string, status: string, reason: string, message: string): NonNullable<NonNullable<V1Node['status']>['conditions']>[number] =>
    ({ type, status, reason, message, lastHeartbeatTime: at, lastTransitionTime: at });
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/instance-type': 'm6i.2xlarge',
        'node.kubernetes.io/instance-type': 'm6i.2xlarge', 'topology.kubernetes.io/region': 'eu-west-1', 'topology.kubernetes.io/zone': 'eu-west-1b',
        'failure-domain.beta.kubernetes.io/region': 'eu-west-1', 'failure-domain.beta.kubernetes.io/zone': 'eu-west-1b',
        'topology.ebs.csi.aws.com/zone': 'eu-west-1b', 'node-role.kubernetes.io/worker': '', 'node.kubernetes.io/lifecycle': 'on-demand',
        'eks.amazonaws.com/nodegroup': 'workers-general-7f3c', 'eks.amazonaws.com/capacityType': 'ON_DEMAND', 'k8s.io/cloud-provider-aws': '4b1f6a0c2d9e8f7a6b5c4d3e2f1a0b9c',
        ...labels,
      },
      annotations: {
        'alpha.kubernetes.io/provided-node-ip': ip, 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        'csi.volume.kubernetes.io/nodeid': JSON.stringify({ 'ebs.csi.aws.com': `i-0${name.length}f3a9c2b7d41e6a5`, 'efs.csi.aws.com': `i-0${name.length}f3a9c2b7d41e6a5` }),
        'projectcalico.org/IPv4Address': `${ip}/19`, 'projectcalico.org/IPv4VXLANTunnelAddr': '10.244.17.128',
        'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
      },
    },
    spec: { podCIDR: '10.244.17.0/24', podCIDRs: ['10.244.17.0/24'], providerID: `aws:///eu-west-1b/i-0${name.length}f3a9c2b7d41e6a5` },
    status: {
      addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }, { type: 'InternalDNS', address: `${name}.eu-west-1.compute.internal` }],
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('NetworkUnavailable', 'False', 'CalicoIsUp', 'Calico is running on this node'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      capacity: { cpu: '8', 'ephemeral-storage': '104845292Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '32386520Ki', pods: '58' },
      allocatable: { cpu: '7910m', 'ephemeral-storage': '95551679124', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '31369688Ki', pods: '58' },
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64', bootID: '3c1e9a4f-7b2d-4e8a-9f6c-1d2e3f4a5b6c', containerRuntimeVersion: 'containerd://1.7.22',
        kernelVersion: '6.1.112-124.190.amzn2023.x86_64', kubeProxyVersion: 'v1.33.13', kubeletVersion: 'v1.33.13',
        machineID: 'ec2b7d41e6a5f3a9c2b7d41e6a5f3a9c', operatingSystem: 'linux', osImage: 'Amazon Linux 2023.6.20241121',
        systemUUID: 'ec2b7d41-e6a5-f3a9-c2b7-d41e6a5f3a9c',
      },
      images: Array.from({ length: images }, (_, i) => {
        const repo = `registry.example.com/platform/team-${i % 7}/service-${i}`;
        const digest = `sha256:${(BigInt(i + 1) * 0x9e3779b97f4a7c15n).toString(16).padStart(16, '0').repeat(4).slice(0, 64)}`;
        return { names: [`${repo}@${digest}`, `${repo}:v1.${i}.${i % 5}`], sizeBytes: 10_000_000 + i * 1_234_567 };
      }),
    },
  };
}
