import { parseDurationMs } from '../reconcile/duration.js';
import type { EnforcementSpec, EnforcementStatus, TaintEffect } from '../status/resources.js';
import { ACTION_KINDS, ACTIONS, asksFor, inForce } from './action-table.js';

/** One escalation step: the actions it adds, `afterMs` after enforcement began (step 0, the spec's own fields, at once). */
export interface Step {
  afterMs: number;
  actions: EnforcementSpec;
}

/**
 * The steps of an onFailure / onUnreachable spec: its own action fields at once (step 0), then each of
 * `steps` after its delay, in order of delay. Pure.
 */
export function stepsOf(spec: EnforcementSpec | undefined): Step[] {
  const { steps = [], ...now } = spec ?? {};
  const later = steps.map(({ after, ...actions }) => ({ afterMs: parseDurationMs(after) ?? 0, actions }));
  return [{ afterMs: 0, actions: now }, ...later.sort((a, b) => a.afterMs - b.afterMs)];
}

/** The last step due `elapsedMs` after enforcement began. */
export function stepDue(steps: readonly Step[], elapsedMs: number): number {
  let due = 0;
  steps.forEach((s, i) => { if (s.afterMs <= elapsedMs) due = i; });
  return due;
}

const EFFECT_STRENGTH: Record<TaintEffect, number> = { PreferNoSchedule: 0, NoSchedule: 1, NoExecute: 2 };

/** The stronger of two taint effects (NoExecute > NoSchedule > PreferNoSchedule). */
export function strongerEffect(a: TaintEffect | undefined, b: TaintEffect | undefined): TaintEffect | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return EFFECT_STRENGTH[b] > EFFECT_STRENGTH[a] ? b : a;
}

/**
 * The enforcement steps 0..`through` ask for, merged with what is already in force (an action in force
 * is never silently dropped; a taint effect only strengthens). Pure.
 */
export function enforcementThrough(steps: readonly Step[], through: number, current: EnforcementStatus | undefined): EnforcementStatus {
  const applied = steps.slice(0, through + 1).map((s) => s.actions);
  const flags = Object.fromEntries(ACTION_KINDS.map((k) => [ACTIONS[k].statusField, inForce(current, k) || applied.some((a) => asksFor(a, k))]));
  const effect = applied.reduce<TaintEffect | undefined>((e, a) => strongerEffect(e, a.taint?.effect), current?.tainted === true ? current.taintEffect : undefined);
  return { ...flags, ...(effect === undefined ? {} : { taintEffect: effect }) };
}
