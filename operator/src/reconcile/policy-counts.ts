import type { NodeAttestation, NodeAttestationPolicy, Phase } from '../status/resources.js';

/** The per-phase node counts of a policy's status (the TRUSTED, UNTRUSTED, UNREACHABLE, HELD, STALE columns). */
export type PolicyCounts = Required<Pick<NonNullable<NodeAttestationPolicy['status']>, 'trustedNodes' | 'untrustedNodes' | 'unreachableNodes' | 'staleNodes' | 'heldNodes'>>;

/**
 * Whether the blast-radius budget (maxUnavailable) holds the node's enforcement back. Nothing marks
 * that on a NodeAttestation yet; this is the one place that will read it.
 */
export function isHeldByBudget(_na: NodeAttestation): boolean {
  return false;
}

/** The count each phase adds to; the compiler checks every phase is listed. */
const COUNTED = {
  Trusted: 'trustedNodes', Untrusted: 'untrustedNodes', Unreachable: 'unreachableNodes', Stale: 'staleNodes',
  Pending: undefined, Registered: undefined, Conflict: undefined,
} as const satisfies Record<Phase, keyof PolicyCounts | undefined>;

/** Counts the policy's NodeAttestations by phase. O(NodeAttestations). Pure. */
export function policyCounts(policyName: string, attestations: readonly NodeAttestation[]): PolicyCounts {
  const counts: PolicyCounts = { trustedNodes: 0, untrustedNodes: 0, unreachableNodes: 0, staleNodes: 0, heldNodes: 0 };
  for (const na of attestations) {
    if (na.spec.policyName !== policyName) continue;
    if (isHeldByBudget(na)) counts.heldNodes += 1;
    const key = na.status?.phase === undefined ? undefined : COUNTED[na.status.phase];
    if (key !== undefined) counts[key] += 1;
  }
  return counts;
}

/** Whether a written status already has these counts. Pure. */
export function sameCounts(status: NonNullable<NodeAttestationPolicy['status']>, counts: PolicyCounts): boolean {
  return (Object.keys(counts) as (keyof PolicyCounts)[]).every((k) => status[k] === counts[k]);
}
