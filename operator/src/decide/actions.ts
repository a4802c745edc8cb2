import { parseDurationMs } from '../reconcile/duration.js';
import type { EnforcementSpec, EnforcementStatus, NodeAttestationPolicySpec, Phase, TaintEffect } from '../status/resources.js';
import { TAINT_UNREACHABLE, TAINT_UNTRUSTED } from '../status/resources.js';
import { ACTION_KINDS, inForce, type ActionKind } from './action-table.js';

/** Put our taint on the node (`apply`) or take it off (`lift`). Keys: untrusted or unreachable. */
export interface TaintAction {
  kind: 'taint';
  op: 'apply' | 'lift';
  key: string;
  effect?: TaintEffect;
}
/** Cordon the node (`apply`), or uncordon it only if we cordoned it (`lift`). */
export interface CordonAction {
  kind: 'cordon';
  op: 'apply' | 'lift';
}
/**
 * Evict the node's pods through the Eviction API (`apply`; refused evictions retried until `timeoutMs`
 * after the first), or forget the drain's progress (`lift`: evicted pods are not brought back).
 */
export interface DrainAction {
  kind: 'drain';
  op: 'apply' | 'lift';
  timeoutMs?: number;
}
/**
 * Refuse the node's kubelet identity server-side (`apply`: the node on the quarantine list the
 * ValidatingAdmissionPolicy reads) or allow it again (`lift`). Part of revokeCredentials: in force
 * exactly while credentials are revoked.
 */
export interface QuarantineAction {
  kind: 'quarantine';
  op: 'apply' | 'lift';
}
export interface RevokeCredentialsAction {
  kind: 'revoke-credentials';
}
export interface IssueCredentialAction {
  kind: 'issue-credential';
}
export type EnforcementAction = TaintAction | CordonAction | DrainAction | QuarantineAction | RevokeCredentialsAction | IssueCredentialAction;

export const OUR_TAINT_KEYS = [TAINT_UNTRUSTED, TAINT_UNREACHABLE] as const;
/** kubectl drain's default is no timeout; an automated drain reports a refused eviction after 5 minutes. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 300_000;

type ActionSpec = Pick<NodeAttestationPolicySpec, 'mode' | 'onFailure' | 'onUnreachable'>;

/**
 * The complete set of actions that converges a node to the enforcement recorded in its status
 * (phase + intended enforcement). Pure; derived only from status and policy, so an operator
 * restarted mid-enforcement recomputes exactly the same set and finishes the job.
 * Every action of the table appears (applied or lifted); the enforcer acts idempotently.
 */
export function actionsFor(spec: ActionSpec, phase: Phase | undefined, enforcement: EnforcementStatus | undefined): EnforcementAction[] {
  const audit = (spec.mode ?? 'Enforce') === 'Audit';
  const e = audit ? {} : enforcement ?? {};
  return ACTION_KINDS.flatMap((kind) => convergingActions(kind, spec, phase, e));
}

/** The actions converging one entry of the table. */
function convergingActions(kind: ActionKind, spec: ActionSpec, phase: Phase | undefined, e: EnforcementStatus): EnforcementAction[] {
  const on = inForce(e, kind);
  switch (kind) {
    case 'taint':
      return taintActions(spec, phase, on, e.taintEffect);
    case 'cordon':
      return [{ kind: 'cordon', op: on ? 'apply' : 'lift' }];
    case 'drain':
      return [on ? { kind: 'drain', op: 'apply', timeoutMs: drainTimeoutMs(actionSpecFor(spec, phase)) } : { kind: 'drain', op: 'lift' }];
    case 'revokeCredentials': {
      // The credential that matters, the kubelet's, is quarantined exactly while credentials are revoked.
      const quarantine: QuarantineAction = { kind: 'quarantine', op: on ? 'apply' : 'lift' };
      if (on) return [quarantine, { kind: 'revoke-credentials' }];
      return phase === 'Trusted' && (spec.mode ?? 'Enforce') !== 'Audit' ? [quarantine, { kind: 'issue-credential' }] : [quarantine];
    }
  }
}

/**
 * Release a node no policy attests any more (deleted, unselected, its NodeAttestation deleted): every
 * action lifted, the quarantine included, and its Nodeward credential revoked (it proves nothing now).
 */
export function releaseActions(): EnforcementAction[] {
  return [...actionsFor({ mode: 'Enforce' }, 'Pending', {}), { kind: 'revoke-credentials' }];
}

/** The onUnreachable spec for an Unreachable node, onFailure otherwise. */
function actionSpecFor(spec: ActionSpec, phase: Phase | undefined): EnforcementSpec {
  return (phase === 'Unreachable' ? spec.onUnreachable : spec.onFailure) ?? {};
}

export function drainTimeoutMs(spec: EnforcementSpec): number {
  return parseDurationMs(spec.drain?.timeout) ?? DEFAULT_DRAIN_TIMEOUT_MS;
}

/**
 * Apply the phase's taint key (Unreachable: unreachable key) with the effect recorded in status (the
 * strongest its escalation steps reached) or else the one the spec asks for, and lift the others.
 */
function taintActions(spec: ActionSpec, phase: Phase | undefined, tainted: boolean, recorded: TaintEffect | undefined): TaintAction[] {
  const key = phase === 'Unreachable' ? TAINT_UNREACHABLE : TAINT_UNTRUSTED;
  const effect: TaintEffect = recorded ?? actionSpecFor(spec, phase).taint?.effect ?? 'NoSchedule';
  return OUR_TAINT_KEYS.map((k): TaintAction => (tainted && k === key ? { kind: 'taint', op: 'apply', key: k, effect } : { kind: 'taint', op: 'lift', key: k }));
}
