import type { EnforcementStatus, NodeAttestationPolicySpec, Phase, TaintEffect } from '../status/resources.js';
import { TAINT_UNREACHABLE, TAINT_UNTRUSTED } from '../status/resources.js';

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
 * Refuse the node's kubelet identity server-side (`apply`: the node on the quarantine list the
 * ValidatingAdmissionPolicy reads) or allow it again (`lift`). In force exactly while credentials are.
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
export type EnforcementAction = TaintAction | CordonAction | QuarantineAction | RevokeCredentialsAction | IssueCredentialAction;

export const OUR_TAINT_KEYS = [TAINT_UNTRUSTED, TAINT_UNREACHABLE] as const;

/**
 * The complete set of actions that converges a node to the enforcement recorded in its status
 * (phase + intended enforcement). Pure; derived only from status and policy, so an operator
 * restarted mid-enforcement recomputes exactly the same set and finishes the job.
 * Every one of our taint keys appears (apply one, lift the others); the enforcer acts idempotently.
 */
export function actionsFor(spec: Pick<NodeAttestationPolicySpec, 'mode' | 'onFailure' | 'onUnreachable'>, phase: Phase | undefined,
  enforcement: EnforcementStatus | undefined): EnforcementAction[] {
  const e = enforcement ?? {};
  const audit = (spec.mode ?? 'Enforce') === 'Audit';
  const actions: EnforcementAction[] = taintActions(spec, phase, !audit && e.tainted === true);
  actions.push({ kind: 'cordon', op: !audit && e.cordoned === true ? 'apply' : 'lift' });
  actions.push({ kind: 'quarantine', op: !audit && e.credentialsRevoked === true ? 'apply' : 'lift' });
  if (audit) return actions;
  if (e.credentialsRevoked === true) actions.push({ kind: 'revoke-credentials' });
  else if (phase === 'Trusted') actions.push({ kind: 'issue-credential' });
  return actions;
}

/**
 * Release a node no policy attests any more (deleted, unselected, its NodeAttestation deleted): every
 * action lifted, the quarantine included, and its Nodeward credential revoked (it proves nothing now).
 */
export function releaseActions(): EnforcementAction[] {
  return [...actionsFor({ mode: 'Enforce' }, 'Pending', {}), { kind: 'revoke-credentials' }];
}

/** Apply the phase's taint key (Unreachable: unreachable key and effect) and lift the others. */
function taintActions(spec: Pick<NodeAttestationPolicySpec, 'onFailure' | 'onUnreachable'>, phase: Phase | undefined, tainted: boolean): TaintAction[] {
  const unreachable = phase === 'Unreachable';
  const key = unreachable ? TAINT_UNREACHABLE : TAINT_UNTRUSTED;
  const effect: TaintEffect = (unreachable ? spec.onUnreachable?.taint?.effect : spec.onFailure?.taint?.effect) ?? 'NoSchedule';
  return OUR_TAINT_KEYS.map((k): TaintAction => (tainted && k === key ? { kind: 'taint', op: 'apply', key: k, effect } : { kind: 'taint', op: 'lift', key: k }));
}
