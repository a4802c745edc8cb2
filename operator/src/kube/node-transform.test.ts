import type { KubernetesObject } from '@kubernetes/client-node';
import { toNodeView } from './kube-cluster.js';
import { transformNode } from './node-transform.js';
import { realisticNode } from './testing/realistic-node.js';

const clone = <T>(o: T): T => JSON.parse(JSON.stringify(o)) as T;

function withManagedFields(): KubernetesObject {
  const n = clone(realisticNode('ip-10-0-1-17.eu-west-1.compute.internal', '10.0.1.17', { 'node-restriction.kubernetes.io/attest': 'true' }));
  n.metadata!.uid = 'b0c1e2d3-0000-4000-8000-000000000001';
  n.metadata!.resourceVersion = '123456';
  n.metadata!.creationTimestamp = new Date('2026-12-01T00:00:00Z');
  n.metadata!.annotations!['attestation.nodeward.io/cordoned-by'] = 'nodeward';
  n.metadata!.managedFields = [{ manager: 'kubelet', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:images': {}, 'f:conditions': {} } } }];
  n.spec!.taints = [{ key: 'attestation.nodeward.io/untrusted', effect: 'NoSchedule' }];
  n.spec!.unschedulable = true;
  n.status!.conditions!.push({ type: 'attestation.nodeward.io/Trusted', status: 'True', reason: 'Attested', message: 'attested', lastTransitionTime: new Date('2026-12-01T00:00:00Z') });
  return n;
}

describe('transformNode', () => {
  it('keeps exactly what the operator reads: the NodeView is the same before and after', () => {
    const full = withManagedFields();
    const slim = clone(full);
    transformNode(slim);
    expect(toNodeView(slim)).toEqual({ ...toNodeView(full as never), metadata: { ...toNodeView(full as never).metadata, annotations: { 'attestation.nodeward.io/cordoned-by': 'nodeward' } } });
    // The operator's own Node condition stays (it writes it only when it differs), the kubelet's go.
    expect((slim as { status?: { conditions?: { type: string }[] } }).status?.conditions?.map((c) => c.type)).toEqual(['attestation.nodeward.io/Trusted']);
    expect(slim.metadata).toEqual({
      name: full.metadata!.name, uid: full.metadata!.uid, resourceVersion: '123456', labels: full.metadata!.labels,
      annotations: { 'attestation.nodeward.io/cordoned-by': 'nodeward' },
    });
  });

  it('shrinks a realistic Node (50 images, conditions, labels, annotations) to under an eighth', () => {
    const full = withManagedFields();
    const slim = clone(full);
    transformNode(slim);
    const [before, after] = [JSON.stringify(full).length, JSON.stringify(slim).length];
    expect(before).toBeGreaterThan(10_000);
    expect(after).toBeLessThan(before / 8);
  });

  it('is idempotent and drops the annotations key when no annotation is ours', () => {
    const n = clone(realisticNode('n', '10.0.0.1'));
    transformNode(n);
    const once = clone(n);
    transformNode(n);
    expect(n).toEqual(once);
    expect(n.metadata).not.toHaveProperty('annotations');
    expect(n).toMatchObject({ spec: {}, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname' }, { type: 'InternalDNS' }] } });
  });
});
