import * as k8s from '@kubernetes/client-node';
import type { LoopbackAddressAllocator } from './loopback-addresses.js';

/** What createSimulatedNode needs of a harness. */
export interface SimulatedNodeHost {
  readonly kubeConfig: k8s.KubeConfig;
  readonly addresses: LoopbackAddressAllocator;
}

/** Labels and address of a simulated node. */
export interface SimulatedNodeOptions {
  readonly labels?: Readonly<Record<string, string>>;
  /** A 127.0.x.y address (x ≥ 1); allocated from the harness when absent. */
  readonly ip?: string;
  /** When allocating, skip addresses where something already accepts connections on this port. */
  readonly unoccupiedOn?: number;
}

/** A Node object with no kubelet behind it, whose InternalIP is a loopback address of its own. */
export interface SimulatedNode {
  readonly name: string;
  readonly ip: string;
  readonly node: k8s.V1Node;
}

/**
 * Creates a Node and sets, through the status subresource, its InternalIP and Hostname addresses and a
 * Ready condition (no node controller runs to change it).
 */
export async function createSimulatedNode(host: SimulatedNodeHost, name: string, opts: SimulatedNodeOptions = {}): Promise<SimulatedNode> {
  const ip = opts.ip !== undefined ? host.addresses.reserve(opts.ip)
    : opts.unoccupiedOn !== undefined ? await host.addresses.nextUnoccupied(opts.unoccupiedOn) : host.addresses.next();
  const core = host.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const created = await core.createNode({
    body: { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { ...opts.labels } } },
  });
  const now = new Date();
  created.status = {
    addresses: [
      { type: 'InternalIP', address: ip },
      { type: 'Hostname', address: name },
    ],
    conditions: [
      { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated node', lastHeartbeatTime: now, lastTransitionTime: now },
    ],
  };
  const node = await core.replaceNodeStatus({ name, body: created });
  return { name, ip, node };
}
