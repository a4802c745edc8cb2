import type { NodeAttestation, NodeAttestationPolicy } from '../status/resources.js';
import { EnforcementBudget } from './enforcement-budget.js';

const policy = (maxUnavailable: number | string | undefined, mode: 'Enforce' | 'Audit' = 'Enforce'): NodeAttestationPolicy => ({
  metadata: { name: 'p' }, spec: { nodeSelector: {}, tpm: { pcrs: [0] }, mode, ...(maxUnavailable === undefined ? {} : { maxUnavailable }) },
});
const na = (node: string, status: NodeAttestation['status'] = {}, policyName = 'p'): NodeAttestation => ({ metadata: { name: node }, spec: { nodeName: node, policyName }, status });

describe('EnforcementBudget (the leader\'s ledger)', () => {
  it('admits up to maxUnavailable at once, counting admissions the cache does not show yet', () => {
    const cache = [na('n1'), na('n2'), na('n3'), na('n4')];
    const budget = new EnforcementBudget(() => cache);
    expect(budget.admit(policy(1), 'n1').verdict).toBe('admit');
    expect(budget.admit(policy(1), 'n2')).toMatchObject({ verdict: 'hold' }); // n1's write not in the cache yet
    expect(budget.admit(policy(1), 'n3')).toMatchObject({ verdict: 'hold' });
    expect(budget.admit(policy(1), 'n1').verdict).toBe('admit'); // a node never counts against itself
  });

  it('counts enforcement begun in the cache, not held nodes, nodes of other policies, or after a reservation expires', () => {
    let t = 0;
    const cache = [na('n1', { enforcement: { tainted: true, since: 'x' } }), na('n2', { enforcement: { held: true } }), na('n3'), na('o1', { enforcement: { since: 'x' } }, 'other')];
    const budget = new EnforcementBudget(() => cache, () => t, 1000);
    expect(budget.admit(policy(2), 'n3').verdict).toBe('admit');
    expect(budget.admit(policy(2), 'n2')).toMatchObject({ verdict: 'hold', message: expect.stringContaining('(n1, n3)') as unknown });
    t = 1000;
    expect(budget.admit(policy(2), 'n2').verdict).toBe('admit'); // n3's reservation expired and the cache shows nothing for it
  });

  it('a percentage of the policy\'s nodes, rounded up; Audit counts the would-be enforcement', () => {
    const cache = [na('n1', { wouldEnforce: { since: 'x' } }), na('n2'), na('n3'), na('n4')];
    expect(new EnforcementBudget(() => cache).admit(policy('25%', 'Audit'), 'n2')).toMatchObject({ verdict: 'hold' });
    expect(new EnforcementBudget(() => cache).admit(policy('25%'), 'n2').verdict).toBe('admit');
    expect(new EnforcementBudget(() => cache).admit(policy(undefined), 'n2').verdict).toBe('admit');
  });
});
