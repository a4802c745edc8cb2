import type { KubernetesObject } from '@kubernetes/client-node';
import { GROUP, NODE_CONDITION_TRUSTED } from '../status/resources.js';

/**
 * What the operator reads of a Node (toNodeView, selectors, the agent's address, the taint and cordon
 * decisions, the Node condition it mirrors): name, uid, resourceVersion, deletionTimestamp, every label
 * (a policy may select on any), the operator's own annotations, taints, unschedulable, the addresses
 * and the operator's own condition (NODE_CONDITION_TRUSTED). The rest of a real Node (an
 * image list, conditions, capacity, nodeInfo, other controllers' annotations, managedFields: 10-20 KB of
 * JSON) is never read; writes to a Node read it whole from the API server first.
 */
const KEPT_META = ['name', 'uid', 'resourceVersion', 'deletionTimestamp', 'labels', 'annotations'] as const;
const OWN_ANNOTATIONS = `${GROUP}/`;

interface NodeLike extends KubernetesObject {
  spec?: { taints?: unknown[]; unschedulable?: boolean } & Record<string, unknown>;
  status?: { addresses?: unknown[]; conditions?: { type?: string }[] } & Record<string, unknown>;
}

/**
 * Trims a Node, in place, to the fields the operator uses, as the informer receives it (the informer
 * keeps the object it hands its handlers, so trimming that object is what shrinks the cache), like
 * controller-runtime's cache.TransformFunc. Idempotent.
 */
export function transformNode(o: KubernetesObject): void {
  const node = o as NodeLike;
  if (node.metadata !== undefined) trimMetadata(node.metadata as Record<string, unknown>);
  const { taints, unschedulable } = node.spec ?? {};
  node.spec = { ...(taints === undefined ? {} : { taints }), ...(unschedulable === undefined ? {} : { unschedulable }) };
  const addresses = node.status?.addresses;
  // Without its own condition the operator would see it missing and write it again every round.
  const conditions = node.status?.conditions?.filter((c) => c.type === NODE_CONDITION_TRUSTED) ?? [];
  node.status = { ...(addresses === undefined ? {} : { addresses }), ...(conditions.length === 0 ? {} : { conditions }) };
}

function trimMetadata(meta: Record<string, unknown>): void {
  for (const k of Object.keys(meta)) if (!(KEPT_META as readonly string[]).includes(k)) delete meta[k];
  const ann = meta['annotations'] as Record<string, string> | undefined;
  if (ann === undefined) return;
  const own = Object.entries(ann).filter(([k]) => k.startsWith(OWN_ANNOTATIONS));
  if (own.length === 0) delete meta['annotations'];
  else meta['annotations'] = Object.fromEntries(own);
}

/** Trims any other cached object: the server-side-apply bookkeeping, over half of a NodeAttestation's JSON, is never read. */
export function transformCached(o: KubernetesObject): void {
  delete o.metadata?.managedFields;
}
