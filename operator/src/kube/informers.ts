import {
  CoreV1Api, CustomObjectsApi, makeInformer,
  type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache,
} from '@kubernetes/client-node';
import type { ConfigMapView, NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { GROUP, SHARD_LABEL, VERSION } from '../status/resources.js';
import { shardLabelValue } from '../queue/round-job.js';
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
  /** Changes what the NodeAttestation and Node caches hold; resolves once they hold it (listed). */
  scopeTo(scope: CacheScope): Promise<void>;
  scope(): CacheScope;
}

/**
 * Objects per list request. A list is read in pages and each object is trimmed as its page arrives
 * (node-transform.ts): one unpaged list of 10,000 realistic Nodes is ~170 MB of JSON, more than a
 * replica's heap (a new leader listing it died of it), while a page is a few MB.
 */
export const LIST_PAGE_SIZE = 500;

type ListPage = (cont: string | undefined) => Promise<KubernetesListObject<KubernetesObject>>;

/**
 * The whole list, read page by page (`limit` and `continue`: one consistent snapshot, whose
 * resourceVersion the last page carries for the watch that follows), each object trimmed on arrival.
 */
export async function listInPages(page: ListPage, trim: (o: KubernetesObject) => void): Promise<KubernetesListObject<KubernetesObject>> {
  const items: KubernetesObject[] = [];
  for (let cont: string | undefined, pages = 0; ; pages++) {
    const p = await page(cont);
    for (const o of p.items) {
      trim(o);
      items.push(o);
    }
    // The typed client names it `_continue`; the custom-objects client returns the JSON's `continue`.
    cont = p.metadata?._continue ?? (p.metadata as { continue?: string } | undefined)?.continue;
    if (cont === undefined || cont === '') return { ...p, items };
    if (pages > 100_000) throw new Error('list did not end after 100,000 pages');
  }
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
 * What a replica's NodeAttestation and Node caches hold. `fleet`: every NodeAttestation and every Node
 * (the leader plans, schedules and enforces for the whole fleet). `shards`: only the NodeAttestations
 * labelled (SHARD_LABEL) with one of these round shards, and no Nodes: a follower's rounds need only
 * its own nodes' NodeAttestations (the identity carries the address the agent proved itself at), so its
 * caches grow with its share of the fleet, not with the fleet.
 */
export type CacheScope = { kind: 'fleet' } | { kind: 'shards'; shards: ReadonlySet<string> };

/** The label selector for a set of shards; undefined for none (nothing to watch). */
export function shardSelector(shards: ReadonlySet<string>): string | undefined {
  if (shards.size === 0) return undefined;
  return `${SHARD_LABEL} in (${[...shards].map(shardLabelValue).sort().join(',')})`;
}

/** One running informer: its cache is read only while it is the current one of its kind. */
interface Watch {
  kind: ChangeKind;
  informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  synced: boolean;
  stopped: boolean;
}

/**
 * Informers for policies and ConfigMaps (namespace-wide: the runtime policies and EK trust anchors),
 * and for NodeAttestations and Nodes within the current CacheScope (default: the fleet). A watch that
 * errors is restarted after `restartDelayMs`. `scopeTo` changes the scope make-before-break: the new
 * NodeAttestation informer lists before the old one is dropped, so a cached node never disappears
 * while it stays in scope.
 */
export function makeInformers(kc: KubeConfig, onChange: ChangeListener, opts: { restartDelayMs?: number; onError?: (kind: ChangeKind, e: unknown) => void; scope?: CacheScope; listPageSize?: number } = {}): Informers {
  const limit = opts.listPageSize ?? LIST_PAGE_SIZE;
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const list = (plural: string, labelSelector?: string) => (): Promise<KubernetesListObject<KubernetesObject>> => listInPages((cont) =>
    custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural, limit, ...(cont === undefined ? {} : { _continue: cont }), ...(labelSelector === undefined ? {} : { labelSelector }) }) as Promise<KubernetesListObject<KubernetesObject>>,
  transformCached);
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const same = <T>(o: KubernetesObject): T => o as unknown as T;
  /** The indexed cache over an informer (empty for none: nothing of that kind is in scope). */
  const cacheOf = <T>(w: Watch | undefined, convert: (o: KubernetesObject) => T, indexKey: (t: T) => string): IndexedCache<T> =>
    new IndexedCache(convert, indexKey, () => w?.informer.list() ?? []);
  const naCache = (w: Watch | undefined): IndexedCache<NodeAttestation> => cacheOf(w, same<NodeAttestation>, (a) => a.spec.nodeName);
  const nodeCache = (w: Watch | undefined): IndexedCache<NodeView> => cacheOf(w, (o) => toNodeView(o), (n) => n.metadata.name);

  /** An informer whose events update `cache()` (while it is current) and notify `onChange`. */
  const watch = (kind: ChangeKind, informer: Watch['informer'], cache: () => Pick<IndexedCache<unknown>, 'upsert' | 'remove'> | undefined, isCurrent: () => boolean): Watch => {
    const w: Watch = { kind, informer, synced: false, stopped: false };
    const notify = (verb: 'add' | 'update' | 'delete') => (o: KubernetesObject): void => {
      // The handlers get the object the informer keeps: trimming it trims the cache (node-transform.ts).
      if (kind === 'node') transformNode(o);
      else transformCached(o);
      if (!isCurrent()) return;
      if (verb === 'delete') cache()?.remove(o);
      else cache()?.upsert(o);
      const spec = (o as { spec?: { nodeName?: string } }).spec;
      onChange(kind, { name: o.metadata?.name ?? '', ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}), ...(spec?.nodeName ? { nodeName: spec.nodeName } : {}) });
    };
    for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, notify(verb));
    informer.on('connect', () => {
      w.synced = true;
    });
    informer.on('error', (e: unknown) => {
      // Stopping aborts the watches: that is not a failure to report.
      if (stopped || w.stopped) return;
      opts.onError?.(kind, e);
      const t = setTimeout(() => {
        timers.delete(t);
        if (!stopped && !w.stopped) informer.start().catch((err: unknown) => opts.onError?.(kind, err));
      }, opts.restartDelayMs ?? 2000);
      timers.add(t);
    });
    return w;
  };
  const begin = async (w: Watch): Promise<void> => {
    await w.informer.start();
    w.synced = true;
  };
  /** Starts a replacement informer; one whose first list fails is stopped (no orphan left retrying its watch). */
  const beginOrDrop = async (w: Watch): Promise<void> => {
    try {
      await begin(w);
    } catch (e) {
      await end(w).catch(() => undefined);
      throw e;
    }
  };
  const end = async (w: Watch | undefined): Promise<void> => {
    if (w === undefined) return;
    w.stopped = true;
    await w.informer.stop();
  };

  const policies = new IndexedCache(same<NodeAttestationPolicy>, (p) => p.metadata.name, () => policyWatch.informer.list());
  const policyWatch: Watch = watch('policy', makeInformer(kc, `/apis/${GROUP}/${VERSION}/nodeattestationpolicies`, list('nodeattestationpolicies')), () => policies, () => true);
  // ConfigMaps are read from the informer by name; nothing lists them.
  const configMapWatch: Watch = watch('configmap', makeInformer(kc, '/api/v1/configmaps', () => listInPages((cont) => core.listConfigMapForAllNamespaces({ limit, ...(cont === undefined ? {} : { _continue: cont }) }), transformCached)), () => undefined, () => true);

  // The scoped kinds: the current informer (none when nothing is in scope) and its cache.
  let scope: CacheScope = opts.scope ?? { kind: 'fleet' };
  let started = false;
  let naWatch: Watch | undefined;
  let attestations = naCache(undefined);
  let nodeWatch: Watch | undefined;
  let nodes = nodeCache(undefined);
  let naSelector: string | null | undefined = null; // null: no NodeAttestation informer yet
  let rescoping: Promise<void> = Promise.resolve();

  const makeNaWatch = (selector: string | undefined): Watch => {
    const w: Watch = watch('nodeattestation', makeInformer(kc, `/apis/${GROUP}/${VERSION}/nodeattestations`, list('nodeattestations', selector), selector), () => attestations, () => naWatch === w);
    return w;
  };
  const makeNodeWatch = (): Watch => {
    const w: Watch = watch('node', makeInformer(kc, '/api/v1/nodes', () => listInPages((cont) => core.listNode({ limit, ...(cont === undefined ? {} : { _continue: cont }) }), transformNode)), () => nodes, () => nodeWatch === w);
    return w;
  };

  /** Brings the scoped informers to `scope`: new ones list first, then replace the old ones. */
  const apply = async (): Promise<void> => {
    if (!started || stopped) return;
    const want = scope;
    const selector = want.kind === 'fleet' ? '' : shardSelector(want.shards);
    if (selector !== naSelector) {
      const next = selector === undefined ? undefined : makeNaWatch(selector === '' ? undefined : selector);
      if (next !== undefined) await beginOrDrop(next);
      const old = naWatch;
      naWatch = next;
      attestations = naCache(next);
      naSelector = selector;
      await end(old);
    }
    if (want.kind === 'fleet' && nodeWatch === undefined) {
      const next = makeNodeWatch();
      await beginOrDrop(next);
      nodeWatch = next;
      nodes = nodeCache(next);
    } else if (want.kind === 'shards' && nodeWatch !== undefined) {
      const old = nodeWatch;
      nodeWatch = undefined;
      nodes = nodeCache(undefined);
      await end(old);
    }
  };
  const rescope = (): Promise<void> => {
    rescoping = rescoping.catch(() => undefined).then(apply);
    return rescoping;
  };

  return {
    async start(): Promise<void> {
      stopped = false;
      started = true;
      await Promise.all([begin(policyWatch), begin(configMapWatch), rescope()]);
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await rescoping.catch(() => undefined);
      await Promise.all([policyWatch, configMapWatch, naWatch, nodeWatch].map(end));
    },
    scopeTo(next: CacheScope): Promise<void> {
      scope = next;
      return rescope();
    },
    scope: () => scope,
    // Callers get the shared arrays: read-only by contract (Caches).
    policies: () => policies.list(),
    nodeAttestations: () => attestations.list(),
    nodes: () => nodes.list(),
    nodeAttestation: (nodeName) => attestations.get(nodeName),
    node: (name) => nodes.get(name),
    configMap(namespace: string, name: string): ConfigMapView | undefined {
      const cm: { metadata?: { resourceVersion?: string; annotations?: Record<string, string> }; data?: Record<string, string>; binaryData?: Record<string, string> } | undefined =
        configMapWatch.informer.get(name, namespace);
      if (cm === undefined) return undefined;
      const annotations = cm.metadata?.annotations;
      return {
        metadata: { name, namespace, resourceVersion: cm.metadata?.resourceVersion ?? '', ...(annotations ? { annotations } : {}) },
        data: cm.data ?? {},
        ...(cm.binaryData ? { binaryData: cm.binaryData } : {}),
      };
    },
    synced: () => [policyWatch, configMapWatch, naWatch, nodeWatch].every((w) => w === undefined || w.synced)
      && (scope.kind === 'shards' || nodeWatch !== undefined) && naSelector === (scope.kind === 'fleet' ? '' : shardSelector(scope.shards)),
  };
}
