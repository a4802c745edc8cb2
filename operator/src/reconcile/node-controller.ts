import type { Runnable } from '../manager/manager.js';
import type { Logger } from '../log.js';
import { policyKey } from './node-reconciler.js';
import type { RoundContextCaches } from './round-context.js';
import { WorkQueue, type Reconciler } from './work-queue.js';

/** How long a NodeAttestation change may wait to be counted in its policy's status. */
export const POLICY_COUNTS_DELAY_MS = 5000;

/** What an informer reports changed (kube/informers ChangeKind, restated so this folder needs no kube/ import). */
export type ChangedKind = 'policy' | 'nodeattestation' | 'node' | 'configmap';

export interface NodeControllerOptions {
  caches: Pick<RoundContextCaches, 'nodes' | 'nodeAttestations' | 'policies' | 'nodeAttestation'>;
  reconcile: Reconciler;
  concurrency: number;
  /** The schedules made to match the CRs (scheduler.reconcileSchedules); resolves how many stale ones went. */
  reconcileSchedules: () => Promise<{ removed: readonly unknown[] }>;
  /** Told of every reconcile that threw (it is retried with backoff). */
  onError: (item: string, e: unknown, attempt: number) => void;
  log: Logger;
}

/**
 * The leader's controller: a work queue of node names and `policy/<name>` keys, filled from informer
 * changes and a periodic resync, drained by the node reconciler. A leader component: the queue exists
 * only while this replica leads, so a follower's changes are dropped here and nowhere else.
 */
export class NodeController implements Runnable {
  readonly name = 'node-controller';
  readonly needsLeader = true;
  private queue: WorkQueue | undefined;
  private schedulesResyncing = false;

  constructor(private readonly o: NodeControllerOptions) {}

  start(): void {
    if (this.queue !== undefined) return;
    const queue: WorkQueue = new WorkQueue((key) => (this.queue === queue ? this.o.reconcile(key) : Promise.resolve()), {
      concurrency: this.o.concurrency, onError: this.o.onError,
    });
    this.queue = queue;
    this.enqueueAll();
  }

  stop(): void {
    this.queue?.stop();
    this.queue = undefined;
  }

  /** An informer change: the node (or attested node) itself, or every key for a policy or ConfigMap change. */
  changed(kind: ChangedKind, obj: { name: string; nodeName?: string }): void {
    switch (kind) {
      case 'node':
        return this.queue?.add(obj.name);
      case 'nodeattestation':
        return this.attestationChanged(obj.nodeName ?? obj.name);
      case 'policy':
      case 'configmap':
        return this.enqueueAll(); // every node may be affected
    }
  }

  /**
   * The node, and its policy's status (the per-phase counts) within POLICY_COUNTS_DELAY_MS: a burst of
   * phase changes (a bad policy push failing a fleet) is one policy status write per delay, not one per node.
   */
  private attestationChanged(nodeName: string): void {
    this.queue?.add(nodeName);
    const na = this.o.caches.nodeAttestation?.(nodeName);
    if (na !== undefined) this.queue?.addWithin(policyKey(na.spec.policyName), POLICY_COUNTS_DELAY_MS);
  }

  /** Every key the leader should look at: each node (or attested node) and each policy. */
  enqueueAll(): void {
    const q = this.queue;
    if (q === undefined) return;
    const c = this.o.caches;
    const nodes = new Set([...c.nodes().map((n) => n.metadata.name), ...c.nodeAttestations().map((a) => a.spec.nodeName)]);
    for (const k of [...nodes, ...c.policies().map((p) => policyKey(p.metadata.name))]) q.add(k);
  }

  /**
   * The resync: every key again, and the schedules made to match the CRs (stale ones, a node removed
   * while another replica led, go; a shard scheduler two overlapping leaders removed comes back).
   */
  resync(): void {
    if (this.queue === undefined) return;
    this.enqueueAll();
    if (this.schedulesResyncing) return;
    this.schedulesResyncing = true;
    this.o.reconcileSchedules()
      .then((r) => { if (r.removed.length > 0) this.o.log.info('stale round schedules removed', { count: r.removed.length }); })
      .catch((e: unknown) => this.o.log.warn('round schedule resync failed', { error: e }))
      .finally(() => { this.schedulesResyncing = false; });
  }

  /** Resolves when the queue is empty (tests). */
  drained(): Promise<void> {
    return this.queue?.drained() ?? Promise.resolve();
  }
}
