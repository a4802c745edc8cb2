import { isKubeletWritable, kubeletWritableSelectorKeys } from './kubelet-labels.js';

describe('isKubeletWritable (NodeRestriction)', () => {
  it.each([
    ['pool', true],
    ['nodeward.io/attest', true],
    ['example.com/tier', true],
    ['node-restriction.kubernetes.io/attested', false],
    ['foo.node-restriction.kubernetes.io/attested', false],
    ['kubernetes.io/role', false],
    ['custom.k8s.io/x', false],
    ['kubernetes.io/hostname', true],
    ['topology.kubernetes.io/zone', true],
    ['node.kubernetes.io/instance-type', true],
    ['node.kubernetes.io/anything', true],
    ['kubelet.kubernetes.io/anything', true],
    ['sub.kubelet.kubernetes.io/anything', true],
    ['notkubernetes.io/x', true],
  ] as const)('%s → %p', (key, writable) => {
    expect(isKubeletWritable(key)).toBe(writable);
  });
});

describe('kubeletWritableSelectorKeys', () => {
  it('lists the writable keys of matchLabels and matchExpressions once, sorted', () => {
    expect(kubeletWritableSelectorKeys({
      matchLabels: { pool: 'edge', 'node-restriction.kubernetes.io/attested': 'true' },
      matchExpressions: [{ key: 'pool', operator: 'Exists' }, { key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['x'] }],
    })).toEqual(['kubernetes.io/hostname', 'pool']);
  });
  it.each([['an empty selector', {}], ['no selector', undefined], ['only protected labels', { matchLabels: { 'node-restriction.kubernetes.io/a': 'b' } }]])(
    'is empty for %s', (_n, sel) => expect(kubeletWritableSelectorKeys(sel)).toEqual([]));
});
