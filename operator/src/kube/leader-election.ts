import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { isAlreadyExists, isConflict, isNotFound, kubeCall } from './errors.js';

/** coordination.k8s.io/v1 Lease as JSON: MicroTime fields are strings with microseconds. */
interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}
const LEASES = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };
/** RFC 3339 with microseconds, as the API server requires for MicroTime. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface LeaderElectorOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  /** How often to renew (leader) or try to acquire (follower). */
  retryPeriodMs?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  onError?: (e: unknown) => void;
  now?: () => Date;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease (written as plain JSON through the generic
 * custom-objects client: client-node serialises MicroTime with milliseconds, which the API server
 * rejects) (client-go's algorithm, simplified):
 * acquire when the Lease is absent, ours, or not renewed within its duration; renew every retry
 * period; every write carries resourceVersion, so two contenders cannot both win. A leader that
 * fails to renew within the lease duration steps down.
 */
export class LeaderElector {
  private readonly api: CustomObjectsApi;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private readonly leaseMs: number;
  private readonly retryMs: number;
  private readonly now: () => Date;

  constructor(kc: KubeConfig, private readonly o: LeaderElectorOptions) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.leaseMs = o.leaseDurationMs ?? 15_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
    this.now = o.now ?? (() => new Date());
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.timer !== undefined) return;
    const loop = (): void => {
      this.tryAcquireOrRenew()
        .catch((e: unknown) => this.o.onError?.(e))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(loop, this.retryMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stop, and release the Lease if we hold it so a successor need not wait for expiry. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.leading) return;
    this.setLeading(false);
    const lease = await this.read();
    if (lease?.spec?.holderIdentity !== this.o.identity) return;
    const body: Lease = { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } };
    delete body.spec!.renewTime;
    await kubeCall(() => this.api.replaceNamespacedCustomObject({ ...LEASES, namespace: this.o.namespace, name: this.o.name, body })).catch(() => undefined);
  }

  /** One election step; resolves whether we lead afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    try {
      const lease = await this.read();
      if (lease === undefined) await this.create(now);
      else if (!this.canTake(lease, now)) return this.setLeading(this.leading && now.getTime() - this.lastRenew < this.leaseMs);
      else await this.take(lease, now);
      this.lastRenew = now.getTime();
      return this.setLeading(true);
    } catch (e) {
      if (isConflict(e) || isAlreadyExists(e)) return this.setLeading(false);
      // Could not talk to the API server: keep leading only while our lease is surely still valid.
      this.setLeading(this.leading && now.getTime() - this.lastRenew < this.leaseMs);
      throw e;
    }
  }

  private canTake(lease: Lease, now: Date): boolean {
    const holder = lease.spec?.holderIdentity;
    if (holder === undefined || holder === '' || holder === this.o.identity) return true;
    const renew = lease.spec?.renewTime ?? lease.spec?.acquireTime;
    const duration = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    return renew === undefined || new Date(renew).getTime() + duration < now.getTime();
  }

  private async read(): Promise<Lease | undefined> {
    try {
      return (await kubeCall(() => this.api.getNamespacedCustomObject({ ...LEASES, namespace: this.o.namespace, name: this.o.name }))) as Lease;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  private async create(now: Date): Promise<void> {
    const body: Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec: this.spec(now, now, 0) };
    await kubeCall(() => this.api.createNamespacedCustomObject({ ...LEASES, namespace: this.o.namespace, body }));
  }

  private async take(lease: Lease, now: Date): Promise<void> {
    const ours = lease.spec?.holderIdentity === this.o.identity;
    const acquire = ours && lease.spec?.acquireTime !== undefined ? new Date(lease.spec.acquireTime) : now;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (ours ? 0 : 1);
    const body: Lease = { ...lease, spec: this.spec(now, acquire, transitions) };
    await kubeCall(() => this.api.replaceNamespacedCustomObject({ ...LEASES, namespace: this.o.namespace, name: this.o.name, body }));
  }

  private spec(now: Date, acquire: Date, transitions: number): NonNullable<Lease['spec']> {
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      acquireTime: microTime(acquire),
      renewTime: microTime(now),
      leaseTransitions: transitions,
    };
  }

  private setLeading(leading: boolean): boolean {
    if (leading !== this.leading) {
      this.leading = leading;
      if (leading) this.o.onStartedLeading?.();
      else this.o.onStoppedLeading?.();
    }
    return leading;
  }
}
