import type { V1ObjectMeta } from '@kubernetes/client-node';
import { GenericKind, RegisterKind, modelToGroupVersionKind } from 'kubernetes-fluent-client';
import {
  API_VERSION,
  GROUP,
  NodeAttestation,
  NodeAttestationPolicy,
  NodeAttestationPolicyResource,
  NodeAttestationResource,
  VERSION,
  type NodeAttestationPolicySpec,
  type ObjectMeta,
} from './index.js';

describe('the v1alpha1 API', () => {
  it('names the group, version and resources of the CRDs', () => {
    expect(API_VERSION).toBe(`${GROUP}/${VERSION}`);
    expect(NodeAttestationResource).toMatchObject({ group: GROUP, version: VERSION, kind: 'NodeAttestation', plural: 'nodeattestations', scope: 'Cluster' });
    expect(NodeAttestationPolicyResource).toMatchObject({ kind: 'NodeAttestationPolicy', plural: 'nodeattestationpolicies', shortNames: ['nap'] });
  });

  it('registers its classes with kubernetes-fluent-client', () => {
    RegisterKind(NodeAttestation, NodeAttestationResource);
    RegisterKind(NodeAttestationPolicy, NodeAttestationPolicyResource);
    expect(modelToGroupVersionKind('NodeAttestation')).toBe(NodeAttestationResource);
    expect(modelToGroupVersionKind('NodeAttestationPolicy')?.plural).toBe('nodeattestationpolicies');
  });

  it('is structurally compatible with the client libraries', () => {
    const fromClient: V1ObjectMeta = { name: 'node-a', generation: 2, creationTimestamp: new Date(0) };
    const meta: ObjectMeta = fromClient;
    const spec: NodeAttestationPolicySpec = { nodeSelector: {}, tpm: { pcrs: [0, 7] }, mode: 'Audit' };
    const policy: GenericKind = Object.assign(new NodeAttestationPolicy(), { apiVersion: API_VERSION, kind: 'NodeAttestationPolicy', metadata: meta, spec });
    expect(policy.metadata?.name).toBe('node-a');
  });
});
