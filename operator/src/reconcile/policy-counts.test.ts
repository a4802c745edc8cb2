import type { NodeAttestation, Phase } from '../status/resources.js';
import { policyCounts, sameCounts } from './policy-counts.js';

const na = (name: string, policyName: string, phase?: Phase): NodeAttestation => ({ metadata: { name }, spec: { nodeName: name, policyName }, ...(phase ? { status: { phase } } : {}) });

describe('policyCounts', () => {
  it('counts only the policy\'s NodeAttestations, by phase', () => {
    const all = [
      na('a', 'p', 'Trusted'), na('b', 'p', 'Trusted'), na('c', 'p', 'Untrusted'), na('d', 'p', 'Unreachable'), na('e', 'p', 'Stale'),
      na('f', 'p', 'Pending'), na('g', 'p', 'Registered'), na('h', 'p', 'Conflict'), na('i', 'p'), na('j', 'other', 'Untrusted'),
    ];
    expect(policyCounts('p', all)).toEqual({ trustedNodes: 2, untrustedNodes: 1, unreachableNodes: 1, staleNodes: 1, heldNodes: 0 });
    expect(policyCounts('none', all)).toEqual({ trustedNodes: 0, untrustedNodes: 0, unreachableNodes: 0, staleNodes: 0, heldNodes: 0 });
  });

  it('tells a status that already has the counts (no write) from one that does not', () => {
    const counts = policyCounts('p', [na('a', 'p', 'Trusted')]);
    expect(sameCounts({ ...counts, matchedNodes: 1 }, counts)).toBe(true);
    expect(sameCounts({ matchedNodes: 1 }, counts)).toBe(false);
    expect(sameCounts({ ...counts, trustedNodes: 0 }, counts)).toBe(false);
  });
});
