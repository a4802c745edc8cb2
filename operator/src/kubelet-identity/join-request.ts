import type { JoinIdentity } from '@nodeward/attest';
import type { NodeJoinRequestStatus } from '../api/v1alpha1.js';
import type { NodeAttestationPolicy } from '../status/resources.js';

export type { NodeJoinRequestStatus } from '../api/v1alpha1.js';

/** A NodeJoinRequest as read from the API server: spec from the joining machine (untrusted), status ours. */
export interface JoinRequestView {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion?: string;
  readonly spec: JoinIdentity;
  readonly status?: NodeJoinRequestStatus;
}

/** Who holds a node name today. */
export type NameBinding =
  /** No Node of that name: a new node. */
  | { readonly kind: 'Free' }
  /** A Node whose NodeAttestation registered a TPM (a re-join is allowed for that TPM only). */
  | { readonly kind: 'Bound'; readonly ekCertificateFingerprint: string }
  /** A Node with no registered TPM (a control-plane node, a node never attested): never joinable. */
  | { readonly kind: 'Unbound' };

/** What join verification reads from the cluster (the adapter implements it from caches and live reads). */
export interface JoinLookups {
  policies(): readonly NodeAttestationPolicy[];
  /** The PEM bundle(s) of a policy's EK trust anchors; undefined when missing. */
  trustAnchors(policy: NodeAttestationPolicy): string[] | undefined;
  nameBinding(nodeName: string): Promise<NameBinding>;
  /** The node, other than `nodeName`, holding a claim on this EK or AK (identity binding), if any. */
  claimHolder(nodeName: string, id: { ekCertificateFingerprint: string; akName: string }): Promise<string | undefined>;
}
