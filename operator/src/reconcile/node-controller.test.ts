import { silentLogger } from '../log.js';
import type { NodeAttestation } from '../status/resources.js';
import { NodeController, POLICY_COUNTS_DELAY_MS } from './node-controller.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('NodeController', () => {
  it('counts a burst of NodeAttestation changes in their policy\'s status once, after a short delay', async () => {
    const nas = new Map<string, NodeAttestation>(['a', 'b', 'c'].map((n) => [n, { metadata: { name: n }, spec: { nodeName: n, policyName: 'p' } }]));
    const seen: string[] = [];
    const controller = new NodeController({
      caches: { nodes: () => [], nodeAttestations: () => [...nas.values()], policies: () => [], nodeAttestation: (n) => nas.get(n) },
      reconcile: async (k) => Promise.resolve(void seen.push(k)), concurrency: 2, reconcileSchedules: async () => Promise.resolve({ removed: [] }), onError: () => undefined, log: silentLogger,
    });
    controller.start();
    await controller.drained();
    seen.length = 0;
    for (const n of ['a', 'b', 'c', 'a']) controller.changed('nodeattestation', { name: n, nodeName: n });
    await controller.drained();
    expect([...new Set(seen)].sort()).toEqual(['a', 'b', 'c']); // the nodes at once, the policy not yet
    await sleep(POLICY_COUNTS_DELAY_MS + 200);
    await controller.drained();
    expect(seen.filter((k) => k === 'policy/p')).toHaveLength(1);
    controller.stop();
  }, 10_000);
});
