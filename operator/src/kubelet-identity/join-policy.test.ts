import type { NodeAttestationPolicy } from '../status/resources.js';
import { joinPolicyFor, nodeNameMatches } from './join-policy.js';

const policy = (name: string, nodeNames: string[] | undefined, bootstrapGroups?: string[]): NodeAttestationPolicy => ({
  metadata: { name },
  spec: {
    nodeSelector: {}, tpm: { pcrs: [0] },
    ...(nodeNames === undefined ? {} : { join: { nodeNames, ...(bootstrapGroups === undefined ? {} : { bootstrapGroups }) } }),
  },
});

describe('nodeNameMatches', () => {
  it.each([
    ['worker-1', 'worker-1', true],
    ['worker-1', 'worker-10', false],
    ['worker-*', 'worker-10', true],
    ['worker-*', 'worker-', true],
    ['worker-*', 'control-plane-1', false],
    ['*', 'anything', true],
    ['*-gpu-*', 'pool-gpu-3', true],
    ['*-gpu-*', 'pool-cpu-3', false],
    ['a*a', 'a', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'acb', false],
  ])('%s matches %s: %s', (pattern, name, expected) => {
    expect(nodeNameMatches(pattern, name)).toBe(expected);
  });
});

describe('joinPolicyFor', () => {
  it('picks the one policy admitting the name', () => {
    const r = joinPolicyFor([policy('fleet', ['worker-*']), policy('other', ['db-*']), policy('no-join', undefined)], 'worker-3');
    expect(r.ok && r.policy.metadata.name).toBe('fleet');
  });

  it.each([
    ['no policy admits the name', [policy('fleet', ['worker-*'])], 'control-plane-1', undefined, 'join.no_policy_for_name'],
    ['two policies admit it', [policy('a', ['worker-*']), policy('b', ['*'])], 'worker-1', undefined, 'join.ambiguous_policy'],
    ['the token lacks the pool group', [policy('a', ['worker-*'], ['system:bootstrappers:pool-a'])], 'worker-1', ['system:bootstrappers', 'system:bootstrappers:pool-b'], 'join.token_group_not_allowed'],
  ])('refuses when %s', (_what, policies, name, groups, id) => {
    const r = joinPolicyFor(policies, name, groups);
    expect(!r.ok && r.failure.id).toBe(id);
  });

  it('admits a token carrying one of the pool groups', () => {
    const r = joinPolicyFor([policy('a', ['worker-*'], ['system:bootstrappers:pool-a'])], 'worker-1', ['system:bootstrappers', 'system:bootstrappers:pool-a']);
    expect(r.ok).toBe(true);
  });
});
