import { componentOf, type Component, type Failure, type FailureId } from '@nodeward/attest';
import type { NodeAttestationPolicySpec } from './resources.js';
import { CONDITION, REASON, type ConditionInput, type ConditionType } from './conditions.js';

/** The verdict condition each component's failures set False; none for failures outside a verdict. */
const COMPONENT_CONDITION = {
  quote: CONDITION.QuoteVerified,
  identity: CONDITION.QuoteVerified,
  ima: CONDITION.ImaVerified,
  bootlog: CONDITION.BootLogVerified,
  verity: CONDITION.VerityVerified,
  agent: undefined,
  policy: undefined,
  join: undefined,
  kubelet: undefined,
} as const satisfies Record<Component, ConditionType | undefined>;

/**
 * QuoteVerified / ImaVerified / BootLogVerified / VerityVerified from a verdict's failures. A check
 * the policy does not ask for is Unknown/NotChecked. Pure.
 */
export function verdictConditions(spec: Pick<NodeAttestationPolicySpec, 'ima' | 'measuredBoot' | 'verity'>, failures: readonly Failure[]): ConditionInput[] {
  const configured: Record<string, boolean> = {
    [CONDITION.QuoteVerified]: true,
    [CONDITION.ImaVerified]: spec.ima !== undefined,
    [CONDITION.BootLogVerified]: spec.measuredBoot !== undefined,
    [CONDITION.VerityVerified]: spec.verity !== undefined,
  };
  return Object.entries(configured).map(([type, on]): ConditionInput => {
    const mine = failures.filter((f) => COMPONENT_CONDITION[componentOf(f.id)] === type);
    if (mine.length > 0) return { type, status: 'False', reason: REASON.VerificationFailed, message: truncate(mine.map((f) => `${f.id}: ${f.message}`).join('; '), 1024) };
    if (!on) return { type, status: 'Unknown', reason: REASON.NotChecked, message: 'the policy does not require this check' };
    return { type, status: 'True', reason: REASON.Verified, message: '' };
  });
}

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** lastFailure: reason = the first failure id, detail = every id (truncated to the CRD's 4096). */
export function lastFailureOf(failures: readonly Failure[], fallbackId: FailureId): { reason: FailureId; detail: string } {
  const ids = failures.map((f) => f.id);
  return { reason: ids[0] ?? fallbackId, detail: truncate(ids.length > 0 ? ids.join(', ') : fallbackId, 4096) };
}
