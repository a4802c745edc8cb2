import type { AttestationTarget } from '../ports.js';
import type { NodeAttestation, NodeAttestationPolicy, NodeView, OwnerReference } from '../status/resources.js';
import { API_VERSION } from '../status/resources.js';
import { shardOf } from '../queue/round-job.js';
import { parseDurationMs } from './duration.js';
import { matchesSelector } from './selector.js';

export interface PlanInputs {
  policies: readonly NodeAttestationPolicy[];
  nodes: readonly NodeView[];
  nodeAttestations: readonly NodeAttestation[];
  /** Indexed lookups (the informer caches have them); without, the lists are scanned: O(nodes) per plan. */
  node?(name: string): NodeView | undefined;
  nodeAttestation?(nodeName: string): NodeAttestation | undefined;
}
export interface PlanOptions {
  agentPort: number;
  /** Used when a policy's interval is absent or invalid. */
  defaultIntervalMs: number;
}

/** The NodeAttestation that should exist for a node (applied with SSA; name = node name). */
export interface DesiredAttestation {
  name: string;
  nodeName: string;
  policyName: string;
  ownerReference: OwnerReference;
  /** The node's round shard at the policy's interval (shardOf): labelled on the NodeAttestation for followers' caches. */
  shard: string;
}
export interface PolicyConflict {
  nodeName: string;
  /** Sorted names of every policy selecting the node. */
  policyNames: string[];
  /** The existing NodeAttestation, kept (with its enforcement), never Trusted, still attested under its policy. */
  existing?: string;
}
/**
 * The node left its policy's selector while Untrusted, Unreachable or enforced (a compromised node can
 * remove a kubelet-writable label from itself), or moved into another policy's: its NodeAttestation and
 * enforcement are kept, and no round runs, until an administrator deletes the NodeAttestation (or the
 * old policy) or the node is selected by its policy again.
 */
export interface HeldAttestation {
  name: string;
  nodeName: string;
  policyName: string;
}
export type DeletionReason = 'node-deleted' | 'unselected' | 'policy-deleted';
export interface PlannedDeletion {
  name: string;
  nodeName: string;
  policyName: string;
  reason: DeletionReason;
}

/** What one node needs; every field is absent when there is nothing to do of that kind. */
export interface NodePlan {
  nodeName: string;
  desired?: DesiredAttestation;
  /** Set with desired when the node has an InternalIP to reach its agent at. */
  target?: AttestationTarget;
  conflict?: PolicyConflict;
  deletion?: PlannedDeletion;
  held?: HeldAttestation;
  /** True when the node must have no round schedule (deleted, unselected, in conflict, no address). */
  removeSchedule: boolean;
}

export interface Plan {
  nodes: NodePlan[];
  /** Policy name → nodes it alone selects (its status.matchedNodes) and nodes in conflict. */
  policies: Record<string, { matchedNodes: number; conflictingNodes: string[] }>;
}

const live = <T extends { metadata: { deletionTimestamp?: unknown } }>(o: T): boolean => o.metadata.deletionTimestamp == null;

/** The plan for one node (the work-queue key), from the informer caches. Pure. */
export function planNode(nodeName: string, inputs: PlanInputs, options: PlanOptions): NodePlan {
  const { node, existing } = lookUp(nodeName, inputs);
  const policies = inputs.policies.filter(live);
  const matching = node === undefined ? [] : policies.filter((p) => matchesSelector(p.spec.nodeSelector, node.metadata.labels));

  if (node === undefined || matching.length === 0) return unattested(nodeName, node, existing, policies);
  if (matching.length > 1) return conflicted(node, matching, existing, options);
  const policy = matching[0]!;
  // Relabelled into another policy (say an Audit one) while enforced: as good as leaving, so held too.
  const moving = existing !== undefined && existing.spec.policyName !== policy.metadata.name && isEnforcedOrUntrusted(existing)
    && policies.some((p) => p.metadata.name === existing.spec.policyName);
  if (moving) return { nodeName, removeSchedule: true, held: { name: existing.metadata.name, nodeName, policyName: existing.spec.policyName } };
  const desired = desiredFor(nodeName, policy, options);
  const target = targetFor(node, policy, options);
  return { nodeName, desired, removeSchedule: target === undefined, ...(target ? { target } : {}) };
}

/** The plan for every node that exists or has a NodeAttestation. Pure. */
export function plan(inputs: PlanInputs, options: PlanOptions): Plan {
  const names = new Set([...inputs.nodes.map((n) => n.metadata.name), ...inputs.nodeAttestations.map((na) => na.spec.nodeName)]);
  const indexed = withIndex(inputs);
  const nodes = [...names].sort().map((n) => planNode(n, indexed, options));
  const policies: Plan['policies'] = {};
  for (const p of inputs.policies.filter(live)) policies[p.metadata.name] = { matchedNodes: 0, conflictingNodes: [] };
  for (const np of nodes) {
    if (np.desired && policies[np.desired.policyName]) policies[np.desired.policyName]!.matchedNodes += 1;
    for (const name of np.conflict?.policyNames ?? []) policies[name]?.conflictingNodes.push(np.nodeName);
  }
  return { nodes, policies };
}

/**
 * The round schedules there should be: one per registered NodeAttestation (an AK on record) whose node
 * its policy alone selects and that has an agent address. The reconciler ensures exactly these, so the
 * periodic resync can make the scheduler match them (repairing what a leader handover overlap broke). Pure.
 */
export function scheduledTargets(inputs: PlanInputs, options: PlanOptions): AttestationTarget[] {
  const indexed = inputs.node !== undefined && inputs.nodeAttestation !== undefined ? inputs : withIndex(inputs);
  const targets: AttestationTarget[] = [];
  for (const na of inputs.nodeAttestations) {
    if (na.status?.identity?.akPublic === undefined) continue;
    const { target } = planNode(na.spec.nodeName, indexed, options);
    if (target !== undefined && target.policyName === na.spec.policyName) targets.push(target);
  }
  return targets;
}

/** The node (if live) and its NodeAttestation, by the inputs' lookups or by scanning the lists. */
function lookUp(nodeName: string, inputs: PlanInputs): { node: NodeView | undefined; existing: NodeAttestation | undefined } {
  const found = inputs.node !== undefined ? inputs.node(nodeName) : inputs.nodes.find((n) => n.metadata.name === nodeName);
  return {
    node: found !== undefined && live(found) ? found : undefined,
    existing: inputs.nodeAttestation !== undefined ? inputs.nodeAttestation(nodeName) : inputs.nodeAttestations.find((na) => na.spec.nodeName === nodeName),
  };
}

/** The inputs with lookups by name (first match wins, as a scan would), built once: plan() is then O(nodes), not O(nodes²). */
function withIndex(inputs: PlanInputs): PlanInputs {
  const firstBy = <T>(xs: readonly T[], key: (x: T) => string): Map<string, T> => {
    const m = new Map<string, T>();
    for (const x of xs) if (!m.has(key(x))) m.set(key(x), x);
    return m;
  };
  const nodes = firstBy(inputs.nodes, (n) => n.metadata.name);
  const attestations = firstBy(inputs.nodeAttestations, (a) => a.spec.nodeName);
  return { ...inputs, node: (n) => nodes.get(n), nodeAttestation: (n) => attestations.get(n) };
}

/** More than one policy selects the node: rounds go on under the policy it is already attested against, so a compromise is still caught. */
function conflicted(node: NodeView, matching: readonly NodeAttestationPolicy[], existing: NodeAttestation | undefined, options: PlanOptions): NodePlan {
  const nodeName = node.metadata.name;
  const policyNames = matching.map((p) => p.metadata.name).sort();
  const conflict = { nodeName, policyNames, ...(existing ? { existing: existing.metadata.name } : {}) };
  const current = matching.find((p) => p.metadata.name === existing?.spec.policyName);
  const target = current === undefined ? undefined : targetFor(node, current, options);
  return { nodeName, removeSchedule: target === undefined, conflict, ...(target ? { target } : {}) };
}

/** No policy selects the node (or it is gone): delete its NodeAttestation, unless the node walked out while enforced. */
function unattested(nodeName: string, node: NodeView | undefined, existing: NodeAttestation | undefined, policies: readonly NodeAttestationPolicy[]): NodePlan {
  if (existing === undefined) return { nodeName, removeSchedule: true };
  const reason = deletionReason(node, existing, policies);
  const ids = { name: existing.metadata.name, nodeName, policyName: existing.spec.policyName };
  if (reason === 'unselected' && isEnforcedOrUntrusted(existing)) return { nodeName, removeSchedule: true, held: ids };
  return { nodeName, removeSchedule: true, deletion: { ...ids, reason } };
}

/** Untrusted or Unreachable, or any enforcement in force: what a node must not shed by leaving a selector. */
export function isEnforcedOrUntrusted(na: NodeAttestation): boolean {
  const e = na.status?.enforcement;
  return na.status?.phase === 'Untrusted' || na.status?.phase === 'Unreachable'
    || e?.tainted === true || e?.cordoned === true || e?.credentialsRevoked === true;
}

function deletionReason(node: NodeView | undefined, na: NodeAttestation, policies: readonly NodeAttestationPolicy[]): DeletionReason {
  if (node === undefined) return 'node-deleted';
  return policies.some((p) => p.metadata.name === na.spec.policyName) ? 'unselected' : 'policy-deleted';
}

function desiredFor(nodeName: string, policy: NodeAttestationPolicy, options: PlanOptions): DesiredAttestation {
  return {
    shard: shardOf(nodeName, intervalOf(policy, options)).id,
    name: nodeName,
    nodeName,
    policyName: policy.metadata.name,
    ownerReference: {
      apiVersion: API_VERSION,
      kind: 'NodeAttestationPolicy',
      name: policy.metadata.name,
      uid: policy.metadata.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    },
  };
}

/** The Node's InternalIP as its status reports it (the kubelet's word, never its identity); undefined without one. */
export function internalIpOf(node: NodeView): string | undefined {
  const ip = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  return ip === undefined || ip === '' ? undefined : ip;
}

/**
 * `https://<node>@<InternalIP>:<agentPort>`; IPv6 addresses are bracketed. Undefined without an
 * InternalIP. The user part names the node the agent must prove it serves: the agent client checks
 * the serving certificate names it and tells the agent, which refuses to answer for another node.
 */
export function agentUrlFor(node: NodeView, agentPort: number): string | undefined {
  const ip = internalIpOf(node);
  return ip === undefined ? undefined : agentUrlAt(node.metadata.name, ip, agentPort);
}

/** The agent URL of a node at an address (agentUrlFor's form). */
export function agentUrlAt(nodeName: string, ip: string, agentPort: number): string {
  return `https://${nodeName}@${ip.includes(':') ? `[${ip}]` : ip}:${agentPort}`;
}

function targetFor(node: NodeView, policy: NodeAttestationPolicy, options: PlanOptions): AttestationTarget | undefined {
  const agentUrl = agentUrlFor(node, options.agentPort);
  if (agentUrl === undefined) return undefined;
  return {
    nodeName: node.metadata.name,
    policyName: policy.metadata.name,
    agentUrl,
    intervalMs: intervalOf(policy, options),
  };
}

function intervalOf(policy: NodeAttestationPolicy, options: PlanOptions): number {
  return parseDurationMs(policy.spec.interval) ?? options.defaultIntervalMs;
}
