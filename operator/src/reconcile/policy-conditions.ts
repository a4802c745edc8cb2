import type { PlannedEvent } from '../decide/decide-actions.js';
import { findCondition, type ConditionInput } from '../status/conditions.js';
import type { NodeAttestationPolicy } from '../status/resources.js';
import { kubeletWritableSelectorKeys } from './kubelet-labels.js';
import type { RuntimePolicyLoad } from './round-context.js';

/** Condition types of a NodeAttestationPolicy besides PolicyConflict. */
export const POLICY_CONDITION = {
  /** False when a node's kubelet can write a selector label, and so leave or join the policy itself. */
  SelectorProtected: 'SelectorProtected',
  /** False when the referenced runtime policy is missing or does not compile: rounds are skipped. */
  RuntimePolicyReady: 'RuntimePolicyReady',
} as const;

/**
 * The policy's selector and runtime-policy conditions, and the Warning Event for a runtime policy
 * that has just become unusable (rounds of its nodes are skipped, so they go Stale). Pure.
 */
export function policyConditions(policy: NodeAttestationPolicy, runtimePolicy: RuntimePolicyLoad): { conditions: ConditionInput[]; events: PlannedEvent[] } {
  const conditions = [selectorCondition(policy), runtimePolicyCondition(runtimePolicy)];
  const ready = conditions[1]!;
  const prev = findCondition(policy.status?.conditions, POLICY_CONDITION.RuntimePolicyReady);
  const newlyBroken = ready.status === 'False' && (prev?.status !== 'False' || prev.reason !== ready.reason);
  return { conditions, events: newlyBroken ? [{ type: 'Warning', reason: 'PolicyInvalid', message: ready.message }] : [] };
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
  return { type: POLICY_CONDITION.RuntimePolicyReady, status: 'False', reason: load.reason, message: `${load.message}; rounds are skipped and the nodes go Stale` };
}
