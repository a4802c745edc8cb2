import type { CordonAction, TaintAction } from '../decide/actions.js';
import type { NodeEdit } from '../kube/cluster.js';
import type { NodeView, Taint, TaintEffect } from '../status/resources.js';
import { ANNOTATION, FIELD_MANAGER } from '../status/resources.js';

/**
 * Pure edits of a Node's atomic `spec.taints` list and `spec.unschedulable`. Each returns the new
 * value, or undefined when nothing would change, so a caller writes (read-modify-write with
 * resourceVersion) only when needed and never touches another controller's taints.
 */
export function withTaint(taints: readonly Taint[] | undefined, key: string, effect: TaintEffect, now: Date): Taint[] | undefined {
  const list = taints ?? [];
  const ours = list.filter((t) => t.key === key);
  if (ours.length === 1 && ours[0]!.effect === effect) return undefined;
  return [...list.filter((t) => t.key !== key), { key, effect, timeAdded: now.toISOString() }];
}

export function withoutTaint(taints: readonly Taint[] | undefined, key: string): Taint[] | undefined {
  const list = taints ?? [];
  return list.some((t) => t.key === key) ? list.filter((t) => t.key !== key) : undefined;
}

/** The cordon change for a node (a NodeEdit): unschedulable and our cordoned-by marker (null removes it). */
export interface CordonChange {
  unschedulable: boolean;
  annotations: Record<string, string | null>;
}

/**
 * Cordon: mark unschedulable and record that WE did it, unless an administrator already had the
 * node cordoned (then we record nothing, so we never uncordon their cordon).
 */
export function withCordon(node: NodeView): CordonChange | undefined {
  if (node.spec?.unschedulable === true) return undefined;
  return { unschedulable: true, annotations: { [ANNOTATION.cordonedBy]: FIELD_MANAGER } };
}

/** Uncordon only a node we cordoned; an administrator's cordon stays. Always drops our marker. */
export function withoutCordon(node: NodeView): CordonChange | undefined {
  if (!cordonedByUs(node)) return undefined;
  return { unschedulable: false, annotations: { [ANNOTATION.cordonedBy]: null } };
}

export function cordonedByUs(node: NodeView): boolean {
  return node.metadata.annotations?.[ANNOTATION.cordonedBy] === FIELD_MANAGER;
}

export type NodeAction = TaintAction | CordonAction;

function editFor(node: NodeView, a: NodeAction, now: Date): NodeEdit | undefined {
  if (a.kind === 'cordon') return a.op === 'apply' ? withCordon(node) : withoutCordon(node);
  const taints = a.op === 'apply' ? withTaint(node.spec?.taints, a.key, a.effect ?? 'NoSchedule', now) : withoutTaint(node.spec?.taints, a.key);
  return taints === undefined ? undefined : { taints };
}

function edited(node: NodeView, e: NodeEdit): NodeView {
  const annotations = Object.fromEntries(Object.entries({ ...node.metadata.annotations, ...e.annotations }).filter((kv): kv is [string, string] => kv[1] !== null));
  return {
    ...node,
    metadata: { ...node.metadata, annotations },
    spec: { ...node.spec, ...(e.taints === undefined ? {} : { taints: e.taints }), ...(e.unschedulable === undefined ? {} : { unschedulable: e.unschedulable }) },
  };
}

/**
 * Every taint and cordon action as one edit of the node (one write), applied in order, each to the
 * node as the ones before it left it; `changed` lists the actions that change something. Pure.
 */
export function nodeEditFor(node: NodeView, actions: readonly NodeAction[], now: Date): { edit: NodeEdit | undefined; changed: NodeAction[] } {
  let view = node;
  let edit: NodeEdit | undefined;
  const changed: NodeAction[] = [];
  for (const a of actions) {
    const e = editFor(view, a, now);
    if (e === undefined) continue;
    changed.push(a);
    edit = { ...edit, ...e, ...(e.annotations === undefined ? {} : { annotations: { ...edit?.annotations, ...e.annotations } }) };
    view = edited(view, e);
  }
  return { edit, changed };
}
