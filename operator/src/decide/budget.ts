import type { Failure, FailureId } from '@nodeward/attest';

/**
 * Whether enforcement may begin on a node now, under its policy's maxUnavailable budget: `admit`;
 * `hold` (the budget is spent: the node stays Untrusted and alerted, not enforced); `defer` (this
 * replica does not lead, and only the leader spends the budget, so two replicas never both take the
 * last slot: the leader's reconcile decides).
 */
export type Admission = { verdict: 'admit' } | { verdict: 'hold'; message: string } | { verdict: 'defer' };

/**
 * The failures that bypass the budget. The budget protects against a bad policy push or a fleet-wide
 * change (a new kernel, a runtime policy missing a package): those fail what a node *runs* (ima.*,
 * bootlog.*, verity.*, quote.pcr_* against expected values) on many nodes at once. A failure of *who*
 * answers is no policy push: another machine impersonating the node or a replayed quote (wrong signing
 * key, bad signature, nonce mismatch), a changed or borrowed TPM identity (identity.*). Those are an
 * attack on that node and are enforced whatever the budget, as is an IdentityChanged outcome.
 */
const BYPASS_PREFIXES = ['identity.'] as const;
const BYPASS_IDS: ReadonlySet<FailureId> = new Set<FailureId>(['quote.wrong_signing_key', 'quote.bad_signature', 'quote.nonce_mismatch']);

export function bypassesBudget(failures: readonly Failure[]): boolean {
  return failures.some((f) => BYPASS_IDS.has(f.id) || BYPASS_PREFIXES.some((p) => f.id.startsWith(p)));
}

/**
 * maxUnavailable as a node count, as a PodDisruptionBudget reads it: an integer, or a percentage of the
 * nodes the policy attests, rounded up (so 1% of 10 nodes is 1, never 0 while there are nodes).
 * Undefined when the policy has no budget.
 */
export function maxUnavailableNodes(maxUnavailable: number | string | undefined, total: number): number | undefined {
  if (maxUnavailable === undefined) return undefined;
  if (typeof maxUnavailable === 'number') return maxUnavailable;
  const m = /^([0-9]+)%$/.exec(maxUnavailable);
  if (m === null) return undefined; // the CRD admits only N%: anything else is no budget (enforce: fail closed)
  return Math.ceil((total * Number(m[1])) / 100);
}

/** Whether one more node may be enforced when `enforced` others already are. Pure. */
export function admission(maxUnavailable: number | string | undefined, total: number, enforced: readonly string[]): Admission {
  const max = maxUnavailableNodes(maxUnavailable, total);
  if (max === undefined || enforced.length < max) return { verdict: 'admit' };
  const names = enforced.slice(0, 10).join(', ') + (enforced.length > 10 ? ', …' : '');
  return { verdict: 'hold', message: `held by maxUnavailable ${String(maxUnavailable)} (${max} of ${total} nodes): ${enforced.length} already enforced (${names})` };
}

/**
 * The policy's BudgetExceeded condition from its held nodes: True (NodesHeld, naming them) while the
 * budget holds any, False otherwise. Pure.
 */
export function budgetCondition(maxUnavailable: number | string | undefined, held: readonly string[]): { type: 'BudgetExceeded'; status: 'True' | 'False'; reason: 'NodesHeld' | 'WithinBudget'; message: string } {
  if (held.length === 0) {
    return { type: 'BudgetExceeded', status: 'False', reason: 'WithinBudget', message: maxUnavailable === undefined ? 'no maxUnavailable budget' : `no node held by maxUnavailable ${String(maxUnavailable)}` };
  }
  const names = held.slice(0, 20).join(', ') + (held.length > 20 ? ', …' : '');
  return { type: 'BudgetExceeded', status: 'True', reason: 'NodesHeld', message: `${held.length} failing nodes held (Untrusted, not enforced) by maxUnavailable ${String(maxUnavailable)}: ${names}` };
}
