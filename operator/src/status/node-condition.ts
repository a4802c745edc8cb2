import { msUntilStale } from '../decide/freshness.js';
import { resourceVersionAtLeast } from '../kube/resource-version.js';
import { CONDITION, REASON, findCondition } from './conditions.js';
import type { NodeAttestation, NodeCondition, NodeView } from './resources.js';
import { NODE_CONDITION_TRUSTED } from './resources.js';

/** Reasons of the Node condition besides those it mirrors from the NodeAttestation's Trusted condition. */
export const NODE_REASON = {
  /** No policy attests the node (any more): the condition is kept, Unknown, so nothing reads an old True. */
  NotAttested: 'NotAttested',
  /** Attested, but no round has decided yet. */
  AwaitingAttestation: 'AwaitingAttestation',
} as const;

/** Node condition messages are cut to this many characters (failure lists can be long). */
const MAX_MESSAGE = 1024;

export type NodeConditionInput = Pick<NodeCondition, 'status' | 'reason' | 'message'>;

/**
 * The Node condition `attestation.nodeward.io/Trusted` a node should carry, from its NodeAttestation. Pure.
 * - True only while the NodeAttestation is Trusted and its last passing round is within the freshness
 *   window (`windowMs`): a Trusted status whose rounds stopped reads Unknown/RoundsStale at once, before
 *   the reconciler has recorded Stale.
 * - Otherwise the NodeAttestation's Trusted condition (False: failed, conflict, held; Unknown: unreachable,
 *   stale), a refused registration as False, or Unknown while awaiting the first round.
 * - No NodeAttestation: Unknown/NotAttested.
 */
export function desiredNodeCondition(na: NodeAttestation | undefined, windowMs: number, now: Date): NodeConditionInput {
  if (na === undefined) return { status: 'Unknown', reason: NODE_REASON.NotAttested, message: 'no NodeAttestationPolicy selects this node' };
  const untilStale = msUntilStale(na.status, windowMs, now);
  if (untilStale !== undefined && untilStale <= 0) {
    return { status: 'Unknown', reason: REASON.RoundsStale, message: `no passing attestation round since ${na.status?.lastSuccessTime ?? 'never'} (policy ${na.spec.policyName})` };
  }
  return fromConditions(na);
}

/** True only with phase Trusted; else the Trusted condition, a refused registration, or awaiting a round. */
function fromConditions(na: NodeAttestation): NodeConditionInput {
  const trusted = findCondition(na.status?.conditions, CONDITION.Trusted);
  if (trusted !== undefined && (trusted.status !== 'True' || na.status?.phase === 'Trusted')) return mirrored(na, trusted);
  const registered = findCondition(na.status?.conditions, CONDITION.Registered);
  if (registered?.status === 'False') return mirrored(na, { status: 'False', reason: registered.reason, message: registered.message });
  return { status: 'Unknown', reason: NODE_REASON.AwaitingAttestation, message: `policy ${na.spec.policyName}: phase ${na.status?.phase ?? 'Pending'}, waiting for an attestation round` };
}

function mirrored(na: NodeAttestation, c: NodeConditionInput): NodeConditionInput {
  const message = `${c.message === '' ? c.reason : c.message} (policy ${na.spec.policyName}; see NodeAttestation ${na.metadata.name})`;
  return { status: c.status, reason: c.reason, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message };
}

/**
 * The condition to write on the Node, or undefined when the Node already says it (status, reason and
 * message): writes happen on change only. A node without the condition and without a NodeAttestation
 * gets none (nodes no policy ever selected are not written to). lastTransitionTime moves only when the
 * status does; lastHeartbeatTime is the time of the write. Pure.
 */
export function nodeConditionUpdate(node: NodeView, desired: NodeConditionInput, attested: boolean, now: Date): NodeCondition | undefined {
  const current = node.status?.conditions?.find((c) => c.type === NODE_CONDITION_TRUSTED);
  if (current === undefined && !attested) return undefined;
  if (current !== undefined && current.status === desired.status && current.reason === desired.reason && current.message === desired.message) return undefined;
  const at = now.toISOString();
  return {
    type: NODE_CONDITION_TRUSTED, ...desired,
    lastTransitionTime: current !== undefined && current.status === desired.status && current.lastTransitionTime !== undefined ? current.lastTransitionTime : at,
    lastHeartbeatTime: at,
  };
}

/**
 * The condition this replica last wrote per Node, until the Node cache shows that write: a reconcile
 * in between (the NodeAttestation's own watch event, say) would otherwise write it a second time. Once
 * the cache has caught up (its resourceVersion at least the one the write returned), the cache decides
 * again, so a kubelet's later overwrite is still put back.
 */
export class NodeConditionWrites {
  private readonly written = new Map<string, { resourceVersion: string; condition: NodeConditionInput }>();

  /** True when `desired` is what this replica wrote and the cached Node predates that write. */
  pending(node: NodeView, desired: NodeConditionInput): boolean {
    const w = this.written.get(node.metadata.name);
    if (w === undefined) return false;
    if (resourceVersionAtLeast(node.metadata.resourceVersion, w.resourceVersion)) {
      this.written.delete(node.metadata.name);
      return false;
    }
    return w.condition.status === desired.status && w.condition.reason === desired.reason && w.condition.message === desired.message;
  }

  record(nodeName: string, resourceVersion: string | undefined, condition: NodeConditionInput): void {
    if (resourceVersion === undefined) this.written.delete(nodeName);
    else this.written.set(nodeName, { resourceVersion, condition });
  }
}
