import * as k8s from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Watches what the benchmarks time, by listing (one request per kind per poll, however many nodes):
 * NodeAttestation phases, credential Secrets and untrusted taints. A view is stamped when its answers
 * arrived, so a measured latency overstates the true one by at most one poll period plus a list.
 */
export interface ClusterView {
  readonly at: number;
  readonly phase: ReadonlyMap<string, string | undefined>;
  readonly credentials: ReadonlySet<string>;
  readonly tainted: ReadonlySet<string>;
}

export interface PollerOptions {
  everyMs: number;
  namespace: string;
  phases?: boolean;
  credentials?: boolean;
  taints?: boolean;
}

const TAINT = 'attestation.nodeward.io/untrusted';
const CREDENTIAL_PREFIX = 'nodeward-credential-';

interface Waiter { pred: (v: ClusterView) => boolean; resolve: (at: number) => void }

export class ClusterPoller {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private waiters = new Set<Waiter>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  latest: ClusterView = { at: 0, phase: new Map(), credentials: new Set(), tainted: new Set() };

  constructor(kc: k8s.KubeConfig, private readonly opts: PollerOptions) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Resolves with the stamp of the first view (from now on) where `pred` holds. */
  until(what: string, pred: (v: ClusterView) => boolean, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(w); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); }, timeoutMs);
      const w: Waiter = { pred, resolve: (at) => { clearTimeout(timer); resolve(at); } };
      this.waiters.add(w);
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      const t0 = Date.now();
      try {
        this.latest = await this.read();
        for (const w of [...this.waiters]) {
          if (w.pred(this.latest)) { this.waiters.delete(w); w.resolve(this.latest.at); }
        }
      } catch {
        // A failed list (API server busy) is retried at the next poll.
      }
      await sleep(Math.max(0, this.opts.everyMs - (Date.now() - t0)));
    }
  }

  private async read(): Promise<ClusterView> {
    const [phase, credentials, tainted] = await Promise.all([
      this.opts.phases === true ? this.readPhases() : new Map<string, string | undefined>(),
      this.opts.credentials === true ? this.readCredentials() : new Set<string>(),
      this.opts.taints === true ? this.readTaints() : new Set<string>(),
    ]);
    return { at: Date.now(), phase, credentials, tainted };
  }

  private async readPhases(): Promise<Map<string, string | undefined>> {
    const list = await this.custom.listClusterCustomObject({ group: 'attestation.nodeward.io', version: 'v1alpha1', plural: 'nodeattestations' }) as
      { items: { metadata: { name: string }; status?: { phase?: string } }[] };
    return new Map(list.items.map((i) => [i.metadata.name, i.status?.phase]));
  }

  private async readCredentials(): Promise<Set<string>> {
    const list = await this.core.listNamespacedSecret({ namespace: this.opts.namespace });
    return new Set(list.items.map((s) => s.metadata?.name ?? '').filter((n) => n.startsWith(CREDENTIAL_PREFIX)).map((n) => n.slice(CREDENTIAL_PREFIX.length)));
  }

  private async readTaints(): Promise<Set<string>> {
    const list = await this.core.listNode();
    return new Set(list.items.filter((n) => (n.spec?.taints ?? []).some((t) => t.key === TAINT)).map((n) => n.metadata?.name ?? ''));
  }
}

export const trustedWithCredential = (v: ClusterView, node: string): boolean => v.phase.get(node) === 'Trusted' && v.credentials.has(node);
