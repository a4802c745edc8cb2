import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Watches what the benchmarks time, by listing (one request per kind per poll, however many nodes):
 * NodeAttestation phases, credential Secrets and untrusted taints. A view is stamped when its answers
 * arrived, so a measured latency overstates the true one by at most one poll period plus a list.
 *
 * The lists go over kept-alive connections, and Secrets are listed as metadata only: through the
 * generated client every poll opened two new TLS connections (a secure context built from the PEMs
 * and a handshake each, on both sides) and fetched every credential's key material, CPU that the
 * measured control plane then did not have (it is the observer's, not the product's).
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

/** JSON GETs against the API server over one keep-alive agent, authenticated as the kubeconfig says. */
class ApiGetter {
  private opts: Promise<https.RequestOptions>;

  constructor(private readonly kc: k8s.KubeConfig) {
    this.opts = this.options();
  }

  private async options(): Promise<https.RequestOptions> {
    const o: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(o);
    const { ca, cert, key, rejectUnauthorized } = o;
    return { ...o, agent: new https.Agent({ keepAlive: true, maxSockets: 4, ca, cert, key, rejectUnauthorized }) };
  }

  async get<T>(path: string, accept = 'application/json'): Promise<T> {
    const base = await this.opts;
    const url = new URL(path, this.kc.getCurrentCluster()!.server);
    return new Promise<T>((resolve, reject) => {
      https.get(url, { ...base, headers: { ...base.headers, Accept: accept } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('error', reject).on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode}`));
          else resolve(JSON.parse(body) as T);
        });
      }).on('error', reject);
    });
  }

  close(): void {
    void this.opts.then((o) => (o.agent as https.Agent).destroy());
  }
}

export class ClusterPoller {
  private readonly api: ApiGetter;
  private waiters = new Set<Waiter>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  latest: ClusterView = { at: 0, phase: new Map(), credentials: new Set(), tainted: new Set() };

  constructor(kc: k8s.KubeConfig, private readonly opts: PollerOptions) {
    this.api = new ApiGetter(kc);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.api.close();
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
    const list = await this.api.get<{ items: { metadata: { name: string }; status?: { phase?: string } }[] }>('/apis/attestation.nodeward.io/v1alpha1/nodeattestations');
    return new Map(list.items.map((i) => [i.metadata.name, i.status?.phase]));
  }

  private async readCredentials(): Promise<Set<string>> {
    const list = await this.api.get<{ items: { metadata?: { name?: string } }[] }>(`/api/v1/namespaces/${this.opts.namespace}/secrets`,
      'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1');
    return new Set(list.items.map((s) => s.metadata?.name ?? '').filter((n) => n.startsWith(CREDENTIAL_PREFIX)).map((n) => n.slice(CREDENTIAL_PREFIX.length)));
  }

  private async readTaints(): Promise<Set<string>> {
    const list = await this.api.get<{ items: k8s.V1Node[] }>('/api/v1/nodes');
    return new Set(list.items.filter((n) => (n.spec?.taints ?? []).some((t) => t.key === TAINT)).map((n) => n.metadata?.name ?? ''));
  }
}

export const trustedWithCredential = (v: ClusterView, node: string): boolean => v.phase.get(node) === 'Trusted' && v.credentials.has(node);
