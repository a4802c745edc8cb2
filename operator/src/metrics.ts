import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The operator's Prometheus metrics (one registry). Round metrics (nodeward_rounds_total,
 * nodeward_round_verify_seconds, nodeward_round_duration_seconds, nodeward_round_queue_lag_seconds)
 * belong to the data plane (round/round-metrics.ts) and are registered on this registry by main.ts.
 * config/prometheus/rules.yaml alerts on these names.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'nodeward_' });

export const metrics = {
  nodesByPhase: new Gauge({ name: 'nodeward_nodes', help: 'NodeAttestations by phase', labelNames: ['phase'] as const, registers: [registry] }),
  actions: new Counter({ name: 'nodeward_enforcement_actions_total', help: 'Enforcement actions that changed something, by action and operation', labelNames: ['action', 'op'] as const, registers: [registry] }),
  revocations: new Counter({ name: 'nodeward_credential_revocations_total', help: 'Node credentials revoked (serial added to the CRL)', registers: [registry] }),
  apiWrites: new Counter({ name: 'nodeward_api_writes_total', help: 'Write requests sent to the Kubernetes API server', labelNames: ['verb', 'resource'] as const, registers: [registry] }),
  reconcileErrors: new Counter({ name: 'nodeward_reconcile_errors_total', help: 'Reconcile attempts that threw (retried with backoff)', labelNames: ['kind'] as const, registers: [registry] }),
  enforcementHeld: new Gauge({ name: 'nodeward_enforcement_held_nodes', help: 'Failing nodes whose enforcement the policy\'s maxUnavailable budget holds, by policy', labelNames: ['policy'] as const, registers: [registry] }),
  kubeletCsrDecisions: new Counter({ name: 'nodeward_kubelet_csr_decisions_total', help: 'Kubelet CSRs approved or denied, by route (BootstrapJoin, NodeClientRenewal, KubeletServing, ForeignRequester), verdict and condition reason', labelNames: ['route', 'verdict', 'reason'] as const, registers: [registry] }),
  policyReferencesInvalid: new Gauge({
    name: 'nodeward_policy_references_invalid', help: 'Policy references (runtime policy, EK trust anchors) that are missing or invalid: 1 per policy, condition and reason',
    labelNames: ['policy', 'condition', 'reason'] as const, registers: [registry],
  }),
  leader: new Gauge({ name: 'nodeward_leader', help: '1 when this replica holds the leader Lease', registers: [registry] }),
  ownedNodes: new Gauge({ name: 'nodeward_owned_nodes', help: "Nodes in the shards this replica owns (the replicas' values sum to the attested fleet)", registers: [registry] }),
  ownedShards: new Gauge({ name: 'nodeward_owned_shards', help: 'Round shards this replica owns', registers: [registry] }),
  liveReplicas: new Gauge({ name: 'nodeward_live_replicas', help: 'Live replicas this replica sees (itself included)', registers: [registry] }),
};

const PHASES = ['Pending', 'Registered', 'Trusted', 'Untrusted', 'Unreachable', 'Conflict', 'Stale'] as const;

export function recordApiWrite(verb: string, resource: string): void {
  metrics.apiWrites.inc({ verb, resource });
}
export function recordAction(action: string, op: string): void {
  metrics.actions.inc({ action, op });
}
/** Set the per-phase gauge from a full count (absent phases become 0). */
export function setNodesByPhase(counts: Readonly<Partial<Record<string, number>>>): void {
  for (const phase of PHASES) metrics.nodesByPhase.set({ phase }, counts[phase] ?? 0);
}

/**
 * Drops the fleet-wide gauges (nodes by phase, held, invalid references): only the leader, which caches
 * the fleet, sets them, and a former leader's last values must not keep an alert (max over replicas) firing.
 */
export function clearFleetGauges(): void {
  metrics.nodesByPhase.reset();
  metrics.enforcementHeld.reset();
  metrics.policyReferencesInvalid.reset();
}

/** Set the held-by-budget gauge from a full count per policy (policies no longer listed are dropped). */
export function setEnforcementHeld(byPolicy: Readonly<Record<string, number>>): void {
  metrics.enforcementHeld.reset();
  for (const [policy, n] of Object.entries(byPolicy)) metrics.enforcementHeld.set({ policy }, n);
}

/** Set the invalid-reference gauge from every policy's status (a fixed reference's series goes). */
export function setPolicyReferencesInvalid(invalid: readonly { policy: string; condition: string; reason: string }[]): void {
  metrics.policyReferencesInvalid.reset();
  for (const i of invalid) metrics.policyReferencesInvalid.set(i, 1);
}
