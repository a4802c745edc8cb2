import type { AgentClient } from '../agent-client/agent-client.js';
import type { CredentialAuthority } from '../ca/credential-authority.js';
import { ACTIONS } from '../decide/action-table.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, type DrainAction, type EnforcementAction, type QuarantineAction } from '../decide/actions.js';
import type { Cluster, Pods } from '../kube/cluster.js';
import type { Logger } from '../log.js';
import { metrics, recordAction } from '../metrics.js';
import type { DrainProgress, PodView } from '../status/resources.js';
import { drainOver, nextDrainProgress, podsToEvict } from './drain.js';
import type { KubeletQuarantine } from './kubelet-quarantine.js';
import { nodeEditFor, type NodeAction } from './taints.js';

export interface EnforceTarget {
  nodeName: string;
  /** The NodeAttestation (same name as the node) the Events are also about. */
  attestationName: string;
  /** Registered AK Name, for the credential extension. */
  akName: string | undefined;
  /** Where the node's agent listens, if known (credential delivery / deletion). */
  agentUrl: string | undefined;
  /** The failure a quarantine names (quarantineReason of the status). */
  failure: string;
  /** The drain's progress as status last showed it. */
  drain?: DrainProgress | undefined;
}

export interface EnforcerOptions {
  /** Re-issue a credential that expires within this. */
  renewBeforeMs: number;
  /** The quarantine list the kubelet-quarantine ValidatingAdmissionPolicy reads. */
  quarantine: Pick<KubeletQuarantine, 'apply' | 'lift'>;
  now?: () => Date;
}

/**
 * Converges a node's actual enforcement to the action set derived from its status. Every action
 * is idempotent and reports whether it changed something; an Event is emitted only on a change,
 * so re-running after a crash (or on every resync) emits nothing twice.
 */
export class Enforcer {
  private readonly now: () => Date;
  /** Per node, the convergence running now: the next one for that node starts after it. */
  private readonly running = new Map<string, Promise<unknown>>();
  /** Nodes whose credential is issued but its delivery to the agent failed last time. */
  private readonly undelivered = new Set<string>();
  /** Per node, the drain progress this replica last wrote (status may not show it yet). */
  private readonly drains = new Map<string, DrainProgress>();

  constructor(
    private readonly cluster: Pick<Cluster, 'editNode' | 'createEvent'> & Pods,
    private readonly credentials: CredentialAuthority,
    private readonly agent: Pick<AgentClient, 'putCredential' | 'deleteCredential'>,
    private readonly log: Logger,
    private readonly o: EnforcerOptions,
  ) {
    this.now = o.now ?? (() => new Date());
  }

  /**
   * Apply every action in order; resolves the actions that changed something. The taint and cordon
   * actions are one read-modify-write of the Node. Convergences of one node run one after another
   * (a round's and a reconcile's never interleave, so a credential is issued once).
   */
  async converge(target: EnforceTarget, actions: readonly EnforcementAction[]): Promise<EnforcementAction[]> {
    const before = this.running.get(target.nodeName) ?? Promise.resolve();
    const run = before.then(() => this.convergeNow(target, actions));
    const settled = run.catch(() => undefined);
    this.running.set(target.nodeName, settled);
    void settled.then(() => { if (this.running.get(target.nodeName) === settled) this.running.delete(target.nodeName); });
    return run;
  }

  /**
   * False while a node's last convergence left work to retry without changing anything (a credential
   * whose delivery failed, a drain whose evictions a PodDisruptionBudget refused): such a convergence
   * must not be remembered as done.
   */
  isSettled(nodeName: string): boolean {
    return !this.undelivered.has(nodeName) && this.drains.get(nodeName)?.phase !== 'Draining';
  }

  /**
   * The quarantine first (of all actions it is the one that stops the node's kubelet identity at once),
   * then the taint and cordon actions (one Node write), then each other action's handler, in order.
   */
  private async convergeNow(t: EnforceTarget, actions: readonly EnforcementAction[]): Promise<EnforcementAction[]> {
    const changed: EnforcementAction[] = [];
    for (const a of actions) if (a.kind === 'quarantine' && await this.quarantine(t, a)) changed.push(a);
    changed.push(...await this.editNode(t, actions.filter((a): a is NodeAction => a.kind === 'taint' || a.kind === 'cordon')));
    for (const a of actions) if (await this.handle(t, a)) changed.push(a);
    return changed;
  }

  /** Each action's handler; resolves whether it changed something. */
  private async handle(t: EnforceTarget, a: EnforcementAction): Promise<boolean> {
    switch (a.kind) {
      case 'taint':
      case 'cordon':
        return false; // in the one Node write above
      case 'quarantine':
        return false; // first, above
      case 'drain':
        return a.op === 'apply' ? this.drain(t, a) : this.forgetDrain(t);
      case 'revoke-credentials':
        return this.revoke(t);
      case 'issue-credential':
        return this.issue(t);
    }
  }

  /**
   * One drain pass, as kubectl drain does it: evict (Eviction API) every pod on the node but DaemonSet
   * and mirror pods; an eviction a PodDisruptionBudget refuses (429) is retried on the next pass, until
   * the timeout. Progress goes to status.drain before the Events; a finished drain is not repeated.
   */
  private async drain(t: EnforceTarget, a: DrainAction): Promise<boolean> {
    const prev = this.drains.get(t.nodeName) ?? t.drain;
    if (drainOver(prev)) return false;
    const now = this.now();
    const startedAt = prev === undefined ? now : new Date(prev.startedAt);
    const timedOut = now.getTime() - startedAt.getTime() >= (a.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    const { evict, skipped } = podsToEvict(await this.cluster.listPodsOnNode(t.nodeName));
    const next = nextDrainProgress(prev, { ...await this.evictAll(evict, timedOut), skipped }, startedAt, timedOut);
    if (prev !== undefined && next.evicted === prev.evicted && next.phase === prev.phase && next.pending === prev.pending) return false;
    await this.cluster.applyDrainStatus(t.attestationName, next);
    this.drains.set(t.nodeName, next);
    recordAction('drain', next.phase);
    await this.drainEvent(t, prev, next);
    return true;
  }

  /** Evict each pod in turn (none after the timeout): how many went, which a PodDisruptionBudget kept. */
  private async evictAll(pods: readonly PodView[], timedOut: boolean): Promise<{ evictedNow: number; pending: PodView[] }> {
    if (timedOut) return { evictedNow: 0, pending: [...pods] };
    let evictedNow = 0;
    const pending: PodView[] = [];
    for (const pod of pods) {
      const result = await this.cluster.evictPod(pod.namespace, pod.name);
      if (result === 'evicted') evictedNow += 1;
      if (result === 'blocked') pending.push(pod);
    }
    return { evictedNow, pending };
  }

  private async drainEvent(t: EnforceTarget, prev: DrainProgress | undefined, next: DrainProgress): Promise<void> {
    const blocked = next.blockedByDisruptionBudget?.join(', ') ?? '';
    if (prev === undefined) await this.event(t, ACTIONS.drain.eventReason, `draining: ${next.evicted} pods evicted, ${next.pending} refused by a PodDisruptionBudget, ${next.skipped ?? 0} DaemonSet or mirror pods left`);
    if (next.phase === 'Drained') await this.event(t, 'NodeDrained', `drain finished: ${next.evicted} pods evicted`, undefined, 'Normal');
    if (next.phase === 'TimedOut') await this.event(t, 'DrainTimedOut', `drain timed out with ${next.pending} pods a PodDisruptionBudget would not let go: ${blocked}`);
  }

  /** Enforcement lifted: the drain's progress is removed (evicted pods are not brought back). */
  private async forgetDrain(t: EnforceTarget): Promise<boolean> {
    const had = this.drains.delete(t.nodeName) || t.drain !== undefined;
    if (!had) return false;
    await this.cluster.applyDrainStatus(t.attestationName, undefined);
    return true;
  }

  private async editNode(t: EnforceTarget, actions: NodeAction[]): Promise<NodeAction[]> {
    if (actions.length === 0) return [];
    let changed: NodeAction[] = [];
    const wrote = await this.cluster.editNode(t.nodeName, (n) => {
      const r = nodeEditFor(n, actions, this.now());
      changed = r.changed;
      return r.edit;
    });
    if (!wrote) return [];
    for (const a of changed) {
      recordAction(a.kind, a.op);
      if (a.kind === 'taint' && a.op === 'apply') await this.event(t, ACTIONS.taint.eventReason, `taint ${a.key}:${a.effect ?? 'NoSchedule'} applied`);
      if (a.kind === 'cordon' && a.op === 'apply') await this.event(t, ACTIONS.cordon.eventReason, 'node cordoned (unschedulable)');
    }
    return changed;
  }

  private async quarantine(t: EnforceTarget, a: QuarantineAction): Promise<boolean> {
    const changed = a.op === 'apply' ? await this.o.quarantine.apply(t.nodeName, t.failure) : await this.o.quarantine.lift(t.nodeName);
    if (!changed) return false;
    recordAction(a.kind, a.op);
    if (a.op === 'apply') await this.event(t, 'KubeletIdentityQuarantined', `every write by system:node:${t.nodeName} is refused (ValidatingAdmissionPolicy nodeward-kubelet-quarantine): ${t.failure}`);
    else await this.event(t, 'KubeletIdentityRestored', `system:node:${t.nodeName} may write again`, undefined, 'Normal');
    return true;
  }

  private async revoke(t: EnforceTarget): Promise<boolean> {
    const cur = await this.credentials.current(t.nodeName);
    if (cur === undefined) return false;
    // Announced first, under an id made of the serial: once the Secret is gone nothing tells a restarted
    // operator that this revocation still lacks its Event, while a kill between the Event and the
    // revocation is finished by the next convergence, whose repeat of the same Event is a no-op.
    await this.event(t, ACTIONS.revokeCredentials.eventReason, `credential serial ${cur.serial} revoked and added to the CRL`,
      cur.serial === '' ? undefined : `revoked-${cur.serial.toLowerCase()}`);
    const serial = await this.credentials.revoke(t.nodeName);
    if (serial === undefined) return false;
    recordAction('credentials', 'revoke');
    metrics.revocations.inc();
    if (t.agentUrl !== undefined) {
      // Best effort: the serial is already in the CRL whatever the agent does.
      await this.agent.deleteCredential(t.agentUrl).catch((e: unknown) => this.log.warn('agent credential delete failed', { node: t.nodeName, error: e }));
    }
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
        this.undelivered.delete(t.nodeName);
        changed = true;
      } catch (e) {
        this.undelivered.add(t.nodeName);
        this.log.warn('credential delivery failed; retried on the next convergence', { node: t.nodeName, error: e });
      }
    }
    return changed;
  }

  private async event(t: EnforceTarget, reason: string, message: string, id?: string, type: 'Normal' | 'Warning' = 'Warning'): Promise<void> {
    await this.cluster.createEvent({
      type, reason, message,
      involved: [{ kind: 'Node', name: t.nodeName }, { kind: 'NodeAttestation', name: t.attestationName }],
      ...(id === undefined ? {} : { id }),
    });
  }
}
