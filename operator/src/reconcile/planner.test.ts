import type { LabelSelector, NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { parseDurationMs } from './duration.js';
import { agentUrlFor, plan, planNode, scheduledTargets, type PlanInputs } from './planner.js';
import { matchesSelector } from './selector.js';
import { shardOf } from '../queue/round-job.js';

const opts = { agentPort: 9443, defaultIntervalMs: 30_000 };
const node = (name: string, labels: Record<string, string> = {}, ip: string | null = '10.0.0.1', deleting = false): NodeView => ({
  metadata: { name, labels, ...(deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}) },
  status: { addresses: ip === null ? [{ type: 'Hostname', address: name }] : [{ type: 'Hostname', address: name }, { type: 'InternalIP', address: ip }] },
});
const policy = (name: string, nodeSelector: LabelSelector, interval?: string): NodeAttestationPolicy => ({
  metadata: { name, uid: `uid-${name}` },
  spec: { nodeSelector, tpm: { pcrs: [0] }, ...(interval ? { interval } : {}) },
});
const na = (nodeName: string, policyName: string): NodeAttestation => ({ metadata: { name: nodeName }, spec: { nodeName, policyName } });

describe('matchesSelector', () => {
  const labels = { role: 'worker', zone: 'a', tpm: '' };
  it.each<[string, LabelSelector | undefined, boolean]>([
    ['undefined selector matches all', undefined, true],
    ['empty selector matches all', {}, true],
    ['matchLabels hit', { matchLabels: { role: 'worker' } }, true],
    ['matchLabels miss value', { matchLabels: { role: 'control' } }, false],
    ['matchLabels miss key', { matchLabels: { gpu: 'yes' } }, false],
    ['In hit', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, true],
    ['In miss', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['c'] }] }, false],
    ['In on absent key', { matchExpressions: [{ key: 'gpu', operator: 'In', values: ['a'] }] }, false],
    ['NotIn hit', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['c'] }] }, true],
    ['NotIn miss', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, false],
    ['NotIn on absent key matches', { matchExpressions: [{ key: 'gpu', operator: 'NotIn', values: ['a'] }] }, true],
    ['Exists with empty value', { matchExpressions: [{ key: 'tpm', operator: 'Exists' }] }, true],
    ['Exists miss', { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, false],
    ['DoesNotExist hit', { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, true],
    ['DoesNotExist miss', { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, false],
    ['labels AND expressions', { matchLabels: { role: 'worker' }, matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }, false],
    ['unknown operator matches nothing', { matchExpressions: [{ key: 'zone', operator: 'Gt' as 'In', values: ['1'] }] }, false],
  ])('%s', (_n, sel, expected) => {
    expect(matchesSelector(sel, labels)).toBe(expected);
  });
});

describe('planNode', () => {
  const workers = policy('workers', { matchLabels: { role: 'worker' } }, '1m30s');
  const zoneA = policy('zone-a', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] });
  const inputs = (p: Partial<PlanInputs>): PlanInputs => ({ policies: [], nodes: [], nodeAttestations: [], ...p });

  it('desires one attestation and a schedule for a node matched by exactly one policy', () => {
    const p = planNode('n1', inputs({ policies: [workers], nodes: [node('n1', { role: 'worker' })] }), opts);
    expect(p.desired).toEqual({
      name: 'n1', nodeName: 'n1', policyName: 'workers',
      ownerReference: { apiVersion: 'attestation.nodeward.io/v1alpha1', kind: 'NodeAttestationPolicy', name: 'workers', uid: 'uid-workers', controller: true, blockOwnerDeletion: true },
      // Its round shard at the policy's interval, the label a follower's cache selects on.
      shard: shardOf('n1', 90_000).id,
    });
    expect(p.desired?.shard).toMatch(/^90000:[0-9]+$/);
    expect(p.target).toEqual({ nodeName: 'n1', policyName: 'workers', agentUrl: 'https://n1@10.0.0.1:9443', intervalMs: 90_000 });
    expect(p.removeSchedule).toBe(false);
    expect(p.conflict).toBeUndefined();
    expect(p.deletion).toBeUndefined();
  });

  it('reports a conflict (no silent pick, no new attestation) and keeps the rounds of the policy already attesting it', () => {
    const p = planNode('n1', inputs({ policies: [zoneA, workers], nodes: [node('n1', { role: 'worker', zone: 'a' })], nodeAttestations: [na('n1', 'workers')] }), opts);
    expect(p.conflict).toEqual({ nodeName: 'n1', policyNames: ['workers', 'zone-a'], existing: 'n1' });
    expect(p.desired).toBeUndefined();
    expect(p.target).toEqual({ nodeName: 'n1', policyName: 'workers', agentUrl: 'https://n1@10.0.0.1:9443', intervalMs: 90_000 });
    expect(p.deletion).toBeUndefined();
    expect(p.removeSchedule).toBe(false);
  });

  it.each([
    ['no attestation yet', []],
    ['an attestation under a third policy', [na('n1', 'other')]],
  ])('runs no rounds for a conflicted node with %s', (_n, nas) => {
    const p = planNode('n1', inputs({ policies: [zoneA, workers], nodes: [node('n1', { role: 'worker', zone: 'a' })], nodeAttestations: nas }), opts);
    expect(p.conflict?.policyNames).toEqual(['workers', 'zone-a']);
    expect(p.target).toBeUndefined();
    expect(p.removeSchedule).toBe(true);
  });

  const withStatus = (status: NonNullable<NodeAttestation['status']>): NodeAttestation => ({ ...na('n1', 'workers'), status });
  it.each([
    ['Untrusted', { phase: 'Untrusted' }],
    ['Unreachable', { phase: 'Unreachable' }],
    ['tainted', { phase: 'Registered', enforcement: { tainted: true } }],
    ['cordoned', { phase: 'Trusted', enforcement: { cordoned: true } }],
    ['credentials revoked', { phase: 'Pending', enforcement: { credentialsRevoked: true } }],
  ] as const)('holds (does not delete) the attestation of a node that left the selector while %s', (_n, status) => {
    const p = planNode('n1', inputs({ policies: [workers], nodes: [node('n1', { role: 'db' })], nodeAttestations: [withStatus(status)] }), opts);
    expect(p.held).toEqual({ name: 'n1', nodeName: 'n1', policyName: 'workers' });
    expect(p.deletion).toBeUndefined();
    expect(p.desired).toBeUndefined();
    expect(p.removeSchedule).toBe(true);
  });

  it('holds an enforced node that relabelled itself into another policy, until its own policy is gone', () => {
    const audit = policy('audit', { matchLabels: { role: 'db' } });
    const enforced = withStatus({ phase: 'Untrusted', enforcement: { tainted: true } });
    const moved = planNode('n1', inputs({ policies: [workers, audit], nodes: [node('n1', { role: 'db' })], nodeAttestations: [enforced] }), opts);
    expect(moved.held).toEqual({ name: 'n1', nodeName: 'n1', policyName: 'workers' });
    expect(moved.desired).toBeUndefined();
    const healthy = planNode('n1', inputs({ policies: [workers, audit], nodes: [node('n1', { role: 'db' })], nodeAttestations: [withStatus({ phase: 'Trusted' })] }), opts);
    expect(healthy.desired?.policyName).toBe('audit');
    const ownGone = planNode('n1', inputs({ policies: [audit], nodes: [node('n1', { role: 'db' })], nodeAttestations: [enforced] }), opts);
    expect(ownGone.desired?.policyName).toBe('audit');
  });

  it.each([
    ['the node is deleted', [], [workers], 'node-deleted'],
    ['the policy is deleted', [node('n1', { role: 'worker' })], [], 'policy-deleted'],
  ] as const)('deletes an enforced attestation when %s (an administrator acted)', (_n, nodes, policies, reason) => {
    const p = planNode('n1', inputs({ policies: [...policies], nodes: [...nodes], nodeAttestations: [withStatus({ phase: 'Untrusted', enforcement: { tainted: true } })] }), opts);
    expect(p.deletion?.reason).toBe(reason);
    expect(p.held).toBeUndefined();
  });

  it('deletes the attestation of a Trusted node without enforcement that left the selector', () => {
    const p = planNode('n1', inputs({ policies: [workers], nodes: [node('n1', { role: 'db' })], nodeAttestations: [withStatus({ phase: 'Trusted', enforcement: { tainted: false, cordoned: false, credentialsRevoked: false } })] }), opts);
    expect(p.deletion?.reason).toBe('unselected');
  });

  it.each([
    ['node deleted', [], 'node-deleted'],
    ['node being deleted', [node('n1', { role: 'worker' }, '10.0.0.1', true)], 'node-deleted'],
    ['node left the selector', [node('n1', { role: 'db' })], 'unselected'],
  ] as const)('deletes the attestation when %s', (_n, nodes, reason) => {
    const p = planNode('n1', inputs({ policies: [workers], nodes: [...nodes], nodeAttestations: [na('n1', 'workers')] }), opts);
    expect(p.deletion).toEqual({ name: 'n1', nodeName: 'n1', policyName: 'workers', reason });
    expect(p.desired).toBeUndefined();
    expect(p.removeSchedule).toBe(true);
  });

  it('deletes with reason policy-deleted when the owning policy is gone', () => {
    const p = planNode('n1', inputs({ policies: [], nodes: [node('n1', { role: 'worker' })], nodeAttestations: [na('n1', 'workers')] }), opts);
    expect(p.deletion?.reason).toBe('policy-deleted');
  });

  it('treats a policy being deleted as absent', () => {
    const dying = { ...workers, metadata: { ...workers.metadata, deletionTimestamp: '2025-01-01T00:00:00Z' } };
    const p = planNode('n1', inputs({ policies: [dying], nodes: [node('n1', { role: 'worker' })], nodeAttestations: [na('n1', 'workers')] }), opts);
    expect(p.deletion?.reason).toBe('policy-deleted');
  });

  it('does nothing for an unmatched node without an attestation', () => {
    expect(planNode('n1', inputs({ policies: [workers], nodes: [node('n1')] }), opts)).toEqual({ nodeName: 'n1', removeSchedule: true });
  });

  it('desires the attestation but no schedule while the node has no InternalIP', () => {
    const p = planNode('n1', inputs({ policies: [workers], nodes: [node('n1', { role: 'worker' }, null)] }), opts);
    expect(p.desired?.policyName).toBe('workers');
    expect(p.target).toBeUndefined();
    expect(p.removeSchedule).toBe(true);
  });

  it('moves an attestation to the policy that now selects the node', () => {
    const p = planNode('n1', inputs({ policies: [zoneA], nodes: [node('n1', { zone: 'a' })], nodeAttestations: [na('n1', 'workers')] }), opts);
    expect(p.desired?.policyName).toBe('zone-a');
    expect(p.target?.intervalMs).toBe(30_000);
    expect(p.deletion).toBeUndefined();
  });
});

describe('plan', () => {
  it('covers nodes and orphaned attestations and counts policy matches and conflicts', () => {
    const a = policy('a', { matchLabels: { role: 'worker' } });
    const b = policy('b', { matchLabels: { zone: 'x' } });
    const result = plan({
      policies: [a, b],
      nodes: [node('w1', { role: 'worker' }), node('w2', { role: 'worker', zone: 'x' }), node('x1', { zone: 'x' }), node('o1')],
      nodeAttestations: [na('gone', 'a')],
    }, opts);
    expect(result.nodes.map((n) => n.nodeName)).toEqual(['gone', 'o1', 'w1', 'w2', 'x1']);
    expect(result.policies).toEqual({ a: { matchedNodes: 1, conflictingNodes: ['w2'] }, b: { matchedNodes: 1, conflictingNodes: ['w2'] } });
    expect(result.nodes[0]!.deletion?.reason).toBe('node-deleted');
  });

  // An array whose find throws: plan() and planNode with lookups must not scan per node (O(nodes²) at 10,000 nodes).
  const noScan = <T>(xs: T[]): T[] => Object.assign([...xs], { find: (): never => { throw new Error('list scanned'); } });

  it('looks nodes and attestations up by name instead of scanning the lists for each node', () => {
    const a = policy('a', { matchLabels: { role: 'worker' } });
    const result = plan({
      policies: [a],
      nodes: noScan([node('w1', { role: 'worker' }), node('w2', { role: 'worker' }, '10.0.0.2', true)]),
      nodeAttestations: noScan([na('w1', 'a'), na('w2', 'a'), na('gone', 'a')]),
    }, opts);
    expect(result.nodes.map((n) => [n.nodeName, n.desired?.policyName ?? n.deletion?.reason])).toEqual([['gone', 'node-deleted'], ['w1', 'a'], ['w2', 'node-deleted']]);
    expect(result.policies).toEqual({ a: { matchedNodes: 1, conflictingNodes: [] } });
  });

  it('planNode uses the lookups it is given', () => {
    const a = policy('a', {});
    const w1 = node('w1');
    const p = planNode('w1', { policies: [a], nodes: noScan([]), nodeAttestations: noScan([]), node: (n) => (n === 'w1' ? w1 : undefined), nodeAttestation: () => undefined }, opts);
    expect(p.target?.agentUrl).toBe('https://w1@10.0.0.1:9443');
  });
});

describe('scheduledTargets', () => {
  const workers = policy('workers', { matchLabels: { role: 'worker' } }, '10s');
  const zoneA = policy('zone-a', { matchLabels: { zone: 'a' } });
  const registered = (nodeName: string, policyName: string): NodeAttestation => ({
    ...na(nodeName, policyName), status: { identity: { akPublic: 'AAAA', akName: '000b00', ekCertificateFingerprint: 'ff' } },
  });

  it('schedules registered attestations whose node its policy selects (alone, or in a conflict) and that have an address', () => {
    const inputs: PlanInputs = {
      policies: [workers, zoneA],
      nodes: [
        node('ok', { role: 'worker' }, '10.0.0.1'), node('unregistered', { role: 'worker' }), node('no-ip', { role: 'worker' }, null),
        node('conflict', { role: 'worker', zone: 'a' }), node('moved', { zone: 'a' }), node('deleting', { role: 'worker' }, '10.0.0.2', true),
      ],
      nodeAttestations: [
        registered('ok', 'workers'), na('unregistered', 'workers'), registered('no-ip', 'workers'), registered('conflict', 'workers'),
        registered('moved', 'workers'), registered('deleting', 'workers'), registered('node-gone', 'workers'),
      ],
    };
    expect(scheduledTargets(inputs, opts)).toEqual([
      { nodeName: 'ok', policyName: 'workers', agentUrl: 'https://ok@10.0.0.1:9443', intervalMs: 10_000 },
      { nodeName: 'conflict', policyName: 'workers', agentUrl: 'https://conflict@10.0.0.1:9443', intervalMs: 10_000 },
    ]);
  });
});

describe('helpers', () => {
  it.each([['30s', 30_000], ['1m30s', 90_000], ['500ms', 500], ['1.5h', 5_400_000], ['1h', 3_600_000], ['', undefined], ['10', undefined], ['5d', undefined], [undefined, undefined]])(
    'parseDurationMs(%p) = %p', (text, ms) => expect(parseDurationMs(text)).toBe(ms));
  it('brackets IPv6 agent addresses', () => {
    expect(agentUrlFor(node('n', {}, 'fd00::1'), 9443)).toBe('https://n@[fd00::1]:9443');
    expect(agentUrlFor(node('n', {}, null), 9443)).toBeUndefined();
  });
});
