import type { NodeView, Taint } from '../status/resources.js';
import { nodeEditFor, withCordon, withoutCordon, withTaint, withoutTaint } from './taints.js';

const now = new Date('2025-01-01T00:00:00Z');
const foreign: Taint = { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' };
const foreign2: Taint = { key: 'example.com/gpu', value: 'true', effect: 'NoExecute' };
const ours = 'attestation.nodeward.io/untrusted';

describe('withTaint / withoutTaint', () => {
  it.each<[string, Taint[] | undefined, Taint[] | undefined]>([
    ['adds to no taints', undefined, [{ key: ours, effect: 'NoExecute', timeAdded: now.toISOString() }]],
    ['adds after foreign taints, preserving them', [foreign, foreign2], [foreign, foreign2, { key: ours, effect: 'NoExecute', timeAdded: now.toISOString() }]],
    ['no change when already present with the effect', [foreign, { key: ours, effect: 'NoExecute' }], undefined],
    ['replaces our taint with another effect', [{ key: ours, effect: 'NoSchedule' }, foreign], [foreign, { key: ours, effect: 'NoExecute', timeAdded: now.toISOString() }]],
    ['collapses duplicates of our key', [{ key: ours, effect: 'NoExecute' }, { key: ours, effect: 'NoExecute' }], [{ key: ours, effect: 'NoExecute', timeAdded: now.toISOString() }]],
  ])('withTaint %s', (_n, input, expected) => {
    expect(withTaint(input, ours, 'NoExecute', now)).toEqual(expected);
  });

  it.each<[string, Taint[] | undefined, Taint[] | undefined]>([
    ['no change without taints', undefined, undefined],
    ['no change with only foreign taints', [foreign, foreign2], undefined],
    ['removes ours only', [foreign, { key: ours, effect: 'NoSchedule' }, foreign2], [foreign, foreign2]],
    ['removes every copy of ours', [{ key: ours, effect: 'NoSchedule' }, { key: ours, effect: 'NoExecute' }], []],
  ])('withoutTaint %s', (_n, input, expected) => {
    expect(withoutTaint(input, ours)).toEqual(expected);
  });

  it('does not mutate its input', () => {
    const input = [foreign, { key: ours, effect: 'NoSchedule' }];
    const copy = structuredClone(input);
    withTaint(input, ours, 'NoExecute', now);
    withoutTaint(input, ours);
    expect(input).toEqual(copy);
  });
});

describe('withCordon / withoutCordon', () => {
  const n = (unschedulable: boolean, ourMark: boolean): NodeView => ({
    metadata: { name: 'n', annotations: ourMark ? { 'attestation.nodeward.io/cordoned-by': 'nodeward' } : { other: 'x' } },
    spec: { unschedulable },
  });
  it.each([
    ['cordons a schedulable node and marks it', n(false, false), { unschedulable: true, annotations: { 'attestation.nodeward.io/cordoned-by': 'nodeward' } }],
    ['leaves an admin cordon alone (no mark)', n(true, false), undefined],
    ['no change when we already cordoned it', n(true, true), undefined],
  ])('withCordon %s', (_n, node, expected) => expect(withCordon(node)).toEqual(expected));
  it.each([
    ['uncordons a node we cordoned', n(true, true), { unschedulable: false, annotations: { 'attestation.nodeward.io/cordoned-by': null } }],
    ['never uncordons an admin cordon', n(true, false), undefined],
    ['drops a stale mark of ours', n(false, true), { unschedulable: false, annotations: { 'attestation.nodeward.io/cordoned-by': null } }],
    ['no change on a schedulable unmarked node', n(false, false), undefined],
  ])('withoutCordon %s', (_n, node, expected) => expect(withoutCordon(node)).toEqual(expected));
});

describe('nodeEditFor', () => {
  const node = (taints: Taint[], unschedulable?: boolean, annotations: Record<string, string> = {}): NodeView =>
    ({ metadata: { name: 'n', annotations }, spec: { taints, ...(unschedulable === undefined ? {} : { unschedulable }) } });
  const unreachable = 'attestation.nodeward.io/unreachable';
  const cordonedBy = { 'attestation.nodeward.io/cordoned-by': 'nodeward' };

  it('folds taint and cordon actions into one edit, each applied to the result of the ones before', () => {
    const r = nodeEditFor(node([foreign, { key: unreachable, effect: 'NoExecute' }]), [
      { kind: 'taint', op: 'apply', key: ours, effect: 'NoExecute' }, { kind: 'taint', op: 'lift', key: unreachable }, { kind: 'cordon', op: 'apply' },
    ], now);
    expect(r.changed.map((a) => `${a.kind}:${a.op}`)).toEqual(['taint:apply', 'taint:lift', 'cordon:apply']);
    expect(r.edit).toEqual({ taints: [foreign, { key: ours, effect: 'NoExecute', timeAdded: now.toISOString() }], unschedulable: true, annotations: cordonedBy });
  });

  it('is undefined when nothing changes, and lists only the actions that change something', () => {
    const lifts = [{ kind: 'taint', op: 'lift', key: ours }, { kind: 'taint', op: 'lift', key: unreachable }, { kind: 'cordon', op: 'lift' }] as const;
    expect(nodeEditFor(node([foreign]), lifts, now)).toEqual({ edit: undefined, changed: [] });
    expect(nodeEditFor(node([foreign], true), lifts, now)).toEqual({ edit: undefined, changed: [] });
    const r = nodeEditFor(node([foreign, { key: ours, effect: 'NoSchedule' }], true, cordonedBy), lifts, now);
    expect(r.changed.map((a) => a.kind)).toEqual(['taint', 'cordon']);
    expect(r.edit).toEqual({ taints: [foreign], unschedulable: false, annotations: { 'attestation.nodeward.io/cordoned-by': null } });
  });
});
