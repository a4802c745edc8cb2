import type { Condition, ConditionStatus } from './resources.js';

/** Condition types of a NodeAttestation (STYLE: CamelCase). */
export const CONDITION = {
  QuoteVerified: 'QuoteVerified',
  ImaVerified: 'ImaVerified',
  BootLogVerified: 'BootLogVerified',
  VerityVerified: 'VerityVerified',
  Trusted: 'Trusted',
  Enforced: 'Enforced',
  Registered: 'Registered',
  PolicyConflict: 'PolicyConflict',
  /** The node left its policy's selector while Untrusted or enforced; enforcement kept until an administrator acts. */
  LeftPolicy: 'LeftPolicy',
  /** Policy condition: failing nodes are held, not enforced, by the policy's maxUnavailable budget. */
  BudgetExceeded: 'BudgetExceeded',
} as const;
export type ConditionType = (typeof CONDITION)[keyof typeof CONDITION];

/** Condition reasons (machine-readable, CamelCase). */
export const REASON = {
  Verified: 'Verified',
  VerificationFailed: 'VerificationFailed',
  NotChecked: 'NotChecked',
  AttestationPassed: 'AttestationPassed',
  AttestationFailed: 'AttestationFailed',
  AgentUnreachable: 'AgentUnreachable',
  IdentityChanged: 'IdentityChanged',
  AwaitingManualRecovery: 'AwaitingManualRecovery',
  AwaitingRegistration: 'AwaitingRegistration',
  Registered: 'Registered',
  RegistrationFailed: 'RegistrationFailed',
  ActionsApplied: 'ActionsApplied',
  NoActions: 'NoActions',
  AuditOnly: 'AuditOnly',
  MultiplePolicies: 'MultiplePolicies',
  RoundsStale: 'RoundsStale',
  LeftPolicyWhileEnforced: 'LeftPolicyWhileEnforced',
  Selected: 'Selected',
  /** Recovery waits for more passing rounds in a row (the policy's recoverAfterPasses). */
  AwaitingConsecutivePasses: 'AwaitingConsecutivePasses',
  /** Enforcement held by the policy's maxUnavailable budget. */
  HeldByBudget: 'HeldByBudget',
  /** Policy: nodes held by the budget (BudgetExceeded True), or none (False). */
  NodesHeld: 'NodesHeld',
  WithinBudget: 'WithinBudget',
} as const;

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * Set one condition in a list, returning a new list (kubebuilder meta.SetStatusCondition):
 * lastTransitionTime changes only when the status changes; reason, message and
 * observedGeneration are always updated. Order is kept; a new type is appended.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === input.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    ...input,
    lastTransitionTime: prev !== undefined && prev.status === input.status ? prev.lastTransitionTime : now.toISOString(),
    ...(observedGeneration === undefined ? {} : { observedGeneration }),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** Set several conditions in order. */
export function setConditions(
  conditions: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  return inputs.reduce<Condition[]>((acc, c) => setCondition(acc, c, observedGeneration, now), [...(conditions ?? [])]);
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Whether two condition lists say the same thing (ignores order). */
export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((c) => {
    const d = findCondition(y, c.type);
    return (
      d !== undefined && d.status === c.status && d.reason === c.reason && d.message === c.message &&
      d.lastTransitionTime === c.lastTransitionTime && d.observedGeneration === c.observedGeneration
    );
  });
}
