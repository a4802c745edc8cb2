import {
  CoreV1Api, CustomObjectsApi, makeInformer,
  type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache,
} from '@kubernetes/client-node';
import type { ConfigMapView, NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { GROUP, VERSION } from '../status/resources.js';
import { toNodeView } from './kube-cluster.js';

/** Read-only views of the informer caches: reconcile reads these, never event payloads. */
export interface Caches {
  policies(): NodeAttestationPolicy[];
  nodeAttestations(): NodeAttestation[];
  nodes(): NodeView[];
  configMap(namespace: string, name: string): ConfigMapView | undefined;
  /** The NodeAttestation attesting `nodeName` (indexed; rounds look it up on every tick). */
  nodeAttestation(nodeName: string): NodeAttestation | undefined;
  node(name: string): NodeView | undefined;
  /** Every informer has listed at least once. */
  synced(): boolean;
}

export type ChangeKind = 'policy' | 'nodeattestation' | 'node' | 'configmap';
export type ChangeListener = (kind: ChangeKind, obj: { name: string; namespace?: string; nodeName?: string }) => void;

export interface Informers extends Caches {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface Watched {
  kind: ChangeKind;
  informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  synced: boolean;
  /** Bumped on every change the informer reports. */
  version: number;
}

/** A list (and index) built from one informer cache, reused until the cache changes. */
export interface Snapshot<T> { version: number; at: number; list: T[]; index: Map<string, T> }

/** A snapshot is rebuilt at least this often even without a change event (bounds any missed event). */
const SNAPSHOT_MAX_AGE_MS = 1000;

/**
 * Snapshots of an informer's objects, rebuilt only when the informer reported a change: the round
 * path reads the caches on every round, and copying (and converting) every object each time is
 * O(nodes) per round.
 */
export function snapshotter<T>(w: Watched, convert: (o: KubernetesObject) => T, indexKey: (t: T) => string, now: () => number = Date.now): () => Snapshot<T> {
  let snap: Snapshot<T> | undefined;
  return () => {
    const t = now();
    if (snap !== undefined && snap.version === w.version && t - snap.at < SNAPSHOT_MAX_AGE_MS) return snap;
    const list = w.informer.list().map(convert);
    snap = { version: w.version, at: t, list, index: new Map(list.map((x) => [indexKey(x), x])) };
    return snap;
  };
}

/**
 * Informers for policies, NodeAttestations, Nodes and ConfigMaps (namespace-wide, the runtime
 * policies and EK trust anchors). A watch that errors is restarted after `restartDelayMs`.
 */
export function makeInformers(kc: KubeConfig, onChange: ChangeListener, opts: { restartDelayMs?: number; onError?: (kind: ChangeKind, e: unknown) => void } = {}): Informers {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const list = (plural: string) => async (): Promise<KubernetesListObject<KubernetesObject>> =>
    custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural }) as Promise<KubernetesListObject<KubernetesObject>>;
  const watched: Watched[] = [
    { kind: 'policy', informer: makeInformer(kc, `/apis/${GROUP}/${VERSION}/nodeattestationpolicies`, list('nodeattestationpolicies')), synced: false, version: 0 },
    { kind: 'nodeattestation', informer: makeInformer(kc, `/apis/${GROUP}/${VERSION}/nodeattestations`, list('nodeattestations')), synced: false, version: 0 },
    { kind: 'node', informer: makeInformer(kc, '/api/v1/nodes', async () => core.listNode() as Promise<KubernetesListObject<KubernetesObject>>), synced: false, version: 0 },
    { kind: 'configmap', informer: makeInformer(kc, '/api/v1/configmaps', async () => core.listConfigMapForAllNamespaces() as Promise<KubernetesListObject<KubernetesObject>>), synced: false, version: 0 },
  ];
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  for (const w of watched) {
    const notify = (o: KubernetesObject): void => {
      w.version += 1;
      // The handlers get the cached object: drop its server-side-apply bookkeeping, over half of a
      // NodeAttestation's or Node's JSON, which nothing reads from the cache (RSS at 10,000 nodes).
      delete o.metadata?.managedFields;
      const spec = (o as { spec?: { nodeName?: string } }).spec;
      onChange(w.kind, { name: o.metadata?.name ?? '', ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}), ...(spec?.nodeName ? { nodeName: spec.nodeName } : {}) });
    };
    for (const verb of ['add', 'update', 'delete'] as const) w.informer.on(verb, notify);
    w.informer.on('connect', () => {
      w.synced = true;
      w.version += 1;
    });
    w.informer.on('error', (e: unknown) => {
      // Stopping aborts the watches: that is not a failure to report.
      if (stopped) return;
      opts.onError?.(w.kind, e);
      const t = setTimeout(() => {
        timers.delete(t);
        if (!stopped) w.informer.start().catch((err: unknown) => opts.onError?.(w.kind, err));
      }, opts.restartDelayMs ?? 2000);
      timers.add(t);
    });
  }
  const byKind = (kind: ChangeKind): Watched => watched.find((w) => w.kind === kind)!;
  const same = <T>(o: KubernetesObject): T => o as unknown as T;
  const policies = snapshotter(byKind('policy'), same<NodeAttestationPolicy>, (p) => p.metadata.name);
  const attestations = snapshotter(byKind('nodeattestation'), same<NodeAttestation>, (a) => a.spec.nodeName);
  const nodes = snapshotter(byKind('node'), (o) => toNodeView(o as Parameters<typeof toNodeView>[0]), (n) => n.metadata.name);
  return {
    async start(): Promise<void> {
      stopped = false;
      await Promise.all(watched.map(async (w) => {
        await w.informer.start();
        w.synced = true;
      }));
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await Promise.all(watched.map((w) => w.informer.stop()));
    },
    // Callers get the shared snapshot arrays: read-only by contract (Caches).
    policies: () => policies().list,
    nodeAttestations: () => attestations().list,
    nodes: () => nodes().list,
    nodeAttestation: (nodeName) => attestations().index.get(nodeName),
    node: (name) => nodes().index.get(name),
    configMap(namespace: string, name: string): ConfigMapView | undefined {
      const cm: { metadata?: { resourceVersion?: string }; data?: Record<string, string> } | undefined =
        watched.find((w) => w.kind === 'configmap')!.informer.get(name, namespace);
      return cm === undefined ? undefined : { metadata: { name, namespace, resourceVersion: cm.metadata?.resourceVersion ?? '' }, data: cm.data ?? {} };
    },
    synced: () => watched.every((w) => w.synced),
  };
}
