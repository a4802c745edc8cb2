import type {
  ConfigMapView, DrainProgress, NodeAttestation, NodeAttestationPolicy, NodeAttestationStatus, NodeCondition, NodeView, OwnerReference, PodView,
} from '../status/resources.js';

/**
 * What the control plane needs from the API server. Implemented by KubeCluster (client-node,
 * field manager `nodeward`, SSA); defined here without importing a client so reconcile/,
 * enforce/, registration/ and status/ depend only on this interface (and tests fake it).
 * Every method throws only KubeError.
 */
export interface Cluster {
  /** SSA of a NodeAttestation's spec, owner reference and shard label (SHARD_LABEL). */
  applyNodeAttestation(na: { name: string; nodeName: string; policyName: string; ownerReference: OwnerReference; shard: string }): Promise<void>;
  /** SSA of the whole status we manage, via the /status subresource. */
  applyNodeAttestationStatus(name: string, status: NodeAttestationStatus): Promise<void>;
  /** Idempotent: a missing object is not an error. */
  deleteNodeAttestation(name: string): Promise<void>;
  /** Set (string) or remove (null) annotations on a NodeAttestation (merge patch). */
  annotateNodeAttestation(name: string, annotations: Record<string, string | null>): Promise<void>;
  applyPolicyStatus(name: string, status: NonNullable<NodeAttestationPolicy['status']>): Promise<void>;

  getNodeAttestation(name: string): Promise<NodeAttestation | undefined>;
  getNode(name: string): Promise<NodeView | undefined>;
  /**
   * Read-modify-write of a Node with optimistic concurrency (resourceVersion), retried on 409.
   * `edit` returns the changes to make to the fresh node, or undefined for none; resolves true when
   * something was written.
   */
  editNode(name: string, edit: (node: NodeView) => NodeEdit | undefined): Promise<boolean>;

  /**
   * Set one condition in a Node's status (a strategic merge patch of nodes/status keyed by type: the
   * kubelet's conditions are untouched). Resolves the Node's new resourceVersion (undefined: no such Node).
   */
  patchNodeCondition(name: string, condition: NodeCondition): Promise<string | undefined>;

  createEvent(event: ClusterEvent): Promise<void>;

  getSecret(namespace: string, name: string): Promise<{ data: Record<string, string>; annotations: Record<string, string>; resourceVersion?: string } | undefined>;
  /** Create; resolves false if it already exists (the existing one wins). */
  createSecret(namespace: string, name: string, data: Record<string, string>, meta?: { labels?: Record<string, string>; annotations?: Record<string, string> }): Promise<boolean>;
  /** SSA of the secret's data (string values, stored base64 by the API server). */
  applySecret(namespace: string, name: string, data: Record<string, string>, meta?: { labels?: Record<string, string>; annotations?: Record<string, string> }): Promise<void>;
  /**
   * Idempotent; resolves true when something was deleted. With `resourceVersion`, deletes only that
   * version (a newer one, or none, resolves false): a compare-and-delete.
   */
  deleteSecret(namespace: string, name: string, resourceVersion?: string): Promise<boolean>;

  getConfigMap(namespace: string, name: string): Promise<ConfigMapView | undefined>;
  applyConfigMap(namespace: string, name: string, data: Record<string, string>): Promise<void>;
  /**
   * Set (string) or remove (null) keys of a ConfigMap's data with one merge patch, leaving the other
   * keys as they are (other writers' keys included); creates the ConfigMap when it is missing.
   * Resolves the ConfigMap as written.
   */
  mergeConfigMapData(namespace: string, name: string, data: Record<string, string | null>): Promise<ConfigMapView>;
}

/** A change to a Node: any field left undefined is untouched; annotation null removes it. */
export interface NodeEdit {
  taints?: NonNullable<NodeView['spec']>['taints'];
  unschedulable?: boolean;
  annotations?: Record<string, string | null>;
}

export interface ClusterEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** The objects the Event is about; one Event is created for each. */
  involved: { kind: 'Node' | 'NodeAttestation' | 'NodeAttestationPolicy'; name: string; uid?: string }[];
  /**
   * A stable id (lowercase DNS label characters): the Event is created at most once per involved
   * object, and posting it again is a no-op, so it can be posted again after a crash.
   */
  id?: string;
}

/** How an eviction request ended: done (201), refused now by a PodDisruptionBudget (429), or the pod is gone (404). */
export type EvictionResult = 'evicted' | 'blocked' | 'gone';

/** What draining a node needs from the API server (the drain action only). Every method throws only KubeError. */
export interface Pods {
  /** The pods bound to a node (field selector spec.nodeName). */
  listPodsOnNode(nodeName: string): Promise<PodView[]>;
  /** POST pods/{name}/eviction (policy/v1): the API server checks the pod's PodDisruptionBudgets. */
  evictPod(namespace: string, name: string): Promise<EvictionResult>;
  /** SSA of a NodeAttestation's status.drain under its own field manager; undefined removes it. */
  applyDrainStatus(name: string, drain: DrainProgress | undefined): Promise<void>;
}
