import type { EnforcementAction } from '../decide/actions.js';
import type { RevocationNotice } from '../notify/revocation-notifier.js';
import { agentUrlFor, internalIpOf } from '../reconcile/planner.js';
import type { ConvergenceMemo } from '../reconcile/convergence-memo.js';
import type { NodeAttestation, NodeView } from '../status/resources.js';
import type { EnforceTarget, Enforcer } from './enforcer.js';
import { quarantineReason } from './kubelet-quarantine.js';

export interface NodeEnforcementDeps {
  enforcer: Pick<Enforcer, 'converge' | 'isSettled'>;
  /** Enforcement found converged, skipped until the node changes or the heartbeat passes. */
  converged: ConvergenceMemo;
  node: (name: string) => NodeView | undefined;
  agentPort: number;
  /** Revocation and recovery notices (webhooks), when configured. */
  notify?: (notice: RevocationNotice) => void;
  now?: () => Date;
}

/** Where enforcement acts for a NodeAttestation: credentials go only to the agent at the address its identity was proven at. */
export function enforceTargetFor(na: NodeAttestation, node: NodeView | undefined, agentPort: number): EnforceTarget {
  return {
    nodeName: na.spec.nodeName, attestationName: na.metadata.name, akName: na.status?.identity?.akName,
    agentUrl: node === undefined || internalIpOf(node) !== na.status?.identity?.agentAddress ? undefined : agentUrlFor(node, agentPort),
    drain: na.status?.drain,
    failure: quarantineReason(na.status),
  };
}

/** Which notice the actions that changed something call for: a revocation, a recovery (a taint lifted), or none. Pure. */
export function noticeFor(changed: readonly EnforcementAction[]): RevocationNotice['type'] | undefined {
  if (changed.some((a) => a.kind === 'revoke-credentials')) return 'revocation';
  return changed.some((a) => a.kind === 'taint' && a.op === 'lift') ? 'recovery' : undefined;
}

/**
 * Converge a NodeAttestation's actions (skipping a convergence already found done) and announce
 * only the actions that changed something, so a re-convergence after a crash repeats no notice.
 */
export function makeNodeEnforcement(d: NodeEnforcementDeps): (na: NodeAttestation, actions: EnforcementAction[]) => Promise<void> {
  const now = d.now ?? (() => new Date());
  return async (na, actions) => {
    const target = enforceTargetFor(na, d.node(na.spec.nodeName), d.agentPort);
    const changed = await d.converged.run(na.spec.nodeName, { target, actions }, () => d.enforcer.converge(target, actions),
      () => d.enforcer.isSettled(na.spec.nodeName)) ?? [];
    const type = noticeFor(changed);
    if (type === undefined || d.notify === undefined) return;
    const reason = na.status?.lastFailure?.reason;
    d.notify({ type, node: na.spec.nodeName, policy: na.spec.policyName, reasons: type === 'revocation' && reason ? [reason] : [], time: now().toISOString() });
  };
}
