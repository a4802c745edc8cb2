import {
  CoreV1Api, CustomObjectsApi, makeInformer,
  type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache,
} from '@kubernetes/client-node';
import type { ConfigMapView, NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { GROUP, VERSION } from '../status/resources.js';
import { toNodeView } from './kube-cluster.js';
import { transformCached, transformNode } from './node-transform.js';

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
}

/** The whole cache is re-read at least this often, even when every change arrived as an event. */
const FULL_RESYNC_MS = 60_000;

const objectKey = (o: KubernetesObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/**
 * One informer's objects, converted once per change and indexed, kept up to date from the
 * informer's add/update/delete events (client-node emits one for every change of its cache). At
 * 10,000 nodes rebuilding the whole list and index on every change was O(nodes) per change, dozens
 * of times a second; now a change costs one conversion, and the list is made again only when a
 * caller asks for it after a change. The index holds, per key, the latest object with that key.
 */
export class IndexedCache<T> {
  private readonly byObject = new Map<string, T>();
  private readonly index = new Map<string, T>();
  /** How many objects share each index key (a second NodeAttestation for one node, say). */
  private readonly keyCount = new Map<string, number>();
  private listed: T[] | undefined;
  private resetAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly convert: (o: KubernetesObject) => T,
    private readonly indexKey: (t: T) => string,
    private readonly source: () => readonly KubernetesObject[],
    private readonly now: () => number = Date.now,
  ) {}

  upsert(o: KubernetesObject): void {
    this.forget(objectKey(o));
    const t = this.convert(o);
    const key = this.indexKey(t);
    this.byObject.set(objectKey(o), t);
    this.index.set(key, t);
    this.keyCount.set(key, (this.keyCount.get(key) ?? 0) + 1);
    this.listed = undefined;
  }

  remove(o: KubernetesObject): void {
    this.forget(objectKey(o));
  }

  get(key: string): T | undefined {
    this.resyncIfDue();
    return this.index.get(key);
  }

  /** Every object; the same array until something changes (read-only by contract). */
  list(): T[] {
    this.resyncIfDue();
    return (this.listed ??= [...this.byObject.values()]);
  }

  /** Re-reads the whole informer cache (belt and braces against a change without an event). */
  reset(): void {
    this.byObject.clear();
    this.index.clear();
    this.keyCount.clear();
    this.resetAt = this.now();
    for (const o of this.source()) this.upsert(o);
    this.listed = undefined;
  }

  private resyncIfDue(): void {
    if (this.now() - this.resetAt >= FULL_RESYNC_MS) this.reset();
  }

  private forget(objKey: string): void {
    const prev = this.byObject.get(objKey);
    if (prev === undefined) return;
    this.byObject.delete(objKey);
    this.listed = undefined;
    const key = this.indexKey(prev);
    const left = (this.keyCount.get(key) ?? 1) - 1;
    if (left > 0) this.keyCount.set(key, left);
    else this.keyCount.delete(key);
    if (this.index.get(key) !== prev) return;
    this.index.delete(key);
    // Rare (two objects with one key): another one with the key takes its place.
    if (left > 0) for (const t of this.byObject.values()) if (this.indexKey(t) === key) this.index.set(key, t);
  }
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
    { kind: 'policy', informer: makeInformer(kc, `/apis/${GROUP}/${VERSION}/nodeattestationpolicies`, list('nodeattestationpolicies')), synced: false },
    { kind: 'nodeattestation', informer: makeInformer(kc, `/apis/${GROUP}/${VERSION}/nodeattestations`, list('nodeattestations')), synced: false },
    { kind: 'node', informer: makeInformer(kc, '/api/v1/nodes', async () => core.listNode() as Promise<KubernetesListObject<KubernetesObject>>), synced: false },
    { kind: 'configmap', informer: makeInformer(kc, '/api/v1/configmaps', async () => core.listConfigMapForAllNamespaces() as Promise<KubernetesListObject<KubernetesObject>>), synced: false },
  ];
  const byKind = (kind: ChangeKind): Watched => watched.find((w) => w.kind === kind)!;
  const cache = <T>(kind: ChangeKind, convert: (o: KubernetesObject) => T, indexKey: (t: T) => string): IndexedCache<T> =>
    new IndexedCache(convert, indexKey, () => byKind(kind).informer.list());
  const same = <T>(o: KubernetesObject): T => o as unknown as T;
  const policies = cache('policy', same<NodeAttestationPolicy>, (p) => p.metadata.name);
  const attestations = cache('nodeattestation', same<NodeAttestation>, (a) => a.spec.nodeName);
  const nodes = cache('node', (o) => toNodeView(o as Parameters<typeof toNodeView>[0]), (n) => n.metadata.name);
  // ConfigMaps are read from the informer by name; nothing lists them.
  const caches: Partial<Record<ChangeKind, Pick<IndexedCache<unknown>, 'upsert' | 'remove'>>> = { policy: policies, nodeattestation: attestations, node: nodes };
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  for (const w of watched) {
    const notify = (verb: 'add' | 'update' | 'delete') => (o: KubernetesObject): void => {
      // The handlers get the object the informer keeps: trimming it trims the cache (node-transform.ts).
      if (w.kind === 'node') transformNode(o);
      else transformCached(o);
      if (verb === 'delete') caches[w.kind]?.remove(o);
      else caches[w.kind]?.upsert(o);
      const spec = (o as { spec?: { nodeName?: string } }).spec;
      onChange(w.kind, { name: o.metadata?.name ?? '', ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}), ...(spec?.nodeName ? { nodeName: spec.nodeName } : {}) });
    };
    for (const verb of ['add', 'update', 'delete'] as const) w.informer.on(verb, notify(verb));
    w.informer.on('connect', () => {
      w.synced = true;
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
    // Callers get the shared arrays: read-only by contract (Caches).
    policies: () => policies.list(),
    nodeAttestations: () => attestations.list(),
    nodes: () => nodes.list(),
    nodeAttestation: (nodeName) => attestations.get(nodeName),
    node: (name) => nodes.get(name),
    configMap(namespace: string, name: string): ConfigMapView | undefined {
      const cm: { metadata?: { resourceVersion?: string; annotations?: Record<string, string> }; data?: Record<string, string>; binaryData?: Record<string, string> } | undefined =
        watched.find((w) => w.kind === 'configmap')!.informer.get(name, namespace);
      if (cm === undefined) return undefined;
      const annotations = cm.metadata?.annotations;
      return {
        metadata: { name, namespace, resourceVersion: cm.metadata?.resourceVersion ?? '', ...(annotations ? { annotations } : {}) },
        data: cm.data ?? {},
        ...(cm.binaryData ? { binaryData: cm.binaryData } : {}),
      };
    },
    synced: () => watched.every((w) => w.synced),
  };
}
