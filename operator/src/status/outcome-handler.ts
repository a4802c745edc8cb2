import { decideActions, type Decision, type DecisionInput } from '../decide/decide-actions.js';
import type { EnforcementAction } from '../decide/actions.js';
import type { Cluster } from '../kube/cluster.js';
import type { Logger } from '../log.js';
import type { RoundOutcome, RoundOutcomeHandler } from '../ports.js';
import { CONDITION, REASON, findCondition, setConditions } from './conditions.js';
import type { NodeAttestation, NodeAttestationPolicy, NodeAttestationStatus } from './resources.js';
import { ANNOTATION } from './resources.js';
import { sameJson } from './same-json.js';
import { lastFailureOf, truncate, verdictConditions } from './verdict-conditions.js';

export interface StatusDeps {
  cluster: Pick<Cluster, 'applyNodeAttestationStatus' | 'createEvent' | 'annotateNodeAttestation'>;
  /** From the informer caches. */
  nodeAttestation: (nodeName: string) => NodeAttestation | undefined;
  policy: (name: string) => NodeAttestationPolicy | undefined;
  /**
   * Converge enforcement: the manager's leader-gated function (manager.whileLeading), so a follower
   * records the desired state and the leader acts on it.
   */
  enforce?: (na: NodeAttestation, actions: EnforcementAction[]) => Promise<void>;
  heartbeatMs: number;
  log: Logger;
  now?: () => Date;
}

/**
 * The decide inputs read from a NodeAttestation's status and annotations. `stale` is the caller's
 * freshness judgement (see decide/freshness.ts); a round's outcome is fresh by definition.
 */
export function currentState(na: NodeAttestation, stale = false): Parameters<typeof decideActions>[2] {
  const trusted = findCondition(na.status?.conditions, CONDITION.Trusted);
  return {
    conflict: findCondition(na.status?.conditions, CONDITION.PolicyConflict)?.status === 'True',
    stale,
    phase: na.status?.phase,
    enforcement: na.status?.enforcement,
    consecutiveMisses: na.status?.consecutiveMisses ?? 0,
    identityHold: trusted?.reason === REASON.IdentityChanged,
    recoverRequested: na.metadata.annotations?.[ANNOTATION.recover] === 'true',
    awaitingRecovery: trusted?.reason === REASON.AwaitingManualRecovery,
  };
}

/** The status after a decision (and, for rounds, the outcome's times and failures). Pure. */
export function nextStatus(na: NodeAttestation, policy: NodeAttestationPolicy, decision: Decision, outcome: RoundOutcome | undefined, now: Date): NodeAttestationStatus {
  const prev = na.status ?? {};
  const generation = na.metadata.generation;
  const verdictConds = outcome?.kind === 'verdict' ? verdictConditions(policy.spec, outcome.verdict.failures) : [];
  const phase = decision.phase === undefined ? {} : { phase: decision.phase };
  const status: NodeAttestationStatus = {
    ...prev,
    ...phase,
    conditions: setConditions(prev.conditions, [...verdictConds, ...decision.conditions], generation, now),
    enforcement: decision.enforcement,
    consecutiveMisses: decision.consecutiveMisses,
    observedGeneration: generation ?? prev.observedGeneration,
  };
  if (status.observedGeneration === undefined) delete status.observedGeneration;
  return outcome === undefined ? status : { ...status, ...outcomeFields(outcome) };
}

/** The round times and lastFailure an outcome sets. */
function outcomeFields(outcome: RoundOutcome): Pick<NodeAttestationStatus, 'lastAttestationTime' | 'lastSuccessTime' | 'lastFailure'> {
  const at = outcome.at.toISOString();
  switch (outcome.kind) {
    case 'verdict':
      return outcome.verdict.trusted
        ? { lastAttestationTime: at, lastSuccessTime: at }
        : { lastAttestationTime: at, lastFailure: lastFailureOf(outcome.verdict.failures, 'quote.verification_failed') };
    case 'identity-changed':
      return { lastAttestationTime: at, lastFailure: lastFailureOf(outcome.failures, 'identity.changed') };
    case 'unreachable':
      return { lastFailure: { reason: 'agent.unreachable', detail: truncate(outcome.error, 4096) } };
  }
}

/** Why a status is written: it is the first, a field other than the round times changed, or the heartbeat is due. */
export type StatusWriteReason = { why: 'first' } | { why: 'changed'; fields: string[] } | { why: 'heartbeat'; ageMs: number };

/**
 * Why `next` must be written over `prev`, or undefined when it can be skipped: nothing changed but
 * the round times, and the last written attestation time is within the heartbeat. Keeps
 * steady-state API writes near zero.
 */
export function statusWriteReason(prev: NodeAttestationStatus | undefined, next: NodeAttestationStatus, now: Date, heartbeatMs: number): StatusWriteReason | undefined {
  if (prev === undefined) return { why: 'first' };
  // Compared as JSON up to key order (the API server may return fields in another order).
  if (!sameJson(prev, next, ROUND_TIMES)) return { why: 'changed', fields: changedFields(prev, next) };
  const last = prev.lastAttestationTime === undefined ? 0 : Date.parse(prev.lastAttestationTime);
  const ageMs = now.getTime() - last;
  return ageMs < heartbeatMs ? undefined : { why: 'heartbeat', ageMs };
}

function changedFields(prev: NodeAttestationStatus, next: NodeAttestationStatus): string[] {
  const a = prev as Record<string, unknown>;
  const b = next as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((k) => !ROUND_TIMES.has(k) && !sameJson(a[k] ?? null, b[k] ?? null)).sort();
}

/** The status fields every round changes; written only with another change or on the heartbeat. */
const ROUND_TIMES: ReadonlySet<string> = new Set(['lastAttestationTime', 'lastSuccessTime']);

function toInput(outcome: RoundOutcome): DecisionInput {
  switch (outcome.kind) {
    case 'verdict':
      return { kind: 'verdict', trusted: outcome.verdict.trusted, failures: outcome.verdict.failures };
    case 'unreachable':
      return { kind: 'unreachable', error: outcome.error };
    case 'identity-changed':
      return { kind: 'identity-changed', failures: outcome.failures };
  }
}

/**
 * Record a decision: status first (the desired state, so a crash after this point is finished by
 * the next convergence), then the decision's Events (so a crash right after the taint never loses
 * AttestationFailed), then enforcement (which acts only in the leader), then the recover annotation is removed.
 * Resolves whether status was written.
 */
export async function recordDecision(deps: StatusDeps, na: NodeAttestation, policy: NodeAttestationPolicy, decision: Decision, outcome?: RoundOutcome): Promise<boolean> {
  const now = (deps.now ?? (() => new Date()))();
  const status = nextStatus(na, policy, decision, outcome, now);
  // The heartbeat refreshes the round times, so only a round's outcome is written for it: a reconcile
  // writing the same old times would be a wasted write, and the round due next writes again anyway.
  const reason = statusWriteReason(na.status, status, now, outcome === undefined ? Infinity : deps.heartbeatMs);
  const write = reason !== undefined;
  if (write) {
    // The cached resourceVersion tells a write the informer had not yet shown apart from a new one.
    deps.log.debug('status written', { node: na.spec.nodeName, ...reason, basedOn: na.metadata.resourceVersion });
    await deps.cluster.applyNodeAttestationStatus(na.metadata.name, status);
  }
  for (const e of decision.events) {
    await deps.cluster.createEvent({ ...e, involved: [{ kind: 'Node', name: na.spec.nodeName }, { kind: 'NodeAttestation', name: na.metadata.name }] });
  }
  if (deps.enforce !== undefined) await deps.enforce({ ...na, status }, decision.actions);
  if (decision.clearRecoverAnnotation) await deps.cluster.annotateNodeAttestation(na.metadata.name, { [ANNOTATION.recover]: null });
  return write;
}

/** A round verified against an AK the node is no longer registered with (in flight across an approved identity change). */
export function isStale(outcome: RoundOutcome, na: NodeAttestation): boolean {
  const registered = na.status?.identity?.akName;
  return outcome.kind !== 'unreachable' && outcome.akName !== undefined && registered !== undefined && outcome.akName !== registered;
}

/** The RoundOutcomeHandler (ports.ts): decide, record status, enforce. */
export function makeRoundOutcomeHandler(deps: StatusDeps): RoundOutcomeHandler {
  return async (outcome: RoundOutcome): Promise<void> => {
    const na = deps.nodeAttestation(outcome.nodeName);
    if (na === undefined || na.spec.policyName !== outcome.policyName) {
      deps.log.debug('round outcome for a node no longer attested under that policy; dropped', { node: outcome.nodeName, policy: outcome.policyName });
      return;
    }
    if (findCondition(na.status?.conditions, CONDITION.LeftPolicy)?.status === 'True') {
      deps.log.debug('round outcome for a node that left its policy while enforced; dropped', { node: outcome.nodeName });
      return;
    }
    if (isStale(outcome, na)) {
      deps.log.debug('round outcome for a superseded identity; dropped', { node: outcome.nodeName });
      return;
    }
    const policy = deps.policy(na.spec.policyName);
    if (policy === undefined) return;
    const decision = decideActions(policy.spec, toInput(outcome), currentState(na));
    await recordDecision(deps, na, policy, decision, outcome);
  };
}
