import type { Failure } from '@nodeward/attest';
import type { ConditionInput } from '../status/conditions.js';
import { CONDITION, REASON } from '../status/conditions.js';
import type { EnforcementSpec, EnforcementStatus, NodeAttestationPolicySpec, Phase } from '../status/resources.js';
import { ACTION_KINDS, ACTIONS, asksFor, describeInForce, inForce } from './action-table.js';
import { actionsFor, type EnforcementAction } from './actions.js';

/** What happened to the node, as far as deciding is concerned. */
export type DecisionInput =
  | { kind: 'verdict'; trusted: boolean; failures: readonly Failure[] }
  | { kind: 'unreachable'; error: string }
  | { kind: 'identity-changed'; failures: readonly Failure[] }
  /** Re-evaluate the current state (policy changed, recover annotation set, restart). */
  | { kind: 'reconcile' };

export interface CurrentState {
  phase: Phase | undefined;
  enforcement: EnforcementStatus | undefined;
  consecutiveMisses: number;
  /** The Trusted condition's reason is IdentityChanged: only an approved re-registration clears it. */
  identityHold: boolean;
  /** The NodeAttestation carries `attestation.nodeward.io/recover: "true"`. */
  recoverRequested: boolean;
  /** The last round passed but Manual recovery holds the node (Trusted reason AwaitingManualRecovery). */
  awaitingRecovery: boolean;
  /** Another policy also selects the node (PolicyConflict True): it is never Trusted meanwhile. */
  conflict: boolean;
  /** No passing round within the freshness window (see freshness.ts): a Trusted node becomes Stale. */
  stale: boolean;
}

export type EventReason =
  | 'AttestationFailed' | 'AgentUnreachable' | 'AttestationRecovered' | 'IdentityChanged'
  | 'NodeTainted' | 'NodeCordoned' | 'CredentialsRevoked' | 'PolicyConflict' | 'Registered' | 'AttestationStale'
  | 'LeftPolicyWhileEnforced' | 'PolicyInvalid';
export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}

export interface Decision {
  phase: Phase | undefined;
  consecutiveMisses: number;
  /** Intended enforcement, recorded in status BEFORE acting. */
  enforcement: EnforcementStatus;
  conditions: ConditionInput[];
  /** The full converging action set (see actionsFor). */
  actions: EnforcementAction[];
  events: PlannedEvent[];
  /** Remove the recover annotation: the manual recovery it asked for was carried out. */
  clearRecoverAnnotation: boolean;
}

type Spec = Pick<NodeAttestationPolicySpec, 'mode' | 'onFailure' | 'onUnreachable' | 'recovery'>;
const DEFAULT_AFTER_MISSES = 3;
const BAD_PHASES: ReadonlySet<Phase | undefined> = new Set<Phase | undefined>(['Untrusted', 'Unreachable']);
/** Every action of the table, none in force. */
const NO_ENFORCEMENT: EnforcementStatus = Object.fromEntries(ACTION_KINDS.map((k) => [ACTIONS[k].statusField, false]));

/**
 * Decide the node's phase, conditions, intended enforcement and events from one input. Pure.
 * - Enforce applies the policy's onFailure / onUnreachable actions; Audit records verdicts and
 *   Events only (and lifts anything left from an earlier Enforce).
 * - Unreachable only after `afterMisses` consecutive misses; an Untrusted node stays Untrusted.
 * - Recovery Automatic lifts after a passing round; Manual waits for the recover annotation.
 */
export function decideActions(spec: Spec, input: DecisionInput, current: CurrentState): Decision {
  const draft = decidePhase(spec, input, current);
  const enforcement = spec.mode === 'Audit' ? NO_ENFORCEMENT : draft.enforcement;
  return {
    ...draft,
    enforcement,
    conditions: [...draft.conditions, enforcedCondition(spec, enforcement)],
    actions: actionsFor(spec, draft.phase, enforcement),
  };
}

type Draft = Omit<Decision, 'actions'>;

function decidePhase(spec: Spec, input: DecisionInput, current: CurrentState): Draft {
  switch (input.kind) {
    case 'verdict':
      return input.trusted ? onPass(spec, current) : onFail(spec, current, 'AttestationFailed', describe(input.failures));
    case 'identity-changed':
      return onFail(spec, current, 'IdentityChanged', describe(input.failures));
    case 'unreachable':
      return onMiss(spec, current, input.error);
    case 'reconcile':
      return onReconcile(spec, current);
  }
}

function onPass(spec: Spec, current: CurrentState): Draft {
  const wasBad = BAD_PHASES.has(current.phase);
  if (current.conflict) return wasBad ? hold(current, REASON.MultiplePolicies, CONFLICT_MESSAGE) : inConflict(current);
  if (wasBad && current.identityHold) return hold(current, REASON.IdentityChanged, 'identity changed: approve the new AK to re-register');
  if (wasBad && (spec.recovery ?? 'Automatic') === 'Manual' && !current.recoverRequested) {
    return hold(current, REASON.AwaitingManualRecovery, 'the node attests again; set attestation.nodeward.io/recover: "true" to lift enforcement');
  }
  return {
    phase: 'Trusted',
    consecutiveMisses: 0,
    enforcement: NO_ENFORCEMENT,
    conditions: [trusted('True', REASON.AttestationPassed, 'the last attestation round verified')],
    events: wasBad ? [{ type: 'Normal', reason: 'AttestationRecovered', message: `node attests again (was ${current.phase})` }] : [],
    clearRecoverAnnotation: wasBad && current.recoverRequested,
  };
}

const CONFLICT_MESSAGE = 'more than one policy selects the node: never Trusted until exactly one does';

/** A node two policies select: not Trusted, its enforcement kept; a failing round still makes it Untrusted. */
function inConflict(current: CurrentState): Draft {
  return {
    phase: 'Conflict',
    consecutiveMisses: current.consecutiveMisses,
    enforcement: { ...(current.enforcement ?? {}) },
    conditions: [trusted('False', REASON.MultiplePolicies, CONFLICT_MESSAGE)],
    events: [],
    clearRecoverAnnotation: false,
  };
}

/** A Trusted node without a passing round within the freshness window: Stale, enforcement kept. */
function goneStale(current: CurrentState): Draft {
  const message = 'no passing attestation round within the freshness window: rounds are not running (Redis, the runtime policy, the schedule)';
  return {
    phase: 'Stale',
    consecutiveMisses: current.consecutiveMisses,
    enforcement: { ...(current.enforcement ?? {}) },
    conditions: [trusted('Unknown', REASON.RoundsStale, message)],
    events: [{ type: 'Warning', reason: 'AttestationStale', message }],
    clearRecoverAnnotation: false,
  };
}

/** Keep a bad phase and its enforcement while a passing round cannot lift it yet. */
function hold(current: CurrentState, reason: string, message: string): Draft {
  return {
    phase: current.phase,
    consecutiveMisses: 0,
    enforcement: { ...(current.enforcement ?? {}) },
    conditions: [trusted('False', reason, message)],
    events: [],
    clearRecoverAnnotation: false,
  };
}

function onFail(spec: Spec, current: CurrentState, reason: 'AttestationFailed' | 'IdentityChanged', detail: string): Draft {
  const enforcement = mergeEnforcement(current, spec.onFailure ?? {});
  const isNew = current.phase !== 'Untrusted' || (reason === 'IdentityChanged' && !current.identityHold);
  return {
    phase: 'Untrusted',
    consecutiveMisses: 0,
    enforcement,
    conditions: [trusted('False', reason === 'IdentityChanged' ? REASON.IdentityChanged : REASON.AttestationFailed, detail)],
    events: isNew ? [{ type: 'Warning', reason, message: detail }] : [],
    clearRecoverAnnotation: false,
  };
}

function onMiss(spec: Spec, current: CurrentState, error: string): Draft {
  const misses = current.consecutiveMisses + 1;
  const after = spec.onUnreachable?.afterMisses ?? DEFAULT_AFTER_MISSES;
  const keep: Draft = {
    phase: current.phase,
    consecutiveMisses: misses,
    enforcement: { ...(current.enforcement ?? {}) },
    conditions: [],
    events: [],
    clearRecoverAnnotation: false,
  };
  if (misses < after || current.phase === 'Untrusted') return keep;
  const message = `agent missed ${misses} consecutive rounds: ${error}`;
  return {
    ...keep,
    phase: 'Unreachable',
    enforcement: mergeEnforcement(current, spec.onUnreachable ?? {}),
    conditions: [trusted('Unknown', REASON.AgentUnreachable, message)],
    events: current.phase === 'Unreachable' ? [] : [{ type: 'Warning', reason: 'AgentUnreachable', message }],
  };
}

/**
 * No new evidence (policy changed, annotation set, restart, resync): keep the phase and enforcement,
 * except that a node another policy also selects leaves Trusted for Conflict, a Trusted node without a
 * recent passing round becomes Stale, and a recover request on a node whose last round passed
 * (AwaitingManualRecovery) recovers it now.
 * A recover request on a still-failing node waits, annotation kept, for the next passing round.
 */
function onReconcile(spec: Spec, current: CurrentState): Draft {
  if (current.conflict && !BAD_PHASES.has(current.phase) && current.phase !== 'Conflict') return inConflict(current);
  if (current.stale && current.phase === 'Trusted') return goneStale(current);
  if (current.recoverRequested && current.awaitingRecovery && !current.identityHold) return onPass(spec, current);
  return {
    phase: current.phase,
    consecutiveMisses: current.consecutiveMisses,
    enforcement: { ...(current.enforcement ?? {}) },
    conditions: [],
    events: [],
    clearRecoverAnnotation: false,
  };
}

/** Intended enforcement: what the spec asks for, plus what is already in force (never silently dropped). */
function mergeEnforcement(current: CurrentState, wanted: EnforcementSpec): EnforcementStatus {
  return Object.fromEntries(ACTION_KINDS.map((k) => [ACTIONS[k].statusField, inForce(current.enforcement, k) || asksFor(wanted, k)]));
}

function trusted(status: ConditionInput['status'], reason: string, message: string): ConditionInput {
  return { type: CONDITION.Trusted, status, reason, message };
}

function enforcedCondition(spec: Spec, e: EnforcementStatus): ConditionInput {
  if (spec.mode === 'Audit') return { type: CONDITION.Enforced, status: 'False', reason: REASON.AuditOnly, message: 'mode Audit: verdicts are recorded, nothing is enforced' };
  const active = describeInForce(e);
  return active.length > 0
    ? { type: CONDITION.Enforced, status: 'True', reason: REASON.ActionsApplied, message: active.join(', ') }
    : { type: CONDITION.Enforced, status: 'False', reason: REASON.NoActions, message: 'no enforcement in force' };
}

/** `id: message` of every failure, for condition messages and Events. */
export function describe(failures: readonly Failure[]): string {
  return failures.length === 0 ? 'attestation failed' : failures.map((f) => `${f.id}: ${f.message}`).join('; ');
}
