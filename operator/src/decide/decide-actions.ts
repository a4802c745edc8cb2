import type { Failure } from '@nodeward/attest';
import type { ConditionInput } from '../status/conditions.js';
import { CONDITION, REASON } from '../status/conditions.js';
import type { EnforcementSpec, EnforcementStatus, NodeAttestationPolicySpec, Phase } from '../status/resources.js';
import { ACTION_KINDS, ACTIONS, describeInForce } from './action-table.js';
import { actionsFor, type EnforcementAction } from './actions.js';
import { bypassesBudget, type Admission } from './budget.js';
import { enforcementThrough, stepDue, stepsOf } from './escalation.js';

/** What happened to the node, as far as deciding is concerned. */
export type DecisionInput =
  | { kind: 'verdict'; trusted: boolean; failures: readonly Failure[] }
  | { kind: 'unreachable'; error: string }
  | { kind: 'identity-changed'; failures: readonly Failure[] }
  /** Re-evaluate the current state (policy changed, recover annotation set, restart, an escalation step due). */
  | { kind: 'reconcile' };

export interface CurrentState {
  phase: Phase | undefined;
  /** status.enforcement (mode Enforce). */
  enforcement: EnforcementStatus | undefined;
  /** status.wouldEnforce: what Enforce would have in force (mode Audit's preview). */
  wouldEnforce?: EnforcementStatus | undefined;
  consecutiveMisses: number;
  /** Passing rounds in a row since the node last failed (hysteresis before recovery). */
  consecutivePasses?: number;
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
  /**
   * Whether the policy's maxUnavailable budget lets enforcement begin on this node now (default admit).
   * Asked only when enforcement would begin (counting the policy's enforced nodes costs a pass over them).
   */
  admission?: () => Admission;
  /** The decision's time (escalation delays count from status.enforcement.since). */
  now?: Date;
}

export type EventReason =
  | 'AttestationFailed' | 'AgentUnreachable' | 'AttestationRecovered' | 'IdentityChanged'
  | 'NodeTainted' | 'NodeCordoned' | 'CredentialsRevoked' | 'PolicyConflict' | 'Registered' | 'AttestationStale'
  | 'LeftPolicyWhileEnforced' | 'PolicyInvalid' | 'EnforcementEscalated' | 'EnforcementHeld' | 'WouldEnforce';
export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}

export interface Decision {
  phase: Phase | undefined;
  consecutiveMisses: number;
  consecutivePasses: number;
  /** Intended enforcement, recorded in status BEFORE acting. */
  enforcement: EnforcementStatus;
  /** Mode Audit: what Enforce would have in force now (status.wouldEnforce); undefined in Enforce. */
  wouldEnforce: EnforcementStatus | undefined;
  conditions: ConditionInput[];
  /** The full converging action set (see actionsFor). */
  actions: EnforcementAction[];
  events: PlannedEvent[];
  /** Remove the recover annotation: the manual recovery it asked for was carried out. */
  clearRecoverAnnotation: boolean;
}

type Spec = Pick<NodeAttestationPolicySpec, 'mode' | 'onFailure' | 'onUnreachable' | 'recovery' | 'recoverAfterPasses'>;
const DEFAULT_AFTER_MISSES = 3;
const BAD_PHASES: ReadonlySet<Phase | undefined> = new Set<Phase | undefined>(['Untrusted', 'Unreachable']);
/** Every action of the table, none in force. */
const NO_ENFORCEMENT: EnforcementStatus = Object.fromEntries(ACTION_KINDS.map((k) => [ACTIONS[k].statusField, false]));

/**
 * Decide the node's phase, conditions, intended enforcement and events from one input. Pure.
 * - Enforce applies the policy's onFailure / onUnreachable steps: the spec's own actions at once, each of
 *   `steps` after its delay (counted from `enforcement.since`), recorded in status before acting.
 * - A node enforcement has not begun on is admitted by the maxUnavailable budget, or held (Untrusted,
 *   alerted, not enforced); identity and impersonation failures bypass the budget (see budget.ts).
 * - Audit decides exactly the same and records it as `wouldEnforce`, enforcing nothing.
 * - Unreachable only after `afterMisses` consecutive misses; an Untrusted node stays Untrusted.
 * - Recovery needs `recoverAfterPasses` passing rounds in a row, then Automatic lifts every step and
 *   Manual waits for the recover annotation.
 */
export function decideActions(spec: Spec, input: DecisionInput, current: CurrentState): Decision {
  const audit = spec.mode === 'Audit';
  const draft = decidePhase(spec, input, audit ? { ...current, enforcement: current.wouldEnforce } : current);
  const enforcement = audit ? NO_ENFORCEMENT : draft.enforcement;
  return {
    ...draft,
    enforcement,
    wouldEnforce: audit ? draft.enforcement : undefined,
    events: audit ? draft.events.map(auditEvent) : draft.events,
    conditions: [...draft.conditions, enforcedCondition(audit, draft.enforcement)],
    actions: actionsFor(spec, draft.phase, enforcement),
  };
}

type Draft = Omit<Decision, 'actions' | 'wouldEnforce'>;

/** In Audit, what Enforce would do is announced as a Normal `WouldEnforce` Event. */
function auditEvent(e: PlannedEvent): PlannedEvent {
  return e.reason === 'EnforcementEscalated' || e.reason === 'EnforcementHeld'
    ? { type: 'Normal', reason: 'WouldEnforce', message: `mode Audit, nothing enforced; Enforce would: ${e.message}` }
    : e;
}

function decidePhase(spec: Spec, input: DecisionInput, current: CurrentState): Draft {
  switch (input.kind) {
    case 'verdict':
      return input.trusted ? onPass(spec, current) : onFail(spec, current, { reason: 'AttestationFailed', failures: input.failures });
    case 'identity-changed':
      return onFail(spec, current, { reason: 'IdentityChanged', failures: input.failures });
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
  const waiting = wasBad ? recoveryWait(spec, current) : undefined;
  if (waiting !== undefined) return waiting;
  return {
    phase: 'Trusted',
    consecutiveMisses: 0,
    consecutivePasses: 0,
    enforcement: NO_ENFORCEMENT,
    conditions: [trusted('True', REASON.AttestationPassed, 'the last attestation round verified')],
    events: wasBad ? [{ type: 'Normal', reason: 'AttestationRecovered', message: `node attests again (was ${current.phase})` }] : [],
    clearRecoverAnnotation: wasBad && current.recoverRequested,
  };
}

/**
 * A failing node that passed: held until `recoverAfterPasses` rounds in a row have passed (hysteresis),
 * then, under recovery Manual, until the recover annotation; undefined when it recovers now.
 */
function recoveryWait(spec: Spec, current: CurrentState): Draft | undefined {
  const passes = (current.consecutivePasses ?? 0) + 1;
  const required = spec.recoverAfterPasses ?? 1;
  if (passes < required) {
    return { ...hold(current, REASON.AwaitingConsecutivePasses, `${passes} of ${required} passing rounds in a row before enforcement is lifted`), consecutivePasses: passes };
  }
  if ((spec.recovery ?? 'Automatic') === 'Manual' && !current.recoverRequested) {
    return { ...hold(current, REASON.AwaitingManualRecovery, 'the node attests again; set attestation.nodeward.io/recover: "true" to lift enforcement'), consecutivePasses: passes };
  }
  return undefined;
}

const CONFLICT_MESSAGE = 'more than one policy selects the node: never Trusted until exactly one does';

/** The current state, unchanged (phase, counters, enforcement); no condition, no Event. */
function keep(current: CurrentState): Draft {
  return {
    phase: current.phase,
    consecutiveMisses: current.consecutiveMisses,
    consecutivePasses: current.consecutivePasses ?? 0,
    enforcement: { ...(current.enforcement ?? {}) },
    conditions: [],
    events: [],
    clearRecoverAnnotation: false,
  };
}

/** A node two policies select: not Trusted, its enforcement kept; a failing round still makes it Untrusted. */
function inConflict(current: CurrentState): Draft {
  return { ...keep(current), phase: 'Conflict', conditions: [trusted('False', REASON.MultiplePolicies, CONFLICT_MESSAGE)] };
}

/** A Trusted node without a passing round within the freshness window: Stale, enforcement kept. */
function goneStale(current: CurrentState): Draft {
  const message = 'no passing attestation round within the freshness window: rounds are not running (Redis, the runtime policy, the schedule)';
  return { ...keep(current), phase: 'Stale', conditions: [trusted('Unknown', REASON.RoundsStale, message)], events: [{ type: 'Warning', reason: 'AttestationStale', message }] };
}

/** Keep a bad phase and its enforcement while a passing round cannot lift it yet. */
function hold(current: CurrentState, reason: string, message: string): Draft {
  return { ...keep(current), consecutiveMisses: 0, consecutivePasses: 0, conditions: [trusted('False', reason, message)] };
}

interface Failing {
  reason: 'AttestationFailed' | 'IdentityChanged';
  failures: readonly Failure[];
}

function onFail(spec: Spec, current: CurrentState, f: Failing): Draft {
  const detail = describe(f.failures);
  const isNew = current.phase !== 'Untrusted' || (f.reason === 'IdentityChanged' && !current.identityHold);
  const bypass = f.reason === 'IdentityChanged' || bypassesBudget(f.failures);
  const steps = enforce(spec.onFailure, bypass ? { ...current, admission: ADMIT } : current, 'Untrusted');
  return {
    ...keep(current),
    phase: 'Untrusted',
    consecutiveMisses: 0,
    consecutivePasses: 0,
    enforcement: steps.enforcement,
    conditions: [trusted('False', f.reason === 'IdentityChanged' ? REASON.IdentityChanged : REASON.AttestationFailed, detail)],
    events: [...(isNew ? [{ type: 'Warning' as const, reason: f.reason, message: detail }] : []), ...steps.events],
  };
}

function onMiss(spec: Spec, current: CurrentState, error: string): Draft {
  const misses = current.consecutiveMisses + 1;
  const after = spec.onUnreachable?.afterMisses ?? DEFAULT_AFTER_MISSES;
  const kept: Draft = { ...keep(current), consecutiveMisses: misses };
  if (misses < after || current.phase === 'Untrusted') return kept;
  const message = `agent missed ${misses} consecutive rounds: ${error}`;
  const steps = enforce(spec.onUnreachable, current, 'Unreachable');
  return {
    ...kept,
    phase: 'Unreachable',
    consecutivePasses: 0,
    enforcement: steps.enforcement,
    conditions: [trusted('Unknown', REASON.AgentUnreachable, message)],
    events: [...(current.phase === 'Unreachable' ? [] : [{ type: 'Warning' as const, reason: 'AgentUnreachable' as const, message }]), ...steps.events],
  };
}

/**
 * The enforcement of a failing (Untrusted) or silent (Unreachable) node under its spec's steps.
 * Enforcement begins (`since`, step 0 and every step already due) when the budget admits it, or the node
 * is held; once begun, each later step is added when its delay has passed, with an Event. A node moving
 * between Untrusted and Unreachable begins the other spec's steps afresh, keeping what is in force.
 */
function enforce(spec: EnforcementSpec | undefined, current: CurrentState, phase: 'Untrusted' | 'Unreachable'): { enforcement: EnforcementStatus; events: PlannedEvent[] } {
  const e = current.enforcement;
  const now = current.now ?? new Date(0);
  if (e === undefined || !enforcementBegun(e)) return begin(spec, current, now);
  const since = current.phase === phase && e.since !== undefined ? new Date(e.since) : now;
  const steps = stepsOf(spec);
  const last = current.phase === phase ? e.step ?? 0 : -1;
  const due = Math.max(last, stepDue(steps, now.getTime() - since.getTime()));
  const next = { ...enforcementThrough(steps, due, e), ...episode(steps, due, since) };
  if (due <= last || due === 0) return { enforcement: next, events: [] };
  const message = `step ${due} of ${steps.length - 1} (after ${steps[due]!.afterMs / 1000}s): ${describeInForce(next).join(', ') || 'no actions'}`;
  return { enforcement: next, events: [{ type: 'Warning', reason: 'EnforcementEscalated', message }] };
}

/** Begin enforcement at `now` if the budget admits it; held (nothing in force, `held` recorded) if not; unchanged if the leader is to decide. */
function begin(spec: EnforcementSpec | undefined, current: CurrentState, now: Date): { enforcement: EnforcementStatus; events: PlannedEvent[] } {
  const admission = (current.admission ?? ADMIT)();
  switch (admission.verdict) {
    case 'defer':
      return { enforcement: { ...(current.enforcement ?? NO_ENFORCEMENT) }, events: [] };
    case 'hold': {
      const events: PlannedEvent[] = current.enforcement?.held === true ? [] : [{ type: 'Warning', reason: 'EnforcementHeld', message: admission.message }];
      return { enforcement: { ...NO_ENFORCEMENT, held: true }, events };
    }
    case 'admit': {
      const steps = stepsOf(spec);
      return { enforcement: { ...enforcementThrough(steps, 0, withoutEpisode(current.enforcement)), ...episode(steps, 0, now) }, events: [] };
    }
  }
}

const ADMIT = (): Admission => ({ verdict: 'admit' });

/**
 * Enforcement has begun on the node (it counts against the budget): `since` is recorded and it is not
 * held, or actions are in force from before escalation existed.
 */
export function enforcementBegun(e: EnforcementStatus | undefined): boolean {
  return e !== undefined && e.held !== true && (e.since !== undefined || describeInForce(e).length > 0);
}

/** The enforcement flags in force, without the episode fields (since, step, nextStepAt, held). */
function withoutEpisode(e: EnforcementStatus | undefined): EnforcementStatus {
  const rest = { ...(e ?? {}) };
  delete rest.since;
  delete rest.step;
  delete rest.nextStepAt;
  delete rest.held;
  return rest;
}

/** The episode fields: when enforcement began, the last step applied, when the next one is due. */
function episode(steps: readonly { afterMs: number }[], step: number, since: Date): Pick<EnforcementStatus, 'since' | 'step' | 'nextStepAt'> {
  const next = steps[step + 1];
  return { since: since.toISOString(), step, ...(next === undefined ? {} : { nextStepAt: new Date(since.getTime() + next.afterMs).toISOString() }) };
}

/**
 * No new evidence (policy changed, annotation set, restart, resync, a step due): keep the phase and
 * enforcement, except that a node another policy also selects leaves Trusted for Conflict, a Trusted
 * node without a recent passing round becomes Stale, a recover request on a node whose last round
 * passed (AwaitingManualRecovery) recovers it now, and a failing node's enforcement begins (the budget
 * admitting it) or escalates when a step is due.
 * A recover request on a still-failing node waits, annotation kept, for the next passing round.
 */
function onReconcile(spec: Spec, current: CurrentState): Draft {
  if (current.conflict && !BAD_PHASES.has(current.phase) && current.phase !== 'Conflict') return inConflict(current);
  if (current.stale && current.phase === 'Trusted') return goneStale(current);
  if (current.recoverRequested && current.awaitingRecovery && !current.identityHold) return onPass(spec, current);
  if (current.phase === 'Untrusted' || current.phase === 'Unreachable') {
    const steps = enforce(current.phase === 'Untrusted' ? spec.onFailure : spec.onUnreachable, current, current.phase);
    return { ...keep(current), enforcement: steps.enforcement, events: steps.events };
  }
  return keep(current);
}

function trusted(status: ConditionInput['status'], reason: string, message: string): ConditionInput {
  return { type: CONDITION.Trusted, status, reason, message };
}

function enforcedCondition(audit: boolean, e: EnforcementStatus): ConditionInput {
  const active = describeInForce(e);
  const progress = e.nextStepAt === undefined ? '' : ` (step ${e.step ?? 0}; next step at ${e.nextStepAt})`;
  if (audit) {
    const would = e.held === true ? 'hold the node (maxUnavailable budget)' : active.length > 0 ? `have it ${active.join(', ')}${progress}` : 'do nothing';
    return { type: CONDITION.Enforced, status: 'False', reason: REASON.AuditOnly, message: `mode Audit: verdicts are recorded, nothing is enforced; Enforce would ${would}` };
  }
  if (e.held === true) return { type: CONDITION.Enforced, status: 'False', reason: REASON.HeldByBudget, message: 'enforcement held: the policy\'s maxUnavailable budget is spent (the node stays Untrusted)' };
  return active.length > 0
    ? { type: CONDITION.Enforced, status: 'True', reason: REASON.ActionsApplied, message: `${active.join(', ')}${progress}` }
    : { type: CONDITION.Enforced, status: 'False', reason: REASON.NoActions, message: 'no enforcement in force' };
}

/** `id: message` of every failure, for condition messages and Events. */
export function describe(failures: readonly Failure[]): string {
  return failures.length === 0 ? 'attestation failed' : failures.map((f) => `${f.id}: ${f.message}`).join('; ');
}
