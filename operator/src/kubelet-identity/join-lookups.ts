import type { Cluster } from '../kube/cluster.js';
import type { IdentityClaims } from '../registration/identity-claims.js';
import { trustAnchorsFrom } from '../registration/register-identity.js';
import type { ConfigMapView, NodeAttestationPolicy } from '../status/resources.js';
import type { JoinLookups, NameBinding } from './join-request.js';

/** The caches join verification reads. */
export interface JoinCaches {
  policies(): NodeAttestationPolicy[];
  configMap(namespace: string, name: string): ConfigMapView | undefined;
}

/**
 * JoinLookups over the informer caches (policies, trust anchor ConfigMaps) and live reads for what
 * decides an identity (the Node and its NodeAttestation, the identity claims): a cache may lag.
 */
export function joinLookups(caches: JoinCaches, cluster: Pick<Cluster, 'getNode' | 'getNodeAttestation'>, claims: Pick<IdentityClaims, 'otherHolder'>): JoinLookups {
  return {
    policies: () => caches.policies(),
    trustAnchors: (policy) => {
      const ref = policy.spec.tpm.ekTrustAnchors;
      if (ref === undefined) return undefined;
      return trustAnchorsFrom(policy.spec, caches.configMap(ref.configMapRef.namespace, ref.configMapRef.name)?.data);
    },
    nameBinding: async (nodeName): Promise<NameBinding> => {
      if (await cluster.getNode(nodeName) === undefined) return { kind: 'Free' };
      const fingerprint = (await cluster.getNodeAttestation(nodeName))?.status?.identity?.ekCertificateFingerprint;
      return fingerprint === undefined || fingerprint === '' ? { kind: 'Unbound' } : { kind: 'Bound', ekCertificateFingerprint: fingerprint };
    },
    claimHolder: (nodeName, id) => claims.otherHolder(nodeName, id),
  };
}
