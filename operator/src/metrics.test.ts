import { clearFleetGauges, registry, setEnforcementHeld, setNodesByPhase, setPolicyReferencesInvalid } from './metrics.js';

it('a replica that stops leading drops every fleet-wide gauge it published (alerts take max over replicas)', async () => {
  setNodesByPhase({ Untrusted: 3 });
  setEnforcementHeld({ workers: 2 });
  setPolicyReferencesInvalid([{ policy: 'workers', condition: 'RuntimePolicyReady', reason: 'Missing' }]);
  const fleetSeries = async (): Promise<string[]> => (await registry.metrics()).split('\n')
    .filter((l) => /^nodeward_(nodes|enforcement_held_nodes|policy_references_invalid)\{/.test(l) && !l.endsWith(' 0'));
  expect(await fleetSeries()).toHaveLength(3);
  clearFleetGauges();
  expect((await registry.metrics()).split('\n').filter((l) => /^nodeward_(nodes|enforcement_held_nodes|policy_references_invalid)\{/.test(l))).toEqual([]);
});
