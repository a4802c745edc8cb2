import type { EnforcementSpec, EnforcementStatus } from '../status/resources.js';

/**
 * The enforcement actions a policy can ask for, one entry each: the field of `onFailure` /
 * `onUnreachable` that asks for it, the field of `status.enforcement` that records it is in force,
 * the Event reason when it takes effect and the words of the Enforced condition. The entries are in
 * the order the actions are applied (a node is cordoned before it is drained, drained before its
 * credentials go). A new action is one entry here, one case in `convergingActions` (actions.ts),
 * one handler in the Enforcer and its CRD field; the compiler points at each place.
 */
export const ACTIONS = {
  taint: { specField: 'taint', statusField: 'tainted', eventReason: 'NodeTainted', inForce: 'tainted' },
  cordon: { specField: 'cordon', statusField: 'cordoned', eventReason: 'NodeCordoned', inForce: 'cordoned' },
  drain: { specField: 'drain', statusField: 'drained', eventReason: 'NodeDraining', inForce: 'drained' },
  revokeCredentials: { specField: 'revokeCredentials', statusField: 'credentialsRevoked', eventReason: 'CredentialsRevoked', inForce: 'credentials revoked' },
} as const satisfies { [K in ActionKind]: ActionEntry<K> };

/** One name per action: the spec field that asks for it. */
export type ActionKind = 'taint' | 'cordon' | 'drain' | 'revokeCredentials';
/** The boolean fields of status.enforcement. */
type StatusFlag = { [K in keyof EnforcementStatus]-?: NonNullable<EnforcementStatus[K]> extends boolean ? K : never }[keyof EnforcementStatus];

export interface ActionEntry<K extends ActionKind> {
  specField: K & keyof EnforcementSpec;
  statusField: StatusFlag;
  eventReason: string;
  inForce: string;
}

/** Every action, in the order they are applied. */
export const ACTION_KINDS = Object.keys(ACTIONS) as ActionKind[];

/** Whether an onFailure / onUnreachable spec asks for the action. */
export function asksFor(spec: EnforcementSpec, kind: ActionKind): boolean {
  const v = spec[ACTIONS[kind].specField];
  return v !== undefined && v !== false;
}

/** Whether the enforcement recorded in status has the action in force. */
export function inForce(e: EnforcementStatus | undefined, kind: ActionKind): boolean {
  return e?.[ACTIONS[kind].statusField] === true;
}

/** The actions in force, in the Enforced condition's words ("tainted, cordoned"). */
export function describeInForce(e: EnforcementStatus | undefined): string[] {
  return ACTION_KINDS.filter((k) => inForce(e, k)).map((k) => ACTIONS[k].inForce);
}
