import type { AgentClient } from '../agent-client/agent-client.js';
import type { CredentialAuthority } from '../ca/credential-authority.js';
import type { EnforcementAction } from '../decide/actions.js';
import type { Cluster } from '../kube/cluster.js';
import type { Logger } from '../log.js';
import type { TaintEffect } from '../status/resources.js';
import { metrics, recordAction } from '../metrics.js';
import { withCordon, withoutCordon, withTaint, withoutTaint } from './taints.js';

export interface EnforceTarget {
  nodeName: string;
  /** The NodeAttestation (same name as the node) the Events are also about. */
  attestationName: string;
  /** Registered AK Name, for the credential extension. */
  akName: string | undefined;
  /** Where the node's agent listens, if known (credential delivery / deletion). */
  agentUrl: string | undefined;
}

export interface EnforcerOptions {
  /** Re-issue a credential that expires within this. */
  renewBeforeMs: number;
  now?: () => Date;
}

/**
 * Converges a node's actual enforcement to the action set derived from its status. Every action
 * is idempotent and reports whether it changed something; an Event is emitted only on a change,
 * so re-running after a crash (or on every resync) emits nothing twice.
 */
export class Enforcer {
  private readonly now: () => Date;

  constructor(
    private readonly cluster: Pick<Cluster, 'editNode' | 'createEvent'>,
    private readonly credentials: CredentialAuthority,
    private readonly agent: Pick<AgentClient, 'putCredential' | 'deleteCredential'>,
    private readonly log: Logger,
    private readonly o: EnforcerOptions,
  ) {
    this.now = o.now ?? (() => new Date());
  }

  /** Apply every action in order; resolves the actions that changed something. */
  async converge(target: EnforceTarget, actions: readonly EnforcementAction[]): Promise<EnforcementAction[]> {
    const changed: EnforcementAction[] = [];
    for (const action of actions) if (await this.apply(target, action)) changed.push(action);
    return changed;
  }

  private async apply(t: EnforceTarget, a: EnforcementAction): Promise<boolean> {
    switch (a.kind) {
      case 'taint':
        return this.taint(t, a.op, a.key, a.effect);
      case 'cordon':
        return this.cordon(t, a.op);
      case 'revoke-credentials':
        return this.revoke(t);
      case 'issue-credential':
        return this.issue(t);
    }
  }

  private async taint(t: EnforceTarget, op: 'apply' | 'lift', key: string, effect: TaintEffect = 'NoSchedule'): Promise<boolean> {
    const changed = await this.cluster.editNode(t.nodeName, (n) => {
      const taints = op === 'apply' ? withTaint(n.spec?.taints, key, effect, this.now()) : withoutTaint(n.spec?.taints, key);
      return taints === undefined ? undefined : { taints };
    });
    if (!changed) return false;
    recordAction('taint', op);
    if (op === 'apply') await this.event(t, 'NodeTainted', `taint ${key}:${effect} applied`);
    return true;
  }

  private async cordon(t: EnforceTarget, op: 'apply' | 'lift'): Promise<boolean> {
    const changed = await this.cluster.editNode(t.nodeName, op === 'apply' ? withCordon : withoutCordon);
    if (!changed) return false;
    recordAction('cordon', op);
    if (op === 'apply') await this.event(t, 'NodeCordoned', 'node cordoned (unschedulable)');
    return true;
  }

  private async revoke(t: EnforceTarget): Promise<boolean> {
    const serial = await this.credentials.revoke(t.nodeName);
    if (serial === undefined) return false;
    recordAction('credentials', 'revoke');
    metrics.revocations.inc();
    if (t.agentUrl !== undefined) {
      // Best effort: the serial is already in the CRL whatever the agent does.
      await this.agent.deleteCredential(t.agentUrl).catch((e: unknown) => this.log.warn('agent credential delete failed', { node: t.nodeName, error: e }));
    }
    await this.event(t, 'CredentialsRevoked', `credential serial ${serial} revoked and added to the CRL`);
    return true;
  }

  private async issue(t: EnforceTarget): Promise<boolean> {
    if (t.akName === undefined) return false;
    let cur = await this.credentials.current(t.nodeName);
    const fresh = cur !== undefined && !this.credentials.isRevoked(cur.serial) && cur.akName === t.akName &&
      cur.notAfter.getTime() - this.now().getTime() > this.o.renewBeforeMs;
    let changed = false;
    if (!fresh) {
      const c = await this.credentials.issue(t.nodeName, t.akName);
      cur = { ...c, akName: t.akName, delivered: false };
      changed = true;
      recordAction('credentials', 'issue');
    }
    if (cur !== undefined && !cur.delivered && t.agentUrl !== undefined) {
      try {
        await this.agent.putCredential(t.agentUrl, { certificatePem: cur.certificatePem, privateKeyPem: cur.privateKeyPem, caPem: this.credentials.caPem() });
        await this.credentials.markDelivered(t.nodeName, cur);
        changed = true;
      } catch (e) {
        this.log.warn('credential delivery failed; retried on the next convergence', { node: t.nodeName, error: e });
      }
    }
    return changed;
  }

  private async event(t: EnforceTarget, reason: string, message: string): Promise<void> {
    await this.cluster.createEvent({
      type: 'Warning', reason, message,
      involved: [{ kind: 'Node', name: t.nodeName }, { kind: 'NodeAttestation', name: t.attestationName }],
    });
  }
}
