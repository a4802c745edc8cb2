import { admission, type Admission } from '../decide/budget.js';
import { enforcementBegun } from '../decide/decide-actions.js';
import type { EnforcementStatus, NodeAttestation, NodeAttestationPolicy } from '../status/resources.js';

/** The enforcement a NodeAttestation counts against its policy's budget with: the would-be one in Audit. */
export function budgetedEnforcement(na: NodeAttestation, policy: NodeAttestationPolicy): EnforcementStatus | undefined {
  return policy.spec.mode === 'Audit' ? na.status?.wouldEnforce : na.status?.enforcement;
}

/**
 * The leader's maxUnavailable ledger: how many of a policy's nodes have enforcement begun, from the
 * NodeAttestation cache, plus the nodes this leader admitted that the cache does not show yet (each
 * reserved for `reserveMs`). JavaScript runs one admission at a time, and only the leader admits, so
 * two nodes never both take the last slot. No I/O.
 */
export class EnforcementBudget {
  private readonly reserved = new Map<string, { policy: string; at: number }>();

  constructor(
    private readonly attestations: () => readonly NodeAttestation[],
    private readonly now: () => number = Date.now,
    private readonly reserveMs = 60_000,
  ) {}

  admit(policy: NodeAttestationPolicy, nodeName: string): Admission {
    const max = policy.spec.maxUnavailable;
    if (max === undefined) return { verdict: 'admit' };
    const name = policy.metadata.name;
    const mine = this.attestations().filter((na) => na.spec.policyName === name);
    const enforced = new Set(mine.filter((na) => na.spec.nodeName !== nodeName && enforcementBegun(budgetedEnforcement(na, policy))).map((na) => na.spec.nodeName));
    const now = this.now();
    for (const [node, r] of this.reserved) {
      if (now - r.at >= this.reserveMs) this.reserved.delete(node);
      else if (r.policy === name && node !== nodeName) enforced.add(node);
    }
    const a = admission(max, mine.length, [...enforced].sort());
    if (a.verdict === 'admit') this.reserved.set(nodeName, { policy: name, at: now });
    return a;
  }
}
