// Object and list metadata, structurally compatible with client-node's V1ObjectMeta and V1ListMeta,
// so that operator/src/api/ stays free of Kubernetes client imports.

/** An owner of an object (metav1.OwnerReference). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/**
 * metav1.ObjectMeta, the fields Nodeward reads or writes. Timestamps are typed Date as in client-node
 * (which deserializes them); objects read as plain JSON (kubernetes-fluent-client) carry RFC 3339 strings.
 */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: Date;
  deletionTimestamp?: Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

/** metav1.ListMeta. */
export interface ListMeta {
  resourceVersion?: string;
  _continue?: string;
  remainingItemCount?: number;
}
