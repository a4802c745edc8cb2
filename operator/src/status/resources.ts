/**
 * The shapes of the objects the control plane reads and writes, narrowed to the fields it uses.
 * The CRD schemas in crds/*.yaml are the source of truth; these mirror them (and the core Node /
 * ConfigMap fields we read) so the pure planner and decide functions need no Kubernetes client.
 */
export const GROUP = 'attestation.nodeward.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string | Date;
}

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: SelectorOperator; values?: string[] }[];
}

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
export interface EnforcementSpec {
  taint?: { effect: TaintEffect };
  cordon?: boolean;
  revokeCredentials?: boolean;
}
export interface ConfigMapRef {
  name: string;
  namespace: string;
}

export interface NodeAttestationPolicySpec {
  nodeSelector: LabelSelector;
  interval?: string;
  tpm: {
    hashAlg?: 'sha1' | 'sha256' | 'sha384';
    pcrs: number[];
    ekTrustAnchors?: { configMapRef: ConfigMapRef; key?: string };
    expectedPcrs?: Record<string, string>;
    akKeyType?: 'rsa' | 'ecc';
  };
  measuredBoot?: { secureBootRequired?: boolean; allowedBootDigests?: string[]; requiredKernelCmdline?: string[] };
  ima?: { runtimePolicy: { configMapRef: ConfigMapRef; key: string } };
  verity?: { devices: { name: string; allowedRootHashes: string[] }[] };
  onFailure?: EnforcementSpec;
  onUnreachable?: EnforcementSpec & { afterMisses?: number };
  recovery?: 'Automatic' | 'Manual';
  mode?: 'Enforce' | 'Audit';
}

export interface NodeAttestationPolicy {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: NodeAttestationPolicySpec;
  status?: { observedGeneration?: number; matchedNodes?: number; conditions?: Condition[] };
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';
/** metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export type Phase = 'Pending' | 'Registered' | 'Trusted' | 'Untrusted' | 'Unreachable';

export interface Identity {
  ekCertificateFingerprint: string;
  akName: string;
  /** base64 TPM2B_PUBLIC of the AK, so any replica can verify quotes. */
  akPublic?: string;
  registeredAt?: string;
}

/** The enforcement the operator intends for the node; recorded before acting, converged after. */
export interface EnforcementStatus {
  tainted?: boolean;
  cordoned?: boolean;
  credentialsRevoked?: boolean;
}

export interface NodeAttestationStatus {
  phase?: Phase;
  conditions?: Condition[];
  identity?: Identity;
  lastAttestationTime?: string;
  lastSuccessTime?: string;
  lastFailure?: { reason: string; detail?: string };
  enforcement?: EnforcementStatus;
  consecutiveMisses?: number;
  observedGeneration?: number;
}

export interface NodeAttestation {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta & { ownerReferences?: OwnerReference[] };
  spec: { nodeName: string; policyName: string };
  status?: NodeAttestationStatus;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string | Date;
}

export interface NodeView {
  metadata: ObjectMeta;
  spec?: { taints?: Taint[]; unschedulable?: boolean };
  status?: { addresses?: { type: string; address: string }[] };
}

export interface ConfigMapView {
  metadata: ObjectMeta;
  data?: Record<string, string>;
}

/** Annotations the operator reads or writes. */
export const ANNOTATION = {
  approveIdentity: `${GROUP}/approve-identity`,
  recover: `${GROUP}/recover`,
  cordonedBy: `${GROUP}/cordoned-by`,
} as const;
export const TAINT_UNTRUSTED = `${GROUP}/untrusted`;
export const TAINT_UNREACHABLE = `${GROUP}/unreachable`;
export const FIELD_MANAGER = 'nodeward';
