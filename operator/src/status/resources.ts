/**
 * The shapes of the objects the control plane reads and writes, narrowed to the fields it uses.
 * The CRD schemas in crds/*.yaml are the source of truth: the CRD types come from the generated
 * api/v1alpha1.ts; the core Node / ConfigMap fields we read are here, so the pure planner and decide
 * functions need no Kubernetes client.
 */
import type * as api from '../api/v1alpha1.js';
import type { ObjectMeta as ApiObjectMeta, OwnerReference } from '../api/meta.js';
import { GROUP } from '../api/v1alpha1.js';

// The CRD types are generated from crds/*.yaml (operator/src/api); these are the operator's views of
// them as read back from the API server, where metadata.name and spec are always present.
export { GROUP, VERSION, API_VERSION } from '../api/v1alpha1.js';
export type {
  LabelSelector, LabelSelectorOperator as SelectorOperator, TaintEffect, ConfigMapRef, NodeAttestationPolicySpec,
  Condition, ConditionStatus, NodeAttestationStatus,
} from '../api/v1alpha1.js';
export type Phase = api.NodeAttestationPhase;
export type Identity = api.TpmIdentity;
export type EnforcementStatus = api.EnforcementState;
export type EnforcementSpec = api.FailureActions;
export type DrainProgress = api.DrainProgress;

/** metav1.ObjectMeta as read back: the name is always there, and timestamps may be RFC 3339 strings (plain JSON). */
export type ObjectMeta = Pick<ApiObjectMeta, 'namespace' | 'uid' | 'resourceVersion' | 'generation' | 'labels' | 'annotations'>
  & { name: string; deletionTimestamp?: string | Date };

export interface NodeAttestationPolicy {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: api.NodeAttestationPolicySpec;
  status?: api.NodeAttestationPolicyStatus;
}

export interface NodeAttestation {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta & { ownerReferences?: OwnerReference[] };
  spec: api.NodeAttestationSpec;
  status?: api.NodeAttestationStatus;
}

export type { OwnerReference } from '../api/meta.js';

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string | Date;
}

export interface NodeView {
  metadata: ObjectMeta;
  spec?: { taints?: Taint[]; unschedulable?: boolean };
  /** conditions: only the ones the operator writes (NODE_CONDITION_TRUSTED); the kubelet's are not kept. */
  status?: { addresses?: { type: string; address: string }[]; conditions?: NodeCondition[] };
}

/** A Pod as the drain sees it. */
export interface PodView {
  namespace: string;
  name: string;
  /** The kinds of its controller owner references (DaemonSet pods are left in place). */
  ownerKinds: string[];
  /** A static pod's API mirror (annotation kubernetes.io/config.mirror): eviction cannot remove it. */
  mirror: boolean;
  /** Succeeded or Failed pods need no eviction. */
  phase?: string;
  /** deletionTimestamp is set: already evicted or deleted, terminating. */
  terminating: boolean;
}

/** A Node status condition (core v1 NodeCondition), as the operator writes and reads it. */
export interface NodeCondition {
  type: string;
  status: api.ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime?: string;
  lastHeartbeatTime?: string;
}

/**
 * The Node condition mirroring a node's attestation, for schedulers and node-readiness tooling that do
 * not know Nodeward. The NodeAttestation stays authoritative: the operator re-asserts this condition
 * whenever the Node changes (a node's kubelet can write its own Node status).
 */
export const NODE_CONDITION_TRUSTED = `${GROUP}/Trusted`;

export interface ConfigMapView {
  metadata: ObjectMeta;
  data?: Record<string, string>;
  /** key → base64, as the API serves it (a gzip-compressed runtime policy is kept here). */
  binaryData?: Record<string, string>;
}

/** Annotations the operator reads or writes. */
export const ANNOTATION = {
  approveIdentity: `${GROUP}/approve-identity`,
  recover: `${GROUP}/recover`,
  cordonedBy: `${GROUP}/cordoned-by`,
} as const;
/** On every NodeAttestation: its node's round shard (shardLabelValue), what a follower's cache selects on. */
export const SHARD_LABEL = `${GROUP}/shard`;
export const TAINT_UNTRUSTED = `${GROUP}/untrusted`;
export const TAINT_UNREACHABLE = `${GROUP}/unreachable`;
export const FIELD_MANAGER = 'nodeward';
/** The field manager of status.drain, so the status writes of `nodeward` never own (and reset) drain progress. */
export const DRAIN_FIELD_MANAGER = 'nodeward-drain';
