import type { PlannedEvent } from '../decide/decide-actions.js';
import { findCondition, type ConditionInput } from '../status/conditions.js';
import type { Condition, NodeAttestationPolicy } from '../status/resources.js';
import { kubeletWritableSelectorKeys } from './kubelet-labels.js';
import type { RuntimePolicyLoad } from './round-context.js';
import type { TrustAnchorsLoad } from './trust-anchors.js';

/** Condition types of a NodeAttestationPolicy besides PolicyConflict. */
export const POLICY_CONDITION = {
  /** False when a node's kubelet can write a selector label, and so leave or join the policy itself. */
  SelectorProtected: 'SelectorProtected',
  /** False when the referenced runtime policy is missing or does not compile: no round runs, the nodes go Stale. */
  RuntimePolicyReady: 'RuntimePolicyReady',
  /** False when the EK trust anchors ConfigMap is missing, empty or holds a certificate that does not parse: no node registers. */
  TrustAnchorsReady: 'TrustAnchorsReady',
} as const;

/** The conditions saying whether a policy's references (ConfigMaps) are usable; False means fail closed. */
export const REFERENCE_CONDITIONS = [POLICY_CONDITION.RuntimePolicyReady, POLICY_CONDITION.TrustAnchorsReady] as const;

/** The policy's references that are missing or invalid, by its status conditions (every replica can tell). Pure. */
export function invalidReferences(policy: NodeAttestationPolicy): Condition[] {
  return REFERENCE_CONDITIONS.map((t) => findCondition(policy.status?.conditions, t)).filter((c): c is Condition => c?.status === 'False');
}

/**
 * The policy's selector and reference conditions, and a `PolicyInvalid` Warning Event for each
 * reference that has just become unusable (or unusable for another reason). Pure.
 */
export function policyConditions(policy: NodeAttestationPolicy, runtimePolicy: RuntimePolicyLoad, trustAnchors: TrustAnchorsLoad = { ok: true, certificates: 0 }): { conditions: ConditionInput[]; events: PlannedEvent[] } {
  const references = [runtimePolicyCondition(runtimePolicy), trustAnchorsCondition(trustAnchors)];
  const events = references.filter((c) => newlyBroken(policy, c)).map((c): PlannedEvent => ({ type: 'Warning', reason: 'PolicyInvalid', message: c.message }));
  return { conditions: [selectorCondition(policy), ...references], events };
}

function newlyBroken(policy: NodeAttestationPolicy, c: ConditionInput): boolean {
  const prev = findCondition(policy.status?.conditions, c.type);
  return c.status === 'False' && (prev?.status !== 'False' || prev.reason !== c.reason);
}

function selectorCondition(policy: NodeAttestationPolicy): ConditionInput {
  const writable = kubeletWritableSelectorKeys(policy.spec.nodeSelector);
  if (writable.length === 0) {
    return { type: POLICY_CONDITION.SelectorProtected, status: 'True', reason: 'RestrictedLabels', message: 'no selector label can be written by a node\'s kubelet' };
  }
  return {
    type: POLICY_CONDITION.SelectorProtected, status: 'False', reason: 'KubeletWritableLabels',
    message: `spec.nodeSelector: a node's kubelet can set or remove ${writable.join(', ')} on its own Node, and so join or leave this policy; `
      + 'select on labels under node-restriction.kubernetes.io/ (NodeRestriction lets only administrators set them)',
  };
}

function runtimePolicyCondition(load: RuntimePolicyLoad): ConditionInput {
  if (load.ok) return { type: POLICY_CONDITION.RuntimePolicyReady, status: 'True', reason: load.policy === undefined ? 'NotConfigured' : 'Compiled', message: '' };
  return {
    type: POLICY_CONDITION.RuntimePolicyReady, status: 'False', reason: load.reason,
    message: `${load.message}; no round runs, so the nodes leave Trusted (phase Stale) within the freshness window`,
  };
}

function trustAnchorsCondition(load: TrustAnchorsLoad): ConditionInput {
  if (load.ok) {
    return { type: POLICY_CONDITION.TrustAnchorsReady, status: 'True', reason: load.certificates === 0 ? 'NotConfigured' : 'Loaded', message: load.certificates === 0 ? '' : `${load.certificates} certificate(s)` };
  }
  return { type: POLICY_CONDITION.TrustAnchorsReady, status: 'False', reason: load.reason, message: `${load.message}; registrations under this policy fail until it is fixed (nodes already registered keep attesting)` };
}
