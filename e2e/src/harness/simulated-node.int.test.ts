import * as k8s from '@kubernetes/client-node';
import { startHarness, type Harness } from './harness.js';
import { createSimulatedNode } from './simulated-node.js';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ redis: false, installCrds: false });
});
afterAll(async () => {
  await harness?.stop();
});

describe('createSimulatedNode', () => {
  it('creates nodes whose InternalIP is a distinct loopback address, set through the status subresource', async () => {
    const created = await Promise.all(['sim-a', 'sim-b', 'sim-c'].map((name) => createSimulatedNode(harness, name, { labels: { pool: 'secure', name } })));
    const core = harness.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const ips = new Set<string>();
    for (const sim of created) {
      const node = await core.readNode({ name: sim.name });
      const internal = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
      expect(internal).toBe(sim.ip);
      expect(internal).toMatch(/^127\.0\.([1-9]\d{0,2})\.([1-9]\d{0,2})$/);
      expect(node.metadata?.labels).toEqual({ pool: 'secure', name: sim.name });
      expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      ips.add(sim.ip);
    }
    expect(ips.size).toBe(3);
  });

  it('uses an explicit address, once', async () => {
    const sim = await createSimulatedNode(harness, 'sim-explicit', { ip: '127.0.200.7' });
    expect(sim.node.status?.addresses).toContainEqual({ type: 'InternalIP', address: '127.0.200.7' });
    await expect(createSimulatedNode(harness, 'sim-dup', { ip: '127.0.200.7' })).rejects.toThrow('already allocated');
    await expect(createSimulatedNode(harness, 'sim-bad', { ip: '10.0.0.1' })).rejects.toThrow('not a simulated-node address');
  });

  it('lists the simulated nodes with kubectl, with their internal IPs', async () => {
    const result = await harness.kubectl(['get', 'nodes', '-l', 'pool=secure', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.addresses[0].address}{"\\n"}{end}']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n').sort()).toHaveLength(3);
    expect(result.stdout).toMatch(/^sim-a=127\.0\.\d+\.\d+$/m);
  });
});
